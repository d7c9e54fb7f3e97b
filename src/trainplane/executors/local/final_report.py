"""A job's outcome once nothing of it runs: exit code, failure reason, final metrics, model package.

Called by the supervisor after the last process is gone (STYLE.md section 2 lets the local supervisor
call `artifacts` to package in place). Artifacts are imported lazily: not at supervisor start (it
delays the job), but by `preload()` once the job runs (so that packaging after a stop is not delayed).
"""

from __future__ import annotations

import logging
import os
import signal
from datetime import UTC, datetime
from typing import Any

from trainplane.domain.job import Failure, FailureKind, JobSpec
from trainplane.executors.local import run_dir

_log = logging.getLogger(__name__)


def exit_fields(wait_status: int | None) -> dict[str, Any]:
    """exit_code (128 + signal when killed, as containers report it) and exit_signal."""
    if wait_status is None:
        return {"exit_code": None, "exit_signal": None}
    if os.WIFSIGNALED(wait_status):
        signum = os.WTERMSIG(wait_status)
        return {"exit_code": 128 + signum, "exit_signal": signum}
    return {"exit_code": os.waitstatus_to_exitcode(wait_status), "exit_signal": None}


def failure(directory: run_dir.RunDir, exit_code: int | None, exit_signal: int | None) -> Failure | None:
    """The job's own output/failure if it wrote one, else what its exit says; None on exit 0."""
    if exit_code == 0 or exit_code is None:
        return None
    from trainplane.artifacts.layout import JobLayout
    from trainplane.artifacts.metrics import read_failure_reason

    own = read_failure_reason(JobLayout(directory.base_dir))
    if own is not None:
        return Failure(FailureKind.ALGORITHM, own)
    if exit_signal is not None:
        name = signal.Signals(exit_signal).name
        return Failure(
            FailureKind.ALGORITHM, f"the training process was killed by signal {exit_signal} ({name})"
        )
    return Failure(FailureKind.ALGORITHM, f"the training process exited with code {exit_code}")


def package_reason(stop_reason: str | None, exit_code: int | None) -> str:
    if stop_reason is not None:
        return stop_reason
    return "completed" if exit_code == 0 else "failed"


def metrics(directory: run_dir.RunDir, spec: JobSpec) -> list[dict[str, Any]]:
    from trainplane.artifacts.metrics import final_metrics
    from trainplane.domain import documents

    found = final_metrics(directory.job_log, spec.metric_definitions, datetime.now(UTC))
    return [documents.metric_to_dict(metric) for metric in found]


def package(
    directory: run_dir.RunDir,
    *,
    job_name: str,
    spec: JobSpec,
    reason: str,
    stopped_at: float | None,
    has_complete_checkpoint: bool,
) -> dict[str, Any]:
    """Package the model dir; the status fields to add. A failure becomes a failure reason."""
    from trainplane.artifacts.layout import JobLayout
    from trainplane.artifacts.packaging import package_model

    try:
        packaged = package_model(
            layout=JobLayout(directory.base_dir),
            output_uri=spec.output_uri,
            job_name=job_name,
            reason=reason,
            stopped_at=None if stopped_at is None else datetime.fromtimestamp(stopped_at, UTC),
            has_complete_checkpoint=has_complete_checkpoint,
            now=datetime.now(UTC),
        )
    except Exception as exc:  # the edge: whatever breaks, the job must still get a final report
        _log.exception("event=packaging_failed job=%s", job_name)
        return {"packaging_error": Failure(FailureKind.PLATFORM, f"packaging the model failed: {exc}")}
    return {
        "model_uri": packaged.model_uri,
        "output_uri": packaged.output_uri,
        "has_complete_checkpoint": packaged.has_complete_checkpoint,
    }


def preload() -> None:
    """Import what packaging needs, ahead of time."""
    import trainplane.artifacts.layout
    import trainplane.artifacts.metrics
    import trainplane.artifacts.packaging
    import trainplane.domain.documents  # noqa: F401
