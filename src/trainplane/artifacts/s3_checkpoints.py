"""A job's checkpoints on an s3:// location: uploaded every SYNC_INTERVAL_SECONDS while the job runs,
and once more after it ends (the stop window included: what the job saved before SIGKILL goes up).

Runs in the job's supervisor. Only files that changed since their last upload are sent; a file the job
deletes stays in S3, as SageMaker's checkpoint sync leaves it.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

from trainplane.artifacts import s3
from trainplane.artifacts.layout import JobLayout
from trainplane.domain import fields
from trainplane.domain.job import JobSpec

log = logging.getLogger("trainplane.artifacts.s3_checkpoints")
SYNC_INTERVAL_SECONDS = 10.0
SYNC_INTERVAL_ENV = "TRAINPLANE_S3_CHECKPOINT_SYNC_SECONDS"  # inherited from the server, like the endpoint


class CheckpointSync:
    """The background uploads of one job's checkpoint dir, and the final one."""

    def __init__(self, local_dir: Path, target: s3.S3Location, interval_seconds: float) -> None:
        self._local_dir = local_dir
        self._target = target
        self._interval_seconds = interval_seconds
        self._sent: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()  # one sync at a time: the thread's, or the final one
        self._is_finished = threading.Event()
        self._thread = threading.Thread(target=self._run, name="s3-checkpoints", daemon=True)

    @classmethod
    def of(cls, spec: JobSpec, layout: JobLayout) -> CheckpointSync | None:
        """The sync of `spec`'s checkpoints, or None when they are not on S3."""
        if not s3.is_s3_uri(spec.checkpoint_uri):
            return None
        assert spec.checkpoint_uri is not None
        target = s3.parse(fields.CHECKPOINT_LOCATION, spec.checkpoint_uri)
        interval_seconds = float(os.environ.get(SYNC_INTERVAL_ENV) or SYNC_INTERVAL_SECONDS)
        return cls(layout.checkpoint_dir(spec), target, max(0.1, interval_seconds))

    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Stop the background uploads and upload what changed since. Raises: OSError (after retries)."""
        self._is_finished.set()
        self.sync()

    def sync(self) -> int:
        with self._lock:
            return s3.sync_up(self._local_dir, self._target, self._sent)

    def _run(self) -> None:
        while not self._is_finished.wait(self._interval_seconds):
            try:
                count = self.sync()
            except Exception:  # the next round or the final sync tries again
                log.exception("event=s3_checkpoint_sync_failed uri=%s", self._target.uri)
                continue
            if count:
                log.info("event=s3_checkpoint_sync uri=%s files=%d", self._target.uri, count)


_running: dict[Path, CheckpointSync] = {}  # by local dir: one supervisor supervises one job


def start(spec: JobSpec, layout: JobLayout) -> None:
    """Start uploading `spec`'s checkpoints in the background, when they go to S3."""
    sync = CheckpointSync.of(spec, layout)
    if sync is not None:
        _running[layout.checkpoint_dir(spec)] = sync
        sync.start()


def finish(spec: JobSpec, layout: JobLayout) -> None:
    """The final upload of `spec`'s checkpoints (a successor supervisor sends them all). Raises: OSError."""
    sync = _running.pop(layout.checkpoint_dir(spec), None) or CheckpointSync.of(spec, layout)
    if sync is not None:
        sync.finish()
        log.info("event=s3_checkpoints_final uri=%s", spec.checkpoint_uri)
