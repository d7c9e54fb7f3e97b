"""The Authenticator seam, through a real server configured with bearer tokens and real clients.

A refused request gets SageMaker's own error shape (boto3 reads UnrecognizedClientException), and the
tenant a token names scopes every job: another tenant's job is exactly as absent as a job never made.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import sagemaker_client
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

TOKENS = {"token-of-team-a": "team-a", "token-of-team-b": "team-b"}


def client_with_token(url: str, token: str | None) -> Any:
    """boto3 signs with SigV4; a before-send hook swaps the signature for the bearer token."""
    client = sagemaker_client(url)
    if token is not None:

        def add_token(request: Any, **_: Any) -> None:
            del request.headers["Authorization"]
            request.headers["Authorization"] = f"Bearer {token}"

        client.meta.events.register("before-send.sagemaker.*", add_token)
    return client


@pytest.fixture(scope="module")
def guarded_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("guarded"), env={"TRAINPLANE_AUTH_TOKENS": json.dumps(TOKENS)}
    )
    process.start()
    yield process
    process.kill()  # the tests' jobs exit by themselves and were waited for


def error_of(call: Callable[[], object]) -> tuple[int, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"]


@pytest.mark.parametrize("token", [None, "not-a-token-we-issued"])
def test_a_request_without_a_known_token_is_refused_in_sagemakers_shape(
    guarded_server: ServerProcess, token: str | None
) -> None:
    sm = client_with_token(guarded_server.url, token)
    assert error_of(lambda: sm.list_training_jobs()) == (400, "UnrecognizedClientException")
    assert error_of(lambda: sm.describe_training_job(TrainingJobName="any")) == (
        400,
        "UnrecognizedClientException",
    )


def test_the_tenant_a_token_names_scopes_every_job(
    guarded_server: ServerProcess, job_request: Callable[..., dict[str, Any]]
) -> None:
    team_a = client_with_token(guarded_server.url, "token-of-team-a")
    team_b = client_with_token(guarded_server.url, "token-of-team-b")
    name = completed_job(team_a, job_request)

    never_made = error_of(lambda: team_b.describe_training_job(TrainingJobName="never-made"))
    assert error_of(lambda: team_b.describe_training_job(TrainingJobName=name)) == never_made
    assert error_of(lambda: team_b.stop_training_job(TrainingJobName=name)) == error_of(
        lambda: team_b.stop_training_job(TrainingJobName="never-made")
    )
    assert name not in names_listed(team_b)
    assert name in names_listed(team_a)


def completed_job(sm: Any, job_request: Callable[..., dict[str, Any]]) -> str:
    """The name of a job `sm` created that has run to Completed."""
    request = job_request("cooperative.py")
    request["Environment"]["EXIT_AFTER_STEPS"] = "1"
    name: str = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed",
        60,
        0.05,
        message=f"{name} Completed",
    )
    return name


def names_listed(sm: Any) -> list[str]:
    return [s["TrainingJobName"] for s in sm.list_training_jobs(MaxResults=100)["TrainingJobSummaries"]]


def test_the_native_log_route_uses_the_same_authenticator(
    guarded_server: ServerProcess, job_request: Callable[..., dict[str, Any]]
) -> None:
    team_a = client_with_token(guarded_server.url, "token-of-team-a")
    name = completed_job(team_a, job_request)
    url = f"{guarded_server.url}/trainplane/v1/training-jobs/{name}/logs"

    def get(token: str | None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(url, headers=headers)

    refused = get(None)
    assert refused.status_code == 401
    assert refused.json()["__type"] == "UnrecognizedClientException"
    assert get("token-of-team-b").status_code == 404
    mine = get("token-of-team-a")
    assert mine.status_code == 200
    assert "training started" in mine.text
