"""LocalArtifacts: the port the service uses to check locations and package never-started jobs."""

from __future__ import annotations

import json
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trainplane.artifacts.local import LocalArtifacts
from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.domain import errors
from trainplane.domain.job import JobSpec, StopIntent, new_job
from trainplane.domain.status import JobKind, StopReason
from trainplane.service import ports

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_local_artifacts_satisfy_the_port(tmp_path: Path) -> None:
    artifacts: ports.Artifacts = LocalArtifacts(tmp_path / "runs", allowed_roots=(Path("/tmp"),))
    artifacts.check_location("outputDataConfig.s3OutputPath", "file:///tmp/out")
    with pytest.raises(errors.Invalid) as caught:
        artifacts.check_location("checkpointConfig.s3Uri", "s3://bucket/ckpt")
    assert caught.value.field == "checkpointConfig.s3Uri"


def test_a_job_stopped_before_it_ran_gets_an_empty_model_saying_why(tmp_path: Path) -> None:
    spec = JobSpec(
        image="trainplane/python", command=("python",), environment={}, output_uri=to_uri(tmp_path / "out")
    )
    job = new_job(
        job_id="j-1",
        tenant="t",
        kind=JobKind.TRAINING,
        name="never-ran",
        arn="arn:x",
        spec=spec,
        request={},
        dialect="sagemaker",
        at=NOW,
    )
    intent = StopIntent(
        requested_at=NOW, deadline_at=NOW + timedelta(seconds=120), reason=StopReason.USER, grace_seconds=120
    )
    packaged = LocalArtifacts(
        tmp_path / "runs", allowed_roots=(tmp_path,), now=lambda: NOW + timedelta(seconds=1)
    ).package_unstarted(job, intent)

    assert packaged.has_complete_checkpoint is False
    assert packaged.output_uri is None
    archive_path = to_local_path("test", packaged.model_uri)
    assert archive_path == tmp_path / "out" / "never-ran" / "output" / "model.tar.gz"
    with tarfile.open(archive_path) as archive:
        manifest = json.load(archive.extractfile("trainplane-manifest.json"))  # type: ignore[arg-type]
    assert manifest["reason"] == "user"
    assert datetime.fromisoformat(manifest["stopped_at"]) == NOW
    assert manifest["has_complete_checkpoint"] is False
    assert manifest["files"] == []
    assert (tmp_path / "runs" / "j-1" / "base" / "model").is_dir()
