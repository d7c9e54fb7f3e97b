"""A job Slurm ended before our supervisor's final report: the control plane finishes it honestly.

Slurm ends a batch job itself on a time limit, a node failure, a preemption, an admin's `scancel`, or
when a pending job is cancelled before it ever ran. Then nothing is left on the node to report, so the
control plane does what the supervisor would have done, from the shared run dir: it kills what is left
of the job (its cgroup leaf, where this host can see it), packages what the job saved, and writes the
final report (durably, once: later observations read it). The verdict (`decide`) is pure.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainplane.domain import documents
from trainplane.domain.job import Failure, FailureKind, StopIntent, StopReport
from trainplane.domain.status import StopReason
from trainplane.executors.slurm.commands import JobState
from trainplane.executors.supervisor import outcome, process_tree, run_dir, status_file
from trainplane.executors.supervisor import report as reports
from trainplane.service.ports import Observation, Phase

_log = logging.getLogger(__name__)
KILL_WAIT_SECONDS = 5.0  # for SIGKILLed processes to leave the leaf (PID 1 reaps orphans lazily here)
_SUPERVISOR_ENDED_STATES = frozenset({"COMPLETED", "FAILED"})  # the batch script itself ended
_ALGORITHM_STATES = frozenset({"OUT_OF_MEMORY"})  # the job's own doing


@dataclass(frozen=True)
class Lost:
    """The supervisor vanished while the job ran: the reconciler kills what is left (kill_all)."""


@dataclass(frozen=True)
class Stopped:
    intent: StopIntent


@dataclass(frozen=True)
class Failed:
    failure: Failure


Verdict = Lost | Stopped | Failed


def decide(
    slurm_job_id: str | None,
    ended: JobState | None,
    last: reports.Report | None,
    stop: StopIntent | None,
    now: datetime,
) -> Verdict:
    """How a job that Slurm no longer runs (or never submitted) ended, from what is known of it."""
    if stop is None and ended is not None and ended.state == "PREEMPTED":
        stop = StopIntent(now, now, StopReason.PREEMPTED, 0.0)
    if stop is not None:
        return Stopped(stop)  # our stop, or Slurm's preemption: what the job saved is packaged
    has_started = last is not None and last.process is not None
    if has_started and (ended is None or ended.state in _SUPERVISOR_ENDED_STATES):
        return Lost()
    if ended is None:
        message = f"Slurm has no record of batch job {slurm_job_id} and its supervisor left no final report"
        return Failed(Failure(FailureKind.PLATFORM, message))
    if ended.can_never_start:
        message = f"Slurm can never start batch job {slurm_job_id}: {ended.describe()}; it was cancelled"
        return Failed(Failure(FailureKind.USER, message))
    kind = FailureKind.ALGORITHM if ended.state in _ALGORITHM_STATES else FailureKind.PLATFORM
    message = (
        f"Slurm ended batch job {slurm_job_id}: {ended.describe()}, "
        "before trainplane's supervisor reported how the job ended"
    )
    return Failed(Failure(kind, message))


def finish(directory: run_dir.RunDir, verdict: Stopped | Failed, last: reports.Report | None) -> Observation:
    """Kill what is left, package the model and write the final report; the job's observation."""
    launch = status_file.read(directory.launch_file)
    if launch is None:
        raise FileNotFoundError(directory.launch_file)
    previous = reports.Report(str(launch["job_id"]), Observation(Phase.PENDING)) if last is None else last
    seen = previous.observation
    killed = kill_leftovers(None if previous.process is None else previous.process.cgroup)
    stop_report = _merged(seen.outcome.stop_report, killed)
    stop = verdict.intent if isinstance(verdict, Stopped) else None
    failure = verdict.failure if isinstance(verdict, Failed) else None
    final = previous.with_changes(
        was_stopped=stop is not None,
        stop=stop or seen.stop,
        failure=seen.outcome.failure or failure,
        stop_report=stop_report,
    )
    final = _packaged(directory, final, launch, stop)
    final = final.with_changes(phase=Phase.FINISHED, finished_at=datetime.now(UTC))
    reports.ReportWriter(directory, None).write(final)  # durable: the status may now become final
    _log.warning(
        "event=slurm_job_taken_over job=%s verdict=%s failure=%s",
        final.job_id,
        type(verdict).__name__,
        final.observation.outcome.failure,
    )
    return final.observation


def _packaged(
    directory: run_dir.RunDir, final: reports.Report, launch: dict[str, Any], stop: StopIntent | None
) -> reports.Report:
    from trainplane.artifacts.layout import JobLayout

    spec = documents.spec_from_dict(launch["spec"])
    JobLayout(directory.base_dir).create()  # a job cancelled while pending never had one
    stop_reason = None if stop is None else stop.reason.value
    packaged = outcome.package(
        directory,
        job_name=str(launch["job_name"]),
        spec=spec,
        reason=outcome.package_reason(stop_reason, None if stop is None else 0),
        stopped_at=None if stop is None else stop.requested_at,
        has_complete_checkpoint=final.observation.outcome.has_complete_checkpoint,
        pinned_output_root=launch.get("output_root_real"),
    )
    if isinstance(packaged, Failure):
        earlier = final.observation.outcome.failure
        return final.with_changes(failure=outcome.after_packaging_failed(earlier, stop_reason, packaged))
    return final.with_changes(
        model_uri=packaged.model_uri,
        output_uri=packaged.output_uri,
        has_complete_checkpoint=packaged.has_complete_checkpoint,
    )


def kill_leftovers(cgroup_path: str | None) -> StopReport:
    """SIGKILL every process left in the job's cgroup leaf, if this host has it; what was killed."""
    if cgroup_path is None or not Path(cgroup_path).is_dir():
        return StopReport()  # no leaf, or another node's: Slurm's own kill is all there is
    cgroup = process_tree.JobCgroup(Path(cgroup_path))
    pids = cgroup.pids()
    sent_at = datetime.now(UTC)
    if pids:
        cgroup.kill()
    deadline = time.monotonic() + KILL_WAIT_SECONDS
    while _live(cgroup.pids()) and time.monotonic() < deadline:
        time.sleep(0.01)  # cgroup.events has no wait API here; bounded, and only for ended jobs
    survivors = tuple(sorted(_live(cgroup.pids())))
    if not cgroup.is_populated():
        cgroup.remove()
    if pids:
        _log.warning(
            "event=slurm_leftovers_killed cgroup=%s pids=%d survivors=%s", cgroup_path, len(pids), survivors
        )
    return StopReport(kill_sent_at=sent_at if pids else None, kill_pids=len(pids), survivors=survivors)


def _live(pids: set[int]) -> set[int]:
    """Pids that are not zombies (a zombie waits for PID 1 to reap it, ~1.6 s here; it runs nothing)."""
    return {pid for pid in pids if _state(pid) not in ("Z", "X", None)}


def _state(pid: int) -> str | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()[0]


def _merged(earlier: StopReport | None, killed: StopReport) -> StopReport | None:
    if earlier is None:
        return None if killed == StopReport() else killed
    if killed.kill_pids == 0:
        return dataclasses.replace(earlier, survivors=killed.survivors or earlier.survivors)
    return dataclasses.replace(
        earlier,
        kill_sent_at=earlier.kill_sent_at or killed.kill_sent_at,
        kill_pids=earlier.kill_pids + killed.kill_pids,
        survivors=killed.survivors,
    )
