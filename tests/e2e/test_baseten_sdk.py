"""The real `baseten` SDK against a real server: every endpoint it has that trainplane serves, each
answer validated by the SDK's strict pydantic models (a missing required field, a naive time or a bad
value fails the call), on a real job that runs, checkpoints and is stopped."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from baseten.client import ManagementClient
from baseten.client import managementapi as api

from tests.baseten import wire
from tests.support.postgres import store_arguments
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server per store: projects and search run on SQLite and on PostgreSQL."""
    store_args = store_arguments(request)
    process = wire.server(
        tmp_path_factory.mktemp("baseten-sdk"), "--usage-interval-seconds", "0.2", *store_args
    )
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def sdk(server: ServerProcess) -> Iterator[ManagementClient]:
    with wire.client(server.url) as client:
        yield client


def test_projects_upsert_by_name_list_get_and_delete(sdk: ManagementClient, server: ServerProcess) -> None:
    project = wire.upsert(sdk, "sdk-projects")
    assert wire.upsert(sdk, "SDK-Projects").id == project.id  # one project per name, any case
    assert project.latest_job is None and project.created_at.tzinfo is not None
    team = httpx.post(
        f"{server.url}/v1/teams/default/training_projects",
        json={"training_project": {"name": "sdk-projects", "team_name": "default"}},
    )
    assert team.status_code == 200 and team.json()["training_project"]["id"] == project.id
    listed = sdk.api.get_training_projects().training_projects
    assert project.id in [p.id for p in listed]
    got = sdk.api.get_training_projects_training_project_id(training_project_id=project.id)
    assert got.training_project.name == "sdk-projects" and got.training_project.team_name == "default"
    tombstone = sdk.api.delete_training_projects(training_project_id=project.id)
    assert tombstone.deleted and tombstone.id == project.id
    with pytest.raises(api.ResponseError) as caught:
        sdk.api.get_training_projects_training_project_id(training_project_id=project.id)
    assert caught.value.status_code == 404


def test_a_job_runs_checkpoints_logs_and_stops_with_its_checkpoints_kept(
    sdk: ManagementClient, server: ServerProcess
) -> None:
    project = wire.upsert(sdk, "sdk-lifecycle")
    created = sdk.api.post_training_projects_jobs(
        training_project_id=project.id, request=wire.job_request(EPOCHS="3")
    ).training_job
    assert created.name == "job-one" and created.training_project.name == "sdk-lifecycle"
    assert created.current_status in wire.ACTIVE
    job_id = created.id

    def lines() -> list[str]:
        found = sdk.api.post_training_projects_jobs_logs(
            training_project_id=project.id,
            training_job_id=job_id,
            request=api.GetTrainingJobLogsRequest(direction="asc", limit=1000),
        ).logs
        return [log.message for log in found]

    wait_until(lambda: "step=2" in lines(), 60, 0.1, message="the job logs its steps")
    assert lines()[0].startswith("training job-one started, EPOCHS=3")
    assert wire.status(sdk, project.id, job_id) == "TRAINING_JOB_RUNNING"

    def usage() -> api.GetTrainingJobMetricsResponse | None:
        found = sdk.api.post_training_projects_jobs_metrics(
            training_project_id=project.id, training_job_id=job_id, request=api.GetTrainingJobMetricsRequest()
        )
        return found if len(found.cpu_memory_usage_bytes) >= 3 else None

    sampled = wait_until(usage, 60, 0.1, message="the supervisor samples the job's usage")
    assert all(point.value > 0 for point in sampled.cpu_memory_usage_bytes)
    assert len(sampled.cpu_usage) == len(sampled.cpu_memory_usage_bytes) - 1
    assert all(0 <= point.value <= 64 for point in sampled.cpu_usage)  # cores
    assert sampled.per_node_metrics[0].metrics.cpu_memory_usage_bytes == sampled.cpu_memory_usage_bytes

    checkpoints = sdk.api.get_training_projects_jobs_checkpoints(
        training_project_id=project.id, training_job_id=job_id
    )
    assert [(c.checkpoint_id, c.size_bytes) for c in checkpoints.checkpoints] == [("checkpoint-1", 1000)]

    stopped = sdk.api.post_training_projects_jobs_stop(
        training_project_id=project.id, training_job_id=job_id, request=api.StopTrainingJobRequest()
    ).training_job
    assert stopped.current_status in ("TRAINING_JOB_RUNNING", "TRAINING_JOB_STOPPED")  # no stopping state
    wait_until(lambda: wire.status(sdk, project.id, job_id) == "TRAINING_JOB_STOPPED", 60, 0.1)
    again = sdk.api.post_training_projects_jobs_stop(
        training_project_id=project.id, training_job_id=job_id, request=api.StopTrainingJobRequest()
    )
    assert again.training_job.current_status == "TRAINING_JOB_STOPPED"  # stopping twice is fine

    kept = sdk.api.get_training_projects_jobs_checkpoints(
        training_project_id=project.id, training_job_id=job_id
    )
    assert {c.checkpoint_id for c in kept.checkpoints} == {"checkpoint-1", "checkpoint-final"}
    assert all(c.sync_status == "COMPLETED" for c in kept.checkpoints)
    files = sdk.api.get_training_projects_jobs_checkpoint_files(
        training_project_id=project.id, training_job_id=job_id
    )
    assert files.total_count == 2 and files.next_page_token is None
    by_name = {f.relative_file_name: f for f in files.presigned_urls}
    fetched = httpx.get(by_name["checkpoint-1/weights.bin"].url)  # presigned: no Authorization header
    assert fetched.status_code == 200 and fetched.content == b"w" * 1000

    model = sdk.api.get_training_projects_jobs_download(
        training_project_id=project.id, training_job_id=job_id
    )
    assert len(model.artifact_presigned_urls) == 1
    tarball = httpx.get(model.artifact_presigned_urls[0])
    assert tarball.status_code == 200
    with tarfile.open(fileobj=io.BytesIO(tarball.content)) as archive:
        archive.getnames()  # a real model.tar.gz

    got = sdk.api.get_training_projects_jobs_training_job_id(
        training_project_id=project.id, training_job_id=job_id
    )
    assert got.training_project.latest_job is not None and got.training_project.latest_job.id == job_id


