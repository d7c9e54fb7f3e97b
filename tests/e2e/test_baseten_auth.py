"""Baseten API keys from a real credentials file: `Api-Key` and `Bearer` both, 401 in Baseten's shape
otherwise; a tenant is a team, and a job boto3 created is seen and stopped through Baseten by its own
tenant and is, to another tenant, exactly as absent as a job never made."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.baseten import wire
from tests.e2e.conftest import JOBS_DIR, ROLE_ARN
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("credentials") / "credentials.json"
    return {
        "file": path,
        "a": wire.add_credential(path, "team-a", "baseten")["api_key"],
        "b": wire.add_credential(path, "team-b", "baseten")["api_key"],
        "aws": wire.add_credential(path, "team-a", "aws"),
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Any]) -> Iterator[ServerProcess]:
    process = wire.server(tmp_path_factory.mktemp("baseten-auth"), "--credentials-file", str(keys["file"]))
    process.start()
    yield process
    process.kill()


def _get(server: ServerProcess, path: str, authorization: str | None) -> httpx.Response:
    headers = {} if authorization is None else {"Authorization": authorization}
    return httpx.get(server.url + path, headers=headers)


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Api-Key",
        "Api-Key not-a-key-we-issued",
        "Bearer not-a-key",
        "Basic dXNlcjpwYXNz",
        "Api-Key " + "x" * 4000,
    ],
)
def test_a_request_without_a_known_key_is_401_in_basetens_shape(
    server: ServerProcess, authorization: str | None
) -> None:
    answer = _get(server, "/v1/training_projects", authorization)
    assert answer.status_code == 401
    assert answer.json()["code"] == "UNAUTHORIZED" and answer.json()["message"]


def test_api_key_and_bearer_are_both_accepted(server: ServerProcess, keys: dict[str, Any]) -> None:
    for authorization in (f"Api-Key {keys['a']}", f"Bearer {keys['a']}", f"api-key {keys['a']}"):
        assert _get(server, "/v1/training_projects", authorization).status_code == 200
    with wire.client(server.url, keys["a"]) as sdk:  # the SDK sends Bearer
        assert wire.upsert(sdk, "keyed").team_name == "team-a"


def test_a_team_is_its_tenant(server: ServerProcess, keys: dict[str, Any]) -> None:
    body = {"training_project": {"name": "team-scoped"}}
    mine = httpx.post(
        f"{server.url}/v1/teams/team-a/training_projects",
        json=body,
        headers={"Authorization": f"Api-Key {keys['a']}"},
    )
    assert mine.status_code == 200 and mine.json()["training_project"]["team_name"] == "team-a"
    theirs = httpx.post(
        f"{server.url}/v1/teams/team-b/training_projects",
        json=body,
        headers={"Authorization": f"Api-Key {keys['a']}"},
    )
    assert theirs.status_code == 404 and theirs.json()["code"] == "NOT_FOUND"
    teams = httpx.post(
        f"{server.url}/graphql/",
        json={"query": "query Teams{teams{id name default}}"},
        headers={"Authorization": f"Api-Key {keys['b']}"},
    )
    assert teams.json()["data"]["teams"][0]["id"] == "team-b"


def test_a_boto3_job_is_seen_and_stopped_through_baseten_and_invisible_to_another_tenant(
    server: ServerProcess, keys: dict[str, Any], tmp_path: Path
) -> None:
    sm = boto3.client(
        "sagemaker",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=keys["aws"]["access_key_id"],
        aws_secret_access_key=keys["aws"]["secret_access_key"],
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )
    name = f"boto-{uuid.uuid4().hex[:10]}"
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE_ARN,
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", str(JOBS_DIR / "cooperative.py")],
        },
        OutputDataConfig={"S3OutputPath": f"file://{tmp_path / 'output'}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Environment={"TEST_MARKER_DIR": str(tmp_path / "markers")},
    )
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training", 60, 0.1
    )

    with wire.client(server.url, keys["a"]) as team_a, wire.client(server.url, keys["b"]) as team_b:
        project = next(p for p in team_a.api.get_training_projects().training_projects if p.name == name)
        assert project.latest_job is not None and project.latest_job.current_status == "TRAINING_JOB_RUNNING"
        job_id = project.latest_job.id
        found = team_a.api.post_training_jobs_search(
            request=wire.api.SearchTrainingJobsRequest(job_id=job_id)
        )
        assert [j.name for j in found.training_jobs] == [name]

        assert name not in [p.name for p in team_b.api.get_training_projects().training_projects]
        assert (
            team_b.api.post_training_jobs_search(
                request=wire.api.SearchTrainingJobsRequest(job_id=job_id)
            ).training_jobs
            == []
        )
        for call in (
            lambda: team_b.api.get_training_projects_training_project_id(training_project_id=project.id),
            lambda: team_b.api.get_training_projects_jobs_training_job_id(
                training_project_id=project.id, training_job_id=job_id
            ),
            lambda: team_b.api.post_training_projects_jobs_stop(
                training_project_id=project.id,
                training_job_id=job_id,
                request=wire.api.StopTrainingJobRequest(),
            ),
        ):
            with pytest.raises(wire.api.ResponseError) as caught:
                call()
            assert caught.value.status_code == 404 and '"NOT_FOUND"' in caught.value.body

        team_a.api.post_training_projects_jobs_stop(
            training_project_id=project.id, training_job_id=job_id, request=wire.api.StopTrainingJobRequest()
        )
        assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 60, 0.1
        )
        assert wire.status(team_a, project.id, job_id) == "TRAINING_JOB_STOPPED"
