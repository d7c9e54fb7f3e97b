"""LocalArtifacts: the Artifacts port for locations on this machine (absolute paths, file:// URIs)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from trainplane import protocol
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_local_path
from trainplane.artifacts.packaging import package_model
from trainplane.domain.job import Job, StopIntent
from trainplane.service.ports import PackagedModel


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LocalArtifacts:
    """Checks locations and packages jobs that never ran; satisfies service.ports.Artifacts."""

    def __init__(self, runs_dir: Path, *, now: Callable[[], datetime] = _utc_now) -> None:
        self._runs_dir = runs_dir
        self._now = now

    def layout(self, job: Job) -> JobLayout:
        """The tree of `job` under runs_dir/<job id>/base (the executor's run dir convention)."""
        return JobLayout(base_dir=(self._runs_dir / job.id / protocol.JOB_BASE_DIR_NAME).absolute())

    def check_location(self, field: str, uri: str) -> None:
        """Raises: errors.Invalid when `uri` is not an absolute path or a local file:// URI."""
        to_local_path(field, uri)

    def package_unstarted(self, job: Job, intent: StopIntent) -> PackagedModel:
        """An empty model.tar.gz whose manifest says why and when the job was stopped.

        Raises:
            errors.Invalid: the job's output location is not local.
        """
        layout = self.layout(job)
        layout.create()
        return package_model(
            layout=layout,
            output_uri=job.spec.output_uri,
            job_name=job.name,
            reason=intent.reason.value,
            stopped_at=intent.requested_at,
            has_complete_checkpoint=False,
            now=self._now(),
        )