def test_checkpoint_files_page_and_urls_cannot_be_forged(
    sdk: ManagementClient, server: ServerProcess
) -> None:
    project = wire.upsert(sdk, "sdk-files")
    job = sdk.api.post_training_projects_jobs(
        training_project_id=project.id, request=wire.job_request(EXIT_AFTER_STEPS="1")
    ).training_job
    wait_until(lambda: wire.status(sdk, project.id, job.id) == "TRAINING_JOB_COMPLETED", 60, 0.1)
    first = sdk.api.get_training_projects_jobs_checkpoint_files(
        training_project_id=project.id,
        training_job_id=job.id,
        params=api.GetTrainingProjectsJobsCheckpointFilesParams(page_size=1, page_token=0),
    )
    assert first.total_count == 1 and len(first.presigned_urls) == 1 and first.next_page_token is None
    url = first.presigned_urls[0].url
    token = url.rsplit("/", 1)[1]
    _, _, mac = token.partition(".")
    forged = url.replace(mac, mac[::-1])
    assert httpx.get(forged).status_code == 404
    assert httpx.get(f"{server.url}/v1/training_files/..%2F..%2Fetc%2Fpasswd").status_code == 404


def test_jobs_list_search_logs_metrics_recreate_update_and_delete(sdk: ManagementClient) -> None:
    project = wire.upsert(sdk, "sdk-jobs")
    first = sdk.api.post_training_projects_jobs(
        training_project_id=project.id, request=wire.job_request(EXIT_AFTER_STEPS="3", name=None)
    ).training_job
    wait_until(lambda: wire.status(sdk, project.id, first.id) == "TRAINING_JOB_COMPLETED", 60, 0.1)
    second = sdk.api.post_training_projects_jobs_recreate(
        training_project_id=project.id, training_job_id=first.id
    ).training_job
    assert second.id != first.id and second.training_project_id == project.id

    listed = sdk.api.get_training_projects_jobs(training_project_id=project.id)
    assert [j.id for j in listed.training_jobs] == [second.id, first.id]  # newest first
    both = api.SearchTrainingJobsRequest(
        project_id=project.id, order_by=[api.OrderBy(field="created_at", order="asc")]
    )
    assert [j.id for j in sdk.api.post_training_jobs_search(request=both).training_jobs] == [
        first.id,
        second.id,
    ]
    done = api.SearchTrainingJobsRequest(project_id=project.id, statuses=["TRAINING_JOB_COMPLETED"])
    assert first.id in [j.id for j in sdk.api.post_training_jobs_search(request=done).training_jobs]
    by_id = api.SearchTrainingJobsRequest(job_id=first.id)
    assert [j.id for j in sdk.api.post_training_jobs_search(request=by_id).training_jobs] == [first.id]

    logs = _logs_get(sdk, project.id, first.id, limit=2)
    assert [log.message for log in logs] == ["step=3", "step=2"]  # newest first by default
    created_ms = int(first.created_at.timestamp() * 1000)
    before = _logs_get(
        sdk, project.id, first.id, start_epoch_millis=created_ms - 60_000, end_epoch_millis=created_ms - 1
    )
    assert before == []  # the window is honoured
    for metrics in (
        sdk.api.post_training_projects_jobs_metrics(
            training_project_id=project.id,
            training_job_id=first.id,
            request=api.GetTrainingJobMetricsRequest(),
        ),
        sdk.api.get_training_projects_jobs_metrics(training_project_id=project.id, training_job_id=first.id),
    ):
        assert metrics.training_job.id == first.id and metrics.gpu_utilization == {}

    with pytest.raises(api.ResponseError) as caught:
        sdk.api.patch_training_projects_jobs(
            training_project_id=project.id,
            training_job_id=first.id,
            request=api.UpdateTrainingJobRequest(priority=5),
        )
    assert caught.value.status_code == 409 and '"CONFLICT"' in caught.value.body

    tombstone = sdk.api.delete_training_projects_jobs(
        training_project_id=project.id, training_job_id=second.id
    )
    assert tombstone.deleted and tombstone.training_project_id == project.id
    with pytest.raises(api.ResponseError) as gone:
        sdk.api.get_training_projects_jobs_training_job_id(
            training_project_id=project.id, training_job_id=second.id
        )
    assert gone.value.status_code == 404


