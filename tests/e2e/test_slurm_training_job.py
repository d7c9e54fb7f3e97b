"""boto3 against a real server whose Slurm executor runs jobs on a real Slurm (scripts/slurm-up)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sagemaker_client, serving
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
    yield from serving(process)


@pytest.fixture(scope="module")
def multi_node_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    partition = slurm.require_nodes(2)
    process = ServerProcess(
        tmp_path_factory.mktemp("slurm-multi-server"),
        "--stop-grace-seconds",
        "30",
        "--slurm-partition",
        partition,
    )
    yield from serving(process)


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


def test_instance_count_two_runs_on_two_slurm_nodes_and_a_stop_keeps_the_first_hosts_model(
    multi_node_server: ServerProcess, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    sm = sagemaker_client(multi_node_server.url)
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 1}
    request = job_request("every_host.py", Tags=SLURM_TAG, ResourceConfig=resources)
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    markers = tmp_path / "markers"
    started = [
        json.loads(
            wait_until(lambda h=host: _read(markers / f"started-{h}.json"), 60, message=f"{host} started")
        )
        for host in ("algo-1", "algo-2")
    ]
    assert started[0]["hostname"] != started[1]["hostname"]  # two Slurm nodes
    for seen, host in zip(started, ("algo-1", "algo-2"), strict=True):
        assert seen["hosts"] == ["algo-1", "algo-2"]
        assert seen["resourceconfig"]["current_host"] == host
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["ResourceConfig"]["InstanceCount"] == 2 and job["TrainingJobStatus"] == "InProgress"

    sm.stop_training_job(TrainingJobName=name)
    assert wait_until(lambda: _status(sm, name), 30, 0.05) == "Stopped"
    assert sorted(path.name for path in markers.glob("sigterm-*")) == ["sigterm-algo-1", "sigterm-algo-2"]
    job = sm.describe_training_job(TrainingJobName=name)
    members = local_jobs.model_members(job["ModelArtifacts"]["S3ModelArtifacts"])
    assert json.loads(members["model-algo-1.json"]) == {"host": "algo-1", "stopped": True}
    assert "model-algo-2.json" not in members  # SageMaker keeps the model of the first host


def _read(path: Path) -> str | None:
    return path.read_text() if path.exists() else None
