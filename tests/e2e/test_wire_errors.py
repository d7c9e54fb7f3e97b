"""Malformed and over-limit requests get SageMaker's error shapes, never a 500 or a lost job."""

from __future__ import annotations

import base64
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


def _token(doc: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


@pytest.mark.parametrize("depth", [1_000, 100_000])
@pytest.mark.parametrize("bracket", ["[]", "{}"])
@pytest.mark.parametrize("target", ["CreateTrainingJob", "DescribeTrainingJob", "ListTrainingJobs"])
def test_deeply_nested_bodies_are_serialization_exceptions(
    server: ServerProcess, depth: int, bracket: str, target: str
) -> None:
    """Issue 6: thousands of levels answered 500 (RecursionError), and Create said it may have created."""
    opening, closing = (bracket[0], bracket[1]) if bracket == "[]" else ('{"a":', "}")
    nested = opening * depth + ("1" if bracket == "{}" else "") + closing * depth
    body = f'{{"TrainingJobName": "x", "Tags": {nested}}}'.encode()
    response = _post(server.url, f"SageMaker.{target}", body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "SerializationException"
    # 100,000 levels are also more values than any request holds: either refusal is right.
    assert "nested" in response.json()["message"] or "JSON values" in response.json()["message"]
    assert "may have been created" not in response.text


@pytest.mark.parametrize(
    "doc",
    [
        {"s": "CreationTime", "a": True, "k": [{"x": 1}, "id"]},
        {"s": "CreationTime", "a": True, "k": ["not a time", "id"]},
        {"s": "CreationTime", "a": True, "k": [1e300, 7]},
        {"s": "CreationTime", "a": True, "k": [10**400, "id"]},
        {"s": "CreationTime", "a": True, "k": "ab"},
        {"s": "CreationTime", "a": "yes", "k": [1.0, "id"]},
        {"s": ["CreationTime"], "a": True, "k": [1.0, "id"]},
        {"s": "CreationTime", "a": True, "k": [1.0, "\ud800"]},
        [1, 2, 3],
        7,
        "[" * 5000 + "]" * 5000,
    ],
)
def test_forged_page_tokens_are_validation_errors_naming_the_token(
    server: ServerProcess, doc: object
) -> None:
    """Issue 6: a token whose fields had the wrong type answered 500."""
    token = _token(doc) if not isinstance(doc, str) else base64.urlsafe_b64encode(doc.encode()).decode()
    body = json.dumps({"NextToken": token}).encode()
    response = _post(server.url, "SageMaker.ListTrainingJobs", body)
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "ValidationException"
    assert "nexttoken" in response.json()["message"].lower()


@pytest.mark.parametrize("offset", ["9" * 30, "99999999999999999999", "9" * 5000, "1e9", "-5", "x", "٣"])
def test_bad_log_offsets_are_json_400s(server: ServerProcess, offset: str) -> None:
    """Issue 6: a huge offset answered a plain-text 500 from the log route."""
    response = httpx.get(f"{server.url}/trainplane/v1/training-jobs/any/logs", params={"offset": offset})
    assert response.status_code == 400, response.text
    assert response.json()["__type"] == "ValidationException"
    assert response.json()["trainplaneError"]["field"] == "offset"


def test_largest_possible_offset_of_a_missing_job_is_not_found(server: ServerProcess) -> None:
    response = httpx.get(f"{server.url}/trainplane/v1/training-jobs/ghost/logs?offset={2**63 - 1}")
    assert response.status_code == 404 and response.json()["__type"] == "ResourceNotFound"


def test_unknown_native_routes_and_kinds_answer_json(server: ServerProcess) -> None:
    for path, status in [
        ("/nope", 404),
        ("/trainplane/v1/bogus-jobs/a/logs", 404),
        ("/trainplane/v1/compilation-jobs/a/logs", 404),
    ]:
        response = httpx.get(server.url + path)
        assert response.status_code == status, path
        assert set(response.json()) >= {"__type", "message"}
    assert httpx.get(server.url + "/").status_code == 405
    assert httpx.get(server.url + "/").json()["__type"] == "MethodNotAllowed"


def test_echoed_values_are_cut_to_a_short_prefix(server: ServerProcess) -> None:
    """Issue 6: a 200 MB value was echoed back in the error."""
    huge = "x" * 1_000_000
    body = json.dumps({"TrainingJobName": huge}).encode()
    response = _post(server.url, "SageMaker.DescribeTrainingJob", body)
    assert response.status_code == 400
    assert "x" * 100 + "..." in response.json()["message"]
    assert len(response.content) < 2_000
    many = json.dumps({"TrainingJobName": "ok", "Tags": [{"Key": huge[:300_000], "Value": "v"}] * 5}).encode()
    response = _post(server.url, "SageMaker.CreateTrainingJob", many)
    assert response.status_code == 400 and len(response.content) < 20_000


def test_null_members_are_absent_as_on_aws(server: ServerProcess, job_request: Any) -> None:
    """A JSON null for an optional member means "not given" (found by the fuzzer: it was a 500)."""
    nulls = {key: None for key in ("SortBy", "SortOrder", "MaxResults", "NextToken", "StatusEquals")}
    response = _post(server.url, "SageMaker.ListTrainingJobs", json.dumps(nulls).encode())
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["TrainingJobSummaries"], list)
    request = job_request()
    request["HyperParameters"] = None
    request["Tags"] = None
    request["StoppingCondition"] = {"MaxRuntimeInSeconds": 600, "MaxWaitTimeInSeconds": None}
    created = _post(server.url, "SageMaker.CreateTrainingJob", json.dumps(request).encode())
    assert created.status_code == 200, created.text
    described = _post(
        server.url,
        "SageMaker.DescribeTrainingJob",
        json.dumps({"TrainingJobName": request["TrainingJobName"]}).encode(),
    ).json()
    assert described["StoppingCondition"]["MaxRuntimeInSeconds"] == 600
    assert described.get("HyperParameters", {}) == {}
    stop_every_job(sagemaker_client(server.url))
