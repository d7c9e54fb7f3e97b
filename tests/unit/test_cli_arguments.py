"""Options generated from the botocore input shape: names, types, JSON, file://, --cli-input-json."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from trainplane.cli import arguments
from trainplane.cli.main import build_parser, main

ARN = "arn:aws:sagemaker:us-east-1:000000000000:training-job/a"
REQUIRED = [
    "--training-job-name",
    "a",
    "--role-arn",
    "arn:aws:iam::000000000000:role/r",
    "--output-data-config",
    '{"S3OutputPath": "file:///tmp/out"}',
]


class Recorder:
    """A MockTransport handler that keeps every SageMaker request body and answers `answer`."""

    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer
        self.bodies: list[tuple[str, dict[str, Any]]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        target = request.headers["X-Amz-Target"].removeprefix("SageMaker.")
        self.bodies.append((target, json.loads(request.content)))
        return httpx.Response(200, json=self.answer)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _flags(command: str) -> set[str]:
    parser = build_parser(selected=command)
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    sub = subparsers.choices[command]
    return {flag for action in sub._actions for flag in action.option_strings}


def test_create_options_are_the_aws_cli_names() -> None:
    flags = _flags("create-training-job")
    assert {
        "--training-job-name",
        "--algorithm-specification",
        "--role-arn",
        "--output-data-config",
        "--hyper-parameters",
        "--enable-network-isolation",
        "--no-enable-network-isolation",
        "--enable-inter-container-traffic-encryption",
        "--cli-input-json",
        "--generate-cli-skeleton",
        "--endpoint-url",
        "--output",
    } <= flags


def test_list_options_include_paging_and_filters() -> None:
    flags = _flags("list-training-jobs")
    assert {
        "--max-results",
        "--next-token",
        "--status-equals",
        "--creation-time-after",
        "--max-items",
        "--name-contains",
        "--sort-by",
    } <= flags


def test_only_the_selected_command_loads_shape_options() -> None:
    assert "--training-job-name" not in _flags("logs") - {"--help"}
    assert _flags("describe-training-job") >= {"--training-job-name"}


def test_structures_lists_and_maps_take_json_with_mock_transport() -> None:
    recorder = Recorder({"TrainingJobArn": ARN})
    code = main(
        [
            "create-training-job",
            *REQUIRED,
            "--hyper-parameters",
            '{"epochs": "3"}',
            "--input-data-config",
            '[{"ChannelName": "train", "DataSource": {}}]',
            "--enable-network-isolation",
        ],
        transport=recorder.transport,
    )
    assert code == 0
    ((target, body),) = recorder.bodies
    assert target == "CreateTrainingJob"
    assert body["OutputDataConfig"] == {"S3OutputPath": "file:///tmp/out"}
    assert body["HyperParameters"] == {"epochs": "3"}
    assert body["InputDataConfig"][0]["ChannelName"] == "train"
    assert body["EnableNetworkIsolation"] is True


def test_file_uri_reads_json_from_a_file_with_mock_transport(tmp_path: Path) -> None:
    spec = tmp_path / "algo.json"
    spec.write_text(json.dumps({"TrainingImage": "trainplane/python", "TrainingInputMode": "File"}))
    recorder = Recorder({"TrainingJobArn": ARN})
    code = main(
        ["create-training-job", *REQUIRED, "--algorithm-specification", f"file://{spec}"],
        transport=recorder.transport,
    )
    assert code == 0
    assert recorder.bodies[0][1]["AlgorithmSpecification"]["TrainingImage"] == "trainplane/python"


def test_integers_and_timestamps_are_converted_with_mock_transport() -> None:
    recorder = Recorder({"TrainingJobSummaries": []})
    code = main(
        [
            "list-training-jobs",
            "--max-results",
            "7",
            "--creation-time-after",
            "2024-01-01T12:00:00Z",
            "--status-equals",
            "Completed",
        ],
        transport=recorder.transport,
    )
    assert code == 0
    body = recorder.bodies[0][1]
    assert body == {"MaxResults": 7, "CreationTimeAfter": 1704110400.0, "StatusEquals": "Completed"}


@pytest.mark.parametrize(
    "bad",
    [
        ["list-training-jobs", "--max-results", "seven"],
        ["create-training-job", *REQUIRED[:4], "--output-data-config", "{not json"],
        ["create-training-job", *REQUIRED[:4], "--output-data-config", "[1, 2]"],
        ["create-training-job", *REQUIRED[:4], "--output-data-config", "file:///no/such/file"],
    ],
)
def test_bad_values_are_usage_errors(bad: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(bad, transport=Recorder({}).transport) == 2
    assert "error:" in capsys.readouterr().err


def test_missing_required_member_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    recorder = Recorder({})
    assert main(["create-training-job", "--training-job-name", "a"], transport=recorder.transport) == 2
    err = capsys.readouterr().err
    assert "--role-arn" in err and "--output-data-config" in err
    assert recorder.bodies == []


def test_cli_input_json_fills_the_request_and_options_override_it_with_mock_transport(
    tmp_path: Path,
) -> None:
    request = {
        "TrainingJobName": "from-json",
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "OutputDataConfig": {"S3OutputPath": "file:///tmp/out"},
        "HyperParameters": {"lr": "0.1"},
    }
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    recorder = Recorder({"TrainingJobArn": ARN})
    code = main(
        ["create-training-job", "--cli-input-json", f"file://{path}", "--training-job-name", "b"],
        transport=recorder.transport,
    )
    assert code == 0
    assert recorder.bodies[0][1] == {**request, "TrainingJobName": "b"}


def test_cli_input_json_inline_alone_is_enough_with_mock_transport() -> None:
    recorder = Recorder({"TrainingJobSummaries": []})
    code = main(
        ["list-training-jobs", "--cli-input-json", '{"NameContains": "mnist"}'],
        transport=recorder.transport,
    )
    assert code == 0
    assert recorder.bodies[0][1] == {"NameContains": "mnist"}


def test_cli_input_json_with_an_unknown_member_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        ["describe-training-job", "--cli-input-json", '{"TrainingJobName": "a", "Bogus": 1}'],
        transport=Recorder({}).transport,
    )
    assert code == 2
    assert "Bogus" in capsys.readouterr().err


def test_help_text_is_a_plain_first_sentence() -> None:
    shape = arguments.input_shape("CreateTrainingJob").members["TrainingJobName"]
    assert arguments.summary(shape.documentation) == "The name of the training job."


def test_help_shows_env_vars_of_shared_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["describe-training-job", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "TRAINPLANE_ENDPOINT_URL" in out
    assert "TRAINPLANE_OUTPUT" in out
    assert "--training-job-name" in out
