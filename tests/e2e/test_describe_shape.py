"""DescribeTrainingJob holds every member botocore marks required, in every state (issue 11).

The SageMaker Python SDK indexes these without .get(): `model_data` reads ModelArtifacts while the
job runs, `Estimator.attach` reads OutputDataConfig.KmsKeyId, `training_job_analytics` reads
AlgorithmSpecification.MetricDefinitions.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import botocore.session
import httpx

from tests.support.server import ServerProcess
from tests.support.waiting import wait_until


def _missing_required(shape: Any, value: Any, path: str) -> Iterator[str]:
    """Every required member absent anywhere in `value`, by its path."""
    if shape.type_name == "structure" and isinstance(value, dict):
        for name in shape.required_members:
            if name not in value:
                yield f"{path}.{name}"
        for name, member in value.items():
            if name in shape.members:
                yield from _missing_required(shape.members[name], member, f"{path}.{name}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            yield from _missing_required(shape.member, item, f"{path}[{index}]")


def _describe_raw(server: ServerProcess, name: str) -> dict[str, Any]:
    response = httpx.post(
        server.url,
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
        content=json.dumps({"TrainingJobName": name}),
    )
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


def _output_shape() -> Any:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return model.operation_model("DescribeTrainingJob").output_shape


def test_every_required_member_is_there_while_running_and_after_a_stop(
    server: ServerProcess, sm: Any, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    request = job_request()
    del request["AlgorithmSpecification"]["MetricDefinitions"]  # given neither, both still come back
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20, message="job started")

    running = _describe_raw(server, name)
    assert running["TrainingJobStatus"] == "InProgress"
    assert list(_missing_required(_output_shape(), running, "")) == []
    where = f"file://{tmp_path / 'output'}/{name}/output/model.tar.gz"
    assert running["ModelArtifacts"] == {"S3ModelArtifacts": where}  # where it will be, from the start
    assert running["TrainplaneDetails"]["ModelPackaged"] is False
    assert running["OutputDataConfig"]["KmsKeyId"] == ""
    assert running["AlgorithmSpecification"]["MetricDefinitions"] == []
    assert running["EnableNetworkIsolation"] is False

    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: _describe_raw(server, name)["TrainingJobStatus"] == "Stopped", 30, 0.05)
    stopped = _describe_raw(server, name)
    assert list(_missing_required(_output_shape(), stopped, "")) == []
    assert stopped["ModelArtifacts"] == {"S3ModelArtifacts": where}
    assert stopped["TrainplaneDetails"]["ModelPackaged"] is True
    assert Path(where.removeprefix("file://")).is_file()
    # boto3 parses the same document into its own shapes.
    parsed = sm.describe_training_job(TrainingJobName=name)
    assert parsed["ModelArtifacts"]["S3ModelArtifacts"] == where


def test_a_plain_path_output_gives_a_model_location_in_the_same_spelling(
    server: ServerProcess, sm: Any, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    """The SDK passes output_path as a plain path (it refuses file:// outside local mode)."""
    request = job_request(OutputDataConfig={"S3OutputPath": f"{tmp_path / 'plain'}/"})
    request["Environment"]["EXIT_AFTER_STEPS"] = "1"
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: _describe_raw(server, name)["TrainingJobStatus"] == "Completed", 30, 0.05)
    described = _describe_raw(server, name)
    location = described["ModelArtifacts"]["S3ModelArtifacts"]
    assert location == f"{tmp_path / 'plain'}/{name}/output/model.tar.gz"
    assert Path(location).is_file()
