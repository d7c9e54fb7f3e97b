"""End-to-end fixtures: a real server subprocess and real boto3 clients."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.support.postgres import store_arguments
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from trainplane import protocol

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
ROLE_ARN = "arn:aws:iam::000000000000:role/trainplane"


def sagemaker_client(url: str) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def job_log(sm: Any, name: str) -> str:
    """What the training job has printed so far, read through the server's log route."""
    route = protocol.LOG_ROUTE.format(kind="training", name=name)
    return httpx.get(sm.meta.endpoint_url + route).text


def wait_for_first_loss(sm: Any, name: str, timeout_seconds: float = 30) -> None:
    """The final metric and the saved step count come from the job's own steps: stop only after one."""
    wait_until(
        lambda: "loss=" in job_log(sm, name), timeout_seconds, 0.05, message=f"{name} printed its loss"
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server per test module, on each store: the end-to-end suite runs on SQLite and on PostgreSQL."""
    store_args = store_arguments(request)
    process = ServerProcess(tmp_path_factory.mktemp("server"), "--stop-grace-seconds", "30", *store_args)
    yield from serving(process)


def serving(process: ServerProcess) -> Iterator[ServerProcess]:
    """A module fixture's body: start `process`, yield it, then leave no job of it running and kill it."""
    process.start()
    yield process
    try:
        stop_every_job(sagemaker_client(process.url))
    finally:
        process.kill()


def stop_every_job(sm: Any, timeout_seconds: float = 60) -> None:
    """Leave no job running behind a test module: stop what runs and wait until all are finished."""

    def unfinished() -> list[str]:
        pages = sm.get_paginator("list_training_jobs").paginate()
        return [
            summary["TrainingJobName"]
            for page in pages
            for summary in page["TrainingJobSummaries"]
            if summary["TrainingJobStatus"] in ("InProgress", "Stopping")
        ]

    for name in unfinished():
        try:
            sm.stop_training_job(TrainingJobName=name)
        except sm.exceptions.ClientError:
            pass  # finished meanwhile
    wait_until(lambda: not unfinished(), timeout_seconds, 0.1, message="every job finished")


@pytest.fixture(scope="module")
def sm(server: ServerProcess) -> Any:
    return sagemaker_client(server.url)


@pytest.fixture
def job_request(tmp_path: Path) -> Callable[..., dict[str, Any]]:
    """A CreateTrainingJob request running one of tests/jobs with the built-in Python image."""

    def build(script: str = "cooperative.py", *, name: str | None = None, **overrides: Any) -> dict[str, Any]:
        program = ["python", str(JOBS_DIR / script)] if script.endswith(".py") else [str(JOBS_DIR / script)]
        request: dict[str, Any] = {
            "TrainingJobName": name or f"e2e-{uuid.uuid4().hex[:12]}",
            "RoleArn": ROLE_ARN,
            "AlgorithmSpecification": {
                "TrainingImage": "trainplane/python",
                "TrainingInputMode": "File",
                "ContainerEntrypoint": program,
                "MetricDefinitions": [{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
            },
            "OutputDataConfig": {"S3OutputPath": f"file://{tmp_path / 'output'}"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
            "Environment": {"TEST_MARKER_DIR": str(tmp_path / "markers"), "TEST_MARKER": uuid.uuid4().hex},
        }
        request.update(overrides)
        return request

    return build
