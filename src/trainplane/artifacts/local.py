"""LocalArtifacts: the Artifacts port for locations on this machine (absolute paths, file:// URIs)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainplane import protocol
from trainplane.artifacts import manifests, s3
from trainplane.artifacts.layout import JobLayout, check_channel_name, checkpoint_subpath
from trainplane.artifacts.locations import LocationPolicy
from trainplane.artifacts.packaging import package_model
from trainplane.domain.job import Job, StopIntent
from trainplane.service.ports import PackagedModel


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LocalArtifacts:
    """Checks locations and packages jobs that never ran; satisfies service.ports.Artifacts."""

    def __init__(
        self,
        runs_dir: Path,
        *,
        allowed_roots: Sequence[Path],
        protected: Sequence[Path] = (),
        now: Callable[[], datetime] = _utc_now,
        is_s3_enabled: bool = False,
    ) -> None:
        """`allowed_roots`: where locations may lie; `protected`: the server's own files (runs_dir too);
        `is_s3_enabled`: s3:// locations are accepted (an S3 endpoint is configured)."""
        self._runs_dir = runs_dir
        self._is_s3_enabled = is_s3_enabled
        self._policy = LocationPolicy(allowed_roots, (runs_dir, *protected))
        self._now = now

    def layout(self, job: Job) -> JobLayout:
        """The tree of `job` under runs_dir/<job id>/base (the executor's run dir convention)."""
        return JobLayout(base_dir=(self._runs_dir / job.id / protocol.JOB_BASE_DIR_NAME).absolute())

    def check_location(self, field: str, uri: str) -> None:
        """Raises: errors.Invalid when `uri` is malformed or outside the allowed roots (LocationPolicy)."""
        if s3.is_s3_uri(uri) and self._is_s3_enabled:
            s3.parse(field, uri)
            return
        self._policy.check(field, uri)

    def check_job_path(self, field: str, path: str) -> None:
        """Raises: errors.Invalid when CheckpointConfig.LocalPath would leave the job's own tree."""
        checkpoint_subpath(path, field)

    def check_channel_name(self, field: str, name: str) -> None:
        """Raises: errors.Invalid when a channel name is not one plain directory name."""
        check_channel_name(field, name)

    def read_manifest(self, field: str, uri: str) -> Mapping[str, Any]:
        """The manifest inside the artifact at `uri`, if the location is allowed (see the port)."""
        self._policy.check(field, uri)
        return manifests.read_manifest(field, uri)

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
