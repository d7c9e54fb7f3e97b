"""boto3 against a real server whose Slurm executor runs jobs on a real Slurm (scripts/slurm-up)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support import local_jobs, slurm
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

SLURM_TAG = [{"Key": "trainplane:executor", "Value": "slurm"}]


@pytest.fixture(scope="module")
def slurm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    slurm.require()
    process = ServerProcess(
        tmp_path_factory.mktemp("slurm-server"), "--stop-grace-seconds", "30", "--slurm-partition", "debug"
    )
    process.start()
    yield process
    try:
        stop_every_job(sagemaker_client(process.url))
    finally:
        process.kill()


def _status(sm: Any, name: str) -> str | None:
    status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return status if status in ("Stopped", "Failed", "Completed") else None


def test_a_job_tagged_for_slurm_runs_there_and_stops_with_its_model(
    slurm_server: ServerProcess, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    sm = sagemaker_client(slurm_server.url)
    request = job_request("cooperative.py", Tags=SLURM_TAG)
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 30, message="job started")
    submitted = [
        json.loads(path.read_text()) for path in (slurm_server.data_dir / "runs").glob("*/slurm.json")
    ]
    assert len(submitted) == 1  # it went through sbatch, and Slurm runs it
    assert slurm.state_of(submitted[0]["slurm_job_id"]) == "RUNNING"
    sm.stop_training_job(TrainingJobName=name)
    assert wait_until(lambda: _status(sm, name), 30, 0.05) == "Stopped"
    job = sm.describe_training_job(TrainingJobName=name)
    members = local_jobs.model_members(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert json.loads(members["model.json"])["stopped"] is True
    assert len(list((tmp_path / "markers").glob("sigterm-*"))) == 1


def test_a_server_without_slurm_refuses_the_tag_at_create(
    sm: Any, job_request: Callable[..., dict[str, Any]]
) -> None:
    request = job_request("cooperative.py", name=f"no-slurm-{uuid.uuid4().hex[:8]}", Tags=SLURM_TAG)
    with pytest.raises(sm.exceptions.ClientError) as raised:
        sm.create_training_job(**request)
    error = raised.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "trainplane:executor" in error["Message"] and "slurm" in error["Message"]
