"""`--generate-cli-skeleton` prints valid JSON of the input or output shape, without a server."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import httpx
import pytest

from trainplane.cli import arguments, skeleton
from trainplane.cli.main import main


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"the skeleton must not contact a server: {request.url}")


def _skeleton(capsys: pytest.CaptureFixture[str], *argv: str) -> object:
    assert main(list(argv), transport=httpx.MockTransport(_no_network)) == 0
    return json.loads(capsys.readouterr().out)


def test_input_skeleton_has_every_member_with_placeholders(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = _skeleton(capsys, "create-training-job", "--generate-cli-skeleton")
    assert isinstance(value, dict)
    assert list(value) == list(arguments.input_shape("CreateTrainingJob").members)
    assert value["TrainingJobName"] == ""
    assert value["HyperParameters"] == {"KeyName": ""}
    assert value["EnableNetworkIsolation"] is True
    assert value["StoppingCondition"]["MaxRuntimeInSeconds"] == 0
    assert isinstance(value["InputDataConfig"], list) and len(value["InputDataConfig"]) == 1
    # Enums get their first value, so the skeleton is the same every time.
    assert value["AlgorithmSpecification"]["TrainingInputMode"] == "Pipe"


def test_output_skeleton_uses_member_names(capsys: pytest.CaptureFixture[str]) -> None:
    value = _skeleton(capsys, "describe-training-job", "--generate-cli-skeleton", "output")
    assert isinstance(value, dict)
    assert value["TrainingJobName"] == "TrainingJobName"
    assert value["CreationTime"] == skeleton.EPOCH_TEXT
    assert value["ModelArtifacts"] == {"S3ModelArtifacts": "S3ModelArtifacts"}
    assert value["SecondaryStatusTransitions"][0]["StatusMessage"] == "StatusMessage"


def test_operation_without_output_has_an_empty_skeleton(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _skeleton(capsys, "stop-training-job", "--generate-cli-skeleton", "output") == {}


def test_list_input_skeleton_is_accepted_back_as_cli_input_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    value = _skeleton(capsys, "list-training-jobs", "--generate-cli-skeleton", "input")
    seen: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"TrainingJobSummaries": []})

    code = main(
        ["list-training-jobs", "--cli-input-json", json.dumps(value), "--output", "json"],
        transport=httpx.MockTransport(handler),
    )
    assert code == 0
    assert seen[0]["SortBy"] == "Name"
    assert set(seen[0]) == set(arguments.input_shape("ListTrainingJobs").members)


def test_recursive_shapes_terminate() -> None:
    shape = arguments.input_shape("CreateTrainingJob")
    assert json.dumps(skeleton.skeleton(shape, use_member_names=True))


def test_skeleton_runs_as_a_real_subprocess_with_python_m() -> None:
    """The lead's end-to-end tests drive the CLI this way."""
    env = {**os.environ, "TRAINPLANE_ENDPOINT_URL": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "trainplane.cli.main", "describe-training-job", "--generate-cli-skeleton"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"TrainingJobName": ""}
