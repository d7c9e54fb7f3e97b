"""Models: CreateModel/DescribeModel/ListModels/DeleteModel on a stopped job's artifact, with boto3."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import ROLE_ARN, sagemaker_client
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

GRACE_TAG = "trainplane:stop-grace-seconds"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("server"))
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def sm(server: ServerProcess) -> Any:
    return sagemaker_client(server.url)


def stopped_job(sm: Any, request: dict[str, Any], marker_dir: Path) -> dict[str, Any]:
    """Run the training job until its process runs, stop it, and return it Stopped."""
    sm.create_training_job(**request)
    name = request["TrainingJobName"]
    wait_until(lambda: marker_dir.exists() and any(marker_dir.glob("started-*")), 30, 0.02, message="started")
    sm.stop_training_job(TrainingJobName=name)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    job: dict[str, Any] = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Stopped"
    return job


def create_model(sm: Any, url: str, name: str | None = None) -> str:
    name = name or f"model-{uuid.uuid4().hex[:10]}"
    sm.create_model(
        ModelName=name,
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": "trainplane/python", "ModelDataUrl": url},
    )
    return name


def describe_raw(server: ServerProcess, name: str) -> dict[str, Any]:
    headers = {"X-Amz-Target": "SageMaker.DescribeModel", "Content-Type": "application/x-amz-json-1.1"}
    response = httpx.post(server.url, headers=headers, json={"ModelName": name})
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def test_a_model_of_a_stopped_jobs_saved_model_records_where_it_came_from(
    server: ServerProcess, sm: Any, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    request = job_request("cooperative.py")
    request["Environment"]["SIGNAL_COMPLETE"] = "1"
    job = stopped_job(sm, request, Path(request["Environment"]["TEST_MARKER_DIR"]))
    url = job["ModelArtifacts"]["S3ModelArtifacts"]

    name = create_model(sm, url)

    described = sm.describe_model(ModelName=name)
    assert described["PrimaryContainer"]["ModelDataUrl"] == url
    assert described["ModelArn"].endswith(f":model/{name.lower()}")
    details = describe_raw(server, name)["TrainplaneDetails"]
    assert details["SourceJobKind"] == "training" and details["SourceJobName"] == request["TrainingJobName"]
    assert details["SourceJobEnd"] == "user" and details["CompleteCheckpoint"] is True


def test_a_model_of_a_stop_that_saved_nothing_is_refused(
    sm: Any, job_request: Callable[..., dict[str, Any]]
) -> None:
    request = job_request("stubborn.sh", Tags=[{"Key": GRACE_TAG, "Value": "0.5"}])
    request["Environment"]["TEST_MARKER_DIR"] = str(Path(request["Environment"]["TEST_MARKER_DIR"]))
    sm.create_training_job(**request)
    name = request["TrainingJobName"]
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training", 30, 0.02
    )
    sm.stop_training_job(TrainingJobName=name)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    url = sm.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]

    with pytest.raises(sm.exceptions.ClientError) as refused:
        create_model(sm, url)

    error = refused.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert f"training job '{name}' was stopped (user) before it saved a model" in error["Message"]


def test_a_model_needs_an_artifact_trainplane_made(sm: Any, tmp_path: Path) -> None:
    (tmp_path / "model.tar.gz").write_bytes(b"not an archive")
    for url in (
        (tmp_path / "model.tar.gz").as_uri(),
        (tmp_path / "absent.tar.gz").as_uri(),
        "file:///etc/hosts",
    ):
        with pytest.raises(sm.exceptions.ClientError) as refused:
            create_model(sm, url)
        assert refused.value.response["Error"]["Code"] == "ValidationException"
        assert "primaryContainer.modelDataUrl" in refused.value.response["Error"]["Message"]


def test_models_list_describe_and_delete(sm: Any, job_request: Callable[..., dict[str, Any]]) -> None:
    request = job_request("cooperative.py")
    job = stopped_job(sm, request, Path(request["Environment"]["TEST_MARKER_DIR"]))
    url = job["ModelArtifacts"]["S3ModelArtifacts"]
    prefix = f"m{uuid.uuid4().hex[:8]}"
    names = [create_model(sm, url, f"{prefix}-{index}") for index in range(3)]

    with pytest.raises(sm.exceptions.ClientError) as taken:
        create_model(sm, url, names[0].upper())
    assert "Cannot create already existing model" in taken.value.response["Error"]["Message"]

    pages = sm.get_paginator("list_models").paginate(NameContains=prefix, PaginationConfig={"PageSize": 2})
    listed = [m["ModelName"] for page in pages for m in page["Models"]]
    assert listed == list(reversed(names))  # newest first, as SageMaker lists them
    by_name = sm.list_models(NameContains=prefix, SortBy="Name", SortOrder="Ascending")["Models"]
    assert [m["ModelName"] for m in by_name] == names

    sm.delete_model(ModelName=names[1])

    assert [m["ModelName"] for m in sm.list_models(NameContains=prefix)["Models"]] == [names[2], names[0]]
    with pytest.raises(sm.exceptions.ClientError) as gone:
        sm.describe_model(ModelName=names[1])
    assert gone.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(sm.exceptions.ClientError):
        sm.delete_model(ModelName=names[1])
