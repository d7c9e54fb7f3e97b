"""Compilation jobs on the real control plane (service, reconciler, local executor, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import compilable
from tests.support.waiting import wait_until
from trainplane.api.sagemaker import compilation
from trainplane.config import Settings
from trainplane.domain.status import JobKind, Primary, Secondary
from trainplane.server import ControlPlane, build
from trainplane.service.jobs import StopOutcome

TENANT = "default"


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    settings = Settings(data_dir=tmp_path / "data", reconcile_interval_seconds=1, allowed_roots=(tmp_path,))
    built = build(settings)
    yield built
    built.close()


def test_a_compilation_stopped_while_starting_never_spawns_and_publishes_nothing(
    plane: ControlPlane, tmp_path: Path
) -> None:
    model = compilable.model_tar(tmp_path / "model.tar.gz", {"model.onnx": b"never read"})
    body = {
        "CompilationJobName": "early",
        "RoleArn": "arn:aws:iam::000000000000:role/trainplane",
        "InputConfig": {"S3Uri": model.as_uri(), "Framework": "ONNX"},
        "OutputConfig": {"S3OutputLocation": (tmp_path / "out").as_uri(), "TargetDevice": "ml_c5"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    plane.service.create(TENANT, compilation.new_compilation_job(body))
    outcome, job = plane.service.stop(TENANT, JobKind.COMPILATION, "early")
    assert outcome is StopOutcome.REQUESTED and job.primary is Primary.STOPPING
    assert job.stop is not None and job.stop.grace_seconds == compilation.DEFAULT_GRACE_SECONDS

    plane.reconciler.recover()
    plane.reconciler.start()
    wait_until(
        lambda: plane.service.describe(TENANT, JobKind.COMPILATION, "early").status is Secondary.STOPPED, 15
    )

    job = plane.service.describe(TENANT, JobKind.COMPILATION, "early")
    assert [t.status for t in job.history] == [Secondary.STARTING, Secondary.STOPPING, Secondary.STOPPED]
    assert job.handle is None and job.started_at is None
    assert job.outcome is not None and job.outcome.model_uri is None
    assert not (tmp_path / "out").exists()
    described = compilation.describe_document(job)
    assert described["CompilationJobStatus"] == "STOPPED"
    assert described["ModelArtifacts"] == {"S3ModelArtifacts": ""}
    assert "CompilationStartTime" not in described
