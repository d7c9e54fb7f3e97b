"""A job's outcome once nothing of it runs: exit code, failure, final metrics, model package.

Called by the supervisor after the last process is gone (STYLE.md section 2 lets the supervisor
call `artifacts` to package in place). Artifacts are imported lazily: not at supervisor start (it
delays the job), but by `preload()` once the job runs (so that packaging after a stop is not delayed).
"""

from __future__ import annotations

import errno
import logging
import os
import signal
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trainplane.domain.job import Failure, FailureKind, JobSpec, Metric, Outcome
from trainplane.executors.supervisor import run_dir

_log = logging.getLogger(__name__)
# The output location the user chose cannot take the model: theirs to fix (SageMaker: ClientError).
_USER_ERRNOS = frozenset({errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOTDIR, errno.EEXIST, errno.EISDIR})
UNKNOWN_EXIT = Failure(
    FailureKind.PLATFORM,
    "the job's supervisor was lost and the training process has ended; its exit status is unknown "
    "(only the process that started it can learn it)",
)


@dataclass(frozen=True)
class Exit:
    code: int | None  # 128 + signal when killed, as containers report it; None: unknown
    signal: int | None = None


def exit_of(wait_status: int | None) -> Exit:
    if wait_status is None:
        return Exit(None)
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        return Exit(128 + signum, signum)
    return Exit(os.waitstatus_to_exitcode(wait_status))


def failure(directory: run_dir.RunDir, exit: Exit) -> Failure | None:
    """The job's own output/failure if it wrote one, else what its exit says; None on exit 0."""
    if exit.code == 0 or exit.code is None:
        return None
    from trainplane.artifacts.layout import JobLayout
    from trainplane.artifacts.metrics import read_failure_reason

    own = read_failure_reason(JobLayout(directory.base_dir))
    if own is not None:
        return Failure(FailureKind.ALGORITHM, own)
    if exit.signal is not None:
        name = signal.Signals(exit.signal).name
        return Failure(
            FailureKind.ALGORITHM, f"the training process was killed by signal {exit.signal} ({name})"
        )
    return Failure(FailureKind.ALGORITHM, f"the training process exited with code {exit.code}")


def package_reason(stop_reason: str | None, exit_code: int | None) -> str:
    if stop_reason is not None:
        return stop_reason
    return "completed" if exit_code == 0 else "failed"


def metrics(directory: run_dir.RunDir, spec: JobSpec) -> tuple[Metric, ...]:
    from trainplane.artifacts.metrics import final_metrics

    return tuple(final_metrics(directory.job_log, spec.metric_definitions, datetime.now(UTC)))


def package(
    directory: run_dir.RunDir,
    *,
    job_name: str,
    spec: JobSpec,
    reason: str,
    stopped_at: datetime | None,
    has_complete_checkpoint: bool,
    pinned_output_root: str | None = None,
) -> Outcome | Failure:
    """Package the model dir: the model fields of the outcome, or why it could not be written.

    `pinned_output_root`: the output location's real path at launch (launch.json), or None.
    """
    from trainplane.artifacts import s3_checkpoints
    from trainplane.artifacts.layout import JobLayout
    from trainplane.artifacts.packaging import package_model
    from trainplane.artifacts.published import PUBLISHED_ARCHIVE, publish

    try:
        s3_checkpoints.finish(spec, JobLayout(directory.base_dir))  # what the job saved, to s3:// if there
        if PUBLISHED_ARCHIVE in spec.payload:  # a kind that publishes one named archive (compilation)
            return publish(
                layout=JobLayout(directory.base_dir),
                job_name=job_name,
                job_kind=str(spec.payload.get("job_kind", "")),
                output_uri=spec.output_uri,
                archive_name=str(spec.payload[PUBLISHED_ARCHIVE]),
                reason=reason,
                now=datetime.now(UTC),
                pinned_output_root=None if pinned_output_root is None else Path(pinned_output_root),
            )
        return package_model(
            layout=JobLayout(directory.base_dir),
            output_uri=spec.output_uri,
            job_name=job_name,
            reason=reason,
            stopped_at=stopped_at,
            has_complete_checkpoint=has_complete_checkpoint,
            now=datetime.now(UTC),
            pinned_output_root=None if pinned_output_root is None else Path(pinned_output_root),
        )
    except OSError as exc:
        _log.exception("event=packaging_failed job=%s", job_name)
        if exc.errno in _USER_ERRNOS:
            return Failure(FailureKind.USER, f"the model could not be written to the output location: {exc}")
        return Failure(FailureKind.PLATFORM, f"packaging the model failed: {exc}")
    except Exception as exc:  # the edge: whatever breaks, the job must still get a final report
        _log.exception("event=packaging_failed job=%s", job_name)
        return Failure(FailureKind.PLATFORM, f"packaging the model failed: {exc}")


def after_packaging_failed(earlier: Failure | None, stop_reason: str | None, failure: Failure) -> Failure:
    """One story for status, message and reason: a stop whose model could not be written failed."""
    if earlier is not None:
        return earlier  # the job had already failed: that is the story
    if stop_reason is None:
        return failure
    return Failure(failure.kind, f"the job was stopped ({stop_reason}), but {failure.message}")


def preload() -> None:
    """Import what packaging needs, ahead of time."""
    import trainplane.artifacts.layout
    import trainplane.artifacts.metrics
    import trainplane.artifacts.packaging
    import trainplane.artifacts.published  # noqa: F401
