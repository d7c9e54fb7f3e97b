"""Malformed and over-limit requests get SageMaker's error shapes, never a 500 or a lost job."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support.server import ServerProcess

JSON_11 = "application/x-amz-json-1.1"


def _post(url: str, target: str, content: bytes) -> httpx.Response:
    headers = {"X-Amz-Target": target, "Content-Type": JSON_11}
    return httpx.post(url, headers=headers, content=content)


def test_unknown_operation_is_named(server: ServerProcess) -> None:
    response = _post(server.url, "SageMaker.CreateEndpoint", b"{}")
    assert response.status_code == 400
    assert response.json()["__type"] == "UnknownOperationException"
    assert response.headers["x-amzn-RequestId"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'{"TrainingJobName": 7}', b'{"x": NaN}'])
def test_malformed_bodies_are_serialization_or_validation_errors(server: ServerProcess, body: bytes) -> None:
    response = _post(server.url, "SageMaker.DescribeTrainingJob", body)
    assert response.status_code == 400
    assert response.json()["__type"] in ("SerializationException", "ValidationException")
    assert "Traceback" not in response.text


def test_create_with_wrong_types_creates_nothing(server: ServerProcess, job_request: Any) -> None:
    request = job_request()
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": "soon"}
    response = _post(server.url, "SageMaker.CreateTrainingJob", json.dumps(request).encode())
    assert response.status_code == 400
    assert response.json()["__type"] == "SerializationException"
    assert "stoppingCondition.maxRuntimeInSeconds" in response.json()["message"]
    described = _post(
        server.url,
        "SageMaker.DescribeTrainingJob",
        json.dumps({"TrainingJobName": request["TrainingJobName"]}).encode(),
    )
    assert described.json()["message"] == "Requested resource not found."


def test_health_and_log_routes(server: ServerProcess) -> None:
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    missing = httpx.get(f"{server.url}/trainplane/v1/training-jobs/nope/logs")
    assert missing.status_code == 404 and missing.json()["__type"] == "ResourceNotFound"
    bad = httpx.get(f"{server.url}/trainplane/v1/training-jobs/nope/logs?offset=-1")
    assert bad.status_code == 400


def test_active_job_limit_is_resource_limit_exceeded(tmp_path: Path, job_request: Any) -> None:
    limited = ServerProcess(tmp_path / "data", "--max-active-jobs", "1")
    sm = sagemaker_client(limited.start())
    try:
        first = job_request()
        sm.create_training_job(**first)
        with pytest.raises(sm.exceptions.ResourceLimitExceeded) as caught:
            sm.create_training_job(**job_request())
        assert "TRAINPLANE_MAX_ACTIVE_JOBS" in caught.value.response["Error"]["Message"]
    finally:
        stop_every_job(sm)
        limited.kill()
