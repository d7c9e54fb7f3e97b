"""boto3 against a real server whose jobs tagged `trainplane:executor=ray` run on a real Ray head."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import sagemaker_client, serving, wait_for_first_loss
from tests.support import local_jobs, ray_cluster
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from trainplane.executors.ray.submission import RayJobs

RAY_TAG = {"Key": "trainplane:executor", "Value": "ray"}


@pytest.fixture(scope="module")
def ray_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(
        tmp_path_factory.mktemp("ray-server"), "--ray-address", ray_cluster.address(), "--log-level", "info"
    )
    yield from serving(process)


def _run_dir_of(server: ServerProcess, name: str) -> Path:
    def found() -> Path | None:
        for launch in (server.data_dir / "runs").glob("*/launch.json"):
            if json.loads(launch.read_text())["job_name"] == name:
                return launch.parent
        return None

    return wait_until(found, 30, 0.05, message=f"run dir of {name}")


def test_a_tagged_job_runs_on_ray_and_a_stop_ends_stopped_with_its_model(
    ray_server: ServerProcess, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    sm = sagemaker_client(ray_server.url)
    request = job_request("cooperative.py", Tags=[RAY_TAG])
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    markers = Path(request["Environment"]["TEST_MARKER_DIR"])
    wait_until(lambda: list(markers.glob("started-*")), 60, 0.05, message="job started")
    run_dir = _run_dir_of(ray_server, name)
    submission_id = json.loads((run_dir / "ray-submission.json").read_text())["submission_id"]
    jobs = RayJobs(ray_cluster.address())
    try:
        state = jobs.state(submission_id)
        assert state is not None and state.status == "RUNNING"  # Ray runs it, not the local executor
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training",
            30,
            0.05,
            message="Training",
        )
        wait_for_first_loss(sm, name)
        sm.stop_training_job(TrainingJobName=name)
        sm.get_waiter("training_job_completed_or_stopped").wait(
            TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
        )
        job = sm.describe_training_job(TrainingJobName=name)
        assert job["TrainingJobStatus"] == "Stopped", job.get("FailureReason")
        model_uri = job["ModelArtifacts"]["S3ModelArtifacts"]
        saved = json.loads(local_jobs.model_members(model_uri)["model.json"])
        assert saved["stopped"] is True and saved["steps"] >= 1
        final = jobs.state(submission_id)
        assert final is not None and final.status == "SUCCEEDED"  # our supervisor ended it cleanly
    finally:
        jobs.close()


def test_a_ray_job_on_a_server_without_ray_is_refused_naming_the_tag(
    tmp_path: Path, job_request: Callable[..., dict[str, Any]]
) -> None:
    process = ServerProcess(tmp_path / "data", env={ray_cluster.ADDRESS_VARIABLE: ""})
    process.start()
    try:
        sm = sagemaker_client(process.url)
        with pytest.raises(ClientError) as refused:
            sm.create_training_job(**job_request("cooperative.py", Tags=[RAY_TAG]))
        error = refused.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "trainplane:executor" in error["Message"] and "'ray'" in error["Message"]
    finally:
        process.kill()
