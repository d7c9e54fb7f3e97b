"""Stopping compilation jobs: the shared stop protocol, with Neo's statuses and nothing published.

The server maps the compiler image to tests/jobs/slow_compiler.py, which leaves a partial result and
"compiles" until stopped (or, given a model holding `ignore-sigterm`, ignores SIGTERM).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import JOBS_DIR, ROLE_ARN, sagemaker_client
from tests.support import compilable
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

GRACE_TAG = "trainplane:stop-grace-seconds"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    images = {"trainplane/compiler": {"command": [sys.executable, str(JOBS_DIR / "slow_compiler.py")]}}
    process = ServerProcess(tmp_path_factory.mktemp("server"), "--images", json.dumps(images))
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def sm(server: ServerProcess) -> Any:
    return sagemaker_client(server.url)


@pytest.fixture
def describe_raw(server: ServerProcess) -> Callable[[str], dict[str, Any]]:
    """Describe as the wire has it: boto3 drops trainplane's own TrainplaneDetails member."""

    def describe(name: str) -> dict[str, Any]:
        headers = {
            "X-Amz-Target": "SageMaker.DescribeCompilationJob",
            "Content-Type": "application/x-amz-json-1.1",
        }
        response = httpx.post(server.url, headers=headers, json={"CompilationJobName": name})
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    return describe


def start_compiling(sm: Any, tmp_path: Path, *, files: dict[str, bytes], **overrides: Any) -> str:
    model = compilable.model_tar(tmp_path / "model.tar.gz", {"model.onnx": b"unused", **files})
    name = f"stop-{uuid.uuid4().hex[:12]}"
    request: dict[str, Any] = {
        "CompilationJobName": name,
        "RoleArn": ROLE_ARN,
        "InputConfig": {"S3Uri": model.as_uri(), "Framework": "ONNX"},
        "OutputConfig": {"S3OutputLocation": (tmp_path / "compiled").as_uri(), "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
        **overrides,
    }
    sm.create_compilation_job(**request)
    wait_until((tmp_path / "compiling").exists, 30, 0.02, message="the compiler runs")
    assert status(sm, name) == "INPROGRESS"
    return name


def status(sm: Any, name: str) -> str:
    return str(sm.describe_compilation_job(CompilationJobName=name)["CompilationJobStatus"])


def wait_status(sm: Any, name: str, wanted: str, timeout_seconds: float = 30) -> dict[str, Any]:
    def reached() -> dict[str, Any] | None:
        job: dict[str, Any] = sm.describe_compilation_job(CompilationJobName=name)
        return job if job["CompilationJobStatus"] == wanted else None

    return wait_until(reached, timeout_seconds, 0.02, message=f"{name} {wanted}")


def test_a_compilation_stopped_mid_run_goes_stopping_then_stopped_and_publishes_nothing(
    sm: Any, describe_raw: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    name = start_compiling(sm, tmp_path, files={})

    sm.stop_compilation_job(CompilationJobName=name)

    seen = {status(sm, name)}
    job = wait_status(sm, name, "STOPPED")
    seen.add("STOPPED")
    assert seen <= {"STOPPING", "STOPPED"}
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == ""
    assert "ModelDigests" not in job
    assert not (tmp_path / "compiled").exists() or not any((tmp_path / "compiled").iterdir())
    details = describe_raw(name)["TrainplaneDetails"]
    signals = details["Signals"]
    assert signals["SigtermProcesses"] >= 1 and signals.get("Survivors", []) == []
    assert "SigkillTime" not in signals  # SIGTERM was enough
    assert details["StopGraceSeconds"] == 30  # the compilation default


def test_a_compiler_ignoring_sigterm_is_killed_at_its_deadline(
    sm: Any, describe_raw: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    tags = [{"Key": GRACE_TAG, "Value": "1"}]
    name = start_compiling(sm, tmp_path, files={"ignore-sigterm": b""}, Tags=tags)

    sm.stop_compilation_job(CompilationJobName=name)

    assert status(sm, name) == "STOPPING"
    job = wait_status(sm, name, "STOPPED")
    details = describe_raw(name)["TrainplaneDetails"]
    assert details["StopGraceSeconds"] == 1
    signals = details["Signals"]
    assert signals["SigkillProcesses"] >= 1 and signals.get("Survivors", []) == []
    assert signals["SigkillTime"] - signals["SigtermTime"] >= 0.9
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == ""
    assert not (tmp_path / "compiled" / "model-ml_c5.tar.gz").exists()


def test_max_runtime_stops_a_compilation_through_the_same_path(
    sm: Any, describe_raw: Callable[[str], dict[str, Any]], tmp_path: Path
) -> None:
    name = start_compiling(sm, tmp_path, files={}, StoppingCondition={"MaxRuntimeInSeconds": 1})

    job = wait_status(sm, name, "STOPPED")

    assert describe_raw(name)["TrainplaneDetails"]["StopReason"] == "max_runtime"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == ""


def test_stopping_a_finished_compilation_is_refused(sm: Any, tmp_path: Path) -> None:
    name = start_compiling(sm, tmp_path, files={})
    sm.stop_compilation_job(CompilationJobName=name)
    wait_status(sm, name, "STOPPED")

    with pytest.raises(sm.exceptions.ClientError) as refused:
        sm.stop_compilation_job(CompilationJobName=name)

    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "STOPPED" in refused.value.response["Error"]["Message"]