def _logs_get(sdk: ManagementClient, project_id: str, job_id: str, **params: int) -> list[api.Log]:
    query = api.GetTrainingProjectsJobsLogsParams(**params)  # type: ignore[arg-type]
    return sdk.api.get_training_projects_jobs_logs(
        training_project_id=project_id, training_job_id=job_id, params=query
    ).logs


def test_graphql_teams_names_the_tenant(server: ServerProcess) -> None:
    answer = httpx.post(f"{server.url}/graphql/", json={"query": "query Teams{teams{id name default}}"})
    assert answer.json() == {"data": {"teams": [{"id": "default", "name": "default", "default": True}]}}


def test_times_are_aware_and_recent(sdk: ManagementClient) -> None:
    project = wire.upsert(sdk, "sdk-times")
    assert abs(datetime.now(UTC) - project.updated_at) < timedelta(minutes=5)


def test_blob_credentials_point_boto3_at_this_servers_upload_target(
    sdk: ManagementClient, server: ServerProcess
) -> None:
    blob = sdk.api.get_blobs_credentials_train()
    assert blob.s3_bucket and blob.s3_key and blob.creds.aws_access_key_id
    raw = httpx.get(f"{server.url}/v1/blobs/credentials/train").json()
    assert raw["creds"]["endpoint_url"] == f"{server.url}/v1/blobs/s3"


def test_deleting_a_running_job_or_its_project_stops_it_and_hides_it_at_once(sdk: ManagementClient) -> None:
    project = wire.upsert(sdk, "sdk-deletes")
    jobs = [
        sdk.api.post_training_projects_jobs(
            training_project_id=project.id, request=wire.job_request()
        ).training_job
        for _ in range(2)
    ]
    for job in jobs:
        wait_until(lambda job=job: wire.status(sdk, project.id, job.id) == "TRAINING_JOB_RUNNING", 60, 0.1)
    tombstone = sdk.api.delete_training_projects_jobs(
        training_project_id=project.id, training_job_id=jobs[0].id
    )
    assert tombstone.deleted
    remaining = sdk.api.get_training_projects_jobs(training_project_id=project.id).training_jobs
    assert [j.id for j in remaining] == [jobs[1].id]
    everything = sdk.api.post_training_jobs_search(request=api.SearchTrainingJobsRequest()).training_jobs
    assert jobs[0].id not in [j.id for j in everything]

    assert sdk.api.delete_training_projects(training_project_id=project.id).deleted
    assert project.id not in [p.id for p in sdk.api.get_training_projects().training_projects]
    with pytest.raises(api.ResponseError) as caught:
        sdk.api.get_training_projects_jobs_training_job_id(
            training_project_id=project.id, training_job_id=jobs[1].id
        )
    assert caught.value.status_code == 404
