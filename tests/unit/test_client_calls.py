"""The Client over httpx.MockTransport (no server runs yet): requests, typed answers, errors."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

import trainplane.client
from trainplane.client import Client, TrainingJob
from trainplane.domain import errors

ENDPOINT = "http://trainplane.test"

DESCRIBE_BODY: dict[str, Any] = {
    "TrainingJobName": "mnist-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/mnist-1",
    "TrainingJobStatus": "Completed",
    "SecondaryStatus": "Completed",
    "CreationTime": 1704110400.0,
    "TrainingStartTime": 1704110401.25,
    "TrainingEndTime": 1704110460.0,
    "LastModifiedTime": 1704110460.0,
    "ModelArtifacts": {"S3ModelArtifacts": "file:///data/mnist-1/output/model.tar.gz"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    "SecondaryStatusTransitions": [
        {
            "Status": "Starting",
            "StartTime": 1704110400.0,
            "EndTime": 1704110401.25,
            "StatusMessage": "Starting the training job",
        },
        {
            "Status": "Training",
            "StartTime": 1704110401.25,
            "EndTime": 1704110459.0,
            "StatusMessage": "Training in progress",
        },
        {"Status": "Completed", "StartTime": 1704110460.0, "StatusMessage": "Done"},
    ],
    "FinalMetricDataList": [{"MetricName": "loss", "Value": 0.25, "Timestamp": 1704110459.0}],
}


def _json(body: dict[str, Any], status_code: int = 200) -> httpx.Response:
    return httpx.Response(
        status_code,
        content=json.dumps(body).encode(),
        headers={"Content-Type": "application/x-amz-json-1.1"},
    )


def _client(handler: Callable[[httpx.Request], httpx.Response]) -> Client:
    return Client(ENDPOINT, transport=httpx.MockTransport(handler))


def test_client_public_names_are_pinned() -> None:
    assert trainplane.client.__all__ == [
        "Client",
        "JobKindWire",
        "JobPage",
        "LogChunk",
        "MetricValue",
        "SigningKeys",
        "StatusTransition",
        "TrainingJob",
        "TrainingJobPage",
        "TrainingJobSummary",
    ]


def test_call_posts_json11_to_root_with_the_target_with_mock_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json(DESCRIBE_BODY)

    with _client(handler) as client:
        assert client.call("DescribeTrainingJob", {"TrainingJobName": "mnist-1"}) == DESCRIBE_BODY
    (request,) = seen
    assert request.method == "POST"
    assert request.url == f"{ENDPOINT}/"
    assert request.headers["X-Amz-Target"] == "SageMaker.DescribeTrainingJob"
    assert request.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert "Authorization" not in request.headers
    assert json.loads(request.content) == {"TrainingJobName": "mnist-1"}


def test_describe_returns_a_frozen_job_with_aware_times_with_mock_transport() -> None:
    with _client(lambda request: _json(DESCRIBE_BODY)) as client:
        job = client.describe_training_job("mnist-1")
    assert isinstance(job, TrainingJob)
    assert job.status == "Completed"
    assert job.is_terminal
    assert job.created_at == datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
    assert job.training_started_at is not None and job.training_started_at.tzinfo is not None
    assert job.model_artifacts == "file:///data/mnist-1/output/model.tar.gz"
    assert [t.status for t in job.transitions] == ["Starting", "Training", "Completed"]
    assert job.transitions[-1].ended_at is None
    assert job.final_metrics[0].name == "loss" and job.final_metrics[0].value == 0.25
    assert job.raw == DESCRIBE_BODY
    with pytest.raises(dataclasses.FrozenInstanceError):
        job.status = "Failed"  # type: ignore[misc]


def test_unknown_job_raises_the_domain_not_found_with_mock_transport() -> None:
    body = {
        "__type": "ValidationException",
        "message": "Requested resource not found.",
        "trainplaneError": {"class": "NotFound", "kind": "training job", "name": "ghost"},
    }
    with _client(lambda request: _json(body, 400)) as client, pytest.raises(errors.NotFound) as caught:
        client.describe_training_job("ghost")
    assert caught.value.name == "ghost"
    assert caught.value.kind == "training job"
    assert caught.value.message == "Requested resource not found."


def test_create_returns_the_arn_with_mock_transport() -> None:
    arn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/a"

    def handler(request: httpx.Request) -> httpx.Response:
        assert json.loads(request.content)["TrainingJobName"] == "a"
        return _json({"TrainingJobArn": arn})

    with _client(handler) as client:
        assert client.create_training_job({"TrainingJobName": "a"}) == arn


def test_list_follows_next_token_across_pages_with_mock_transport() -> None:
    requests: list[dict[str, Any]] = []

    def summary(name: str) -> dict[str, Any]:
        return {
            "TrainingJobName": name,
            "TrainingJobArn": f"arn:{name}",
            "CreationTime": 1704110400,
            "TrainingJobStatus": "InProgress",
            "SecondaryStatus": "Training",
        }

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        requests.append(body)
        if "NextToken" not in body:
            return _json({"TrainingJobSummaries": [summary("a"), summary("b")], "NextToken": "2"})
        return _json({"TrainingJobSummaries": [summary("c")]})

    with _client(handler) as client:
        names = [s.name for s in client.list_training_jobs(StatusEquals="InProgress")]
    assert names == ["a", "b", "c"]
    assert requests == [
        {"StatusEquals": "InProgress"},
        {"StatusEquals": "InProgress", "NextToken": "2"},
    ]


def test_stop_accepts_an_empty_200_body_with_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Amz-Target"] == "SageMaker.StopTrainingJob"
        return httpx.Response(200, content=b"")

    with _client(handler) as client:
        client.stop_training_job("a")


def test_malformed_answer_is_an_error_not_a_key_error_with_mock_transport() -> None:
    with (
        _client(lambda request: _json({"Nope": 1})) as client,
        pytest.raises(errors.TrainplaneError, match="unexpected DescribeTrainingJob response"),
    ):
        client.describe_training_job("a")


def test_read_log_returns_bytes_and_the_next_offset_with_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/trainplane/v1/training-jobs/a/logs"
        assert request.url.params["offset"] == "5"
        assert request.url.params["follow"] == "false"
        return httpx.Response(200, content=b"epoch 1\n", headers={"X-Trainplane-Next-Offset": "13"})

    with _client(handler) as client:
        chunk = client.read_log("a", 5)
    assert chunk.data == b"epoch 1\n"
    assert chunk.next_offset == 13


def test_follow_log_streams_chunks_as_they_arrive_with_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["follow"] == "true"
        return httpx.Response(200, stream=httpx.ByteStream(b"line 1\nline 2\n"))

    with _client(handler) as client:
        assert b"".join(client.follow_log("a")) == b"line 1\nline 2\n"


def test_log_of_unknown_job_raises_not_found_with_mock_transport() -> None:
    body = {"__type": "ResourceNotFound", "message": "training job 'x' does not exist"}
    with _client(lambda request: _json(body, 404)) as client:
        with pytest.raises(errors.NotFound, match="does not exist"):
            client.read_log("x", 0)
        with pytest.raises(errors.NotFound):
            list(client.follow_log("x"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_connection_refused_is_unavailable_naming_the_endpoint() -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    with Client(endpoint) as client:
        with pytest.raises(errors.Unavailable) as caught:
            client.describe_training_job("a")
        assert client.health() is False
    assert endpoint in caught.value.message


def test_health_is_true_on_200_with_mock_transport() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200 if request.url.path == "/healthz" else 404)

    with _client(handler) as client:
        assert client.health() is True


def test_with_keys_every_request_is_sigv4_signed_for_sagemaker() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return _json({"TrainingJobSummaries": []})

    keys = trainplane.client.SigningKeys("TPAKEXAMPLEEXAMPLE00", "secret")
    with Client(ENDPOINT, keys=keys, region="eu-west-1", transport=httpx.MockTransport(handler)) as client:
        list(client.list_training_jobs())
    authorization = seen[0].headers["Authorization"]
    assert authorization.startswith("AWS4-HMAC-SHA256 Credential=TPAKEXAMPLEEXAMPLE00/")
    assert "/eu-west-1/sagemaker/aws4_request" in authorization
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-target," in authorization
    assert "X-Amz-Date" in seen[0].headers
