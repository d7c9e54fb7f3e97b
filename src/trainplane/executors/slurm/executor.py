"""SlurmExecutor: jobs run as Slurm batch jobs whose script is our own supervisor (ports.Executor).

The stop protocol stays ours (SIGTERM per the job's policy, its own grace window, SIGKILL of every
process through its cgroup leaf, a durable final report, model.tar.gz): the cluster's KillWait, one
value for the whole cluster with a 5 s floor, never decides it. The run dir lives in a directory the
nodes share (`--slurm-shared-dir`); the control plane reads the supervisor's report there, and falls
back to Slurm's own record (`scontrol show job`) when Slurm ended the job before the supervisor could
report (takeover.py). The Slurm job id is kept in the handle, so a restarted control plane reattaches.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainplane.domain import documents, errors
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import ExecutorHandle, Job, StopIntent, StopReport
from trainplane.executors.slurm import batch, commands, takeover
from trainplane.executors.supervisor import launch_file, log_index, run_dir, status_file, usage
from trainplane.executors.supervisor import report as reports
from trainplane.service.ports import LogMarks, Observation, Phase, UsageSample

_log = logging.getLogger(__name__)
SUBMISSION_FILE = "slurm.json"  # {"slurm_job_id": "..."}, or {"submitting": true} while sbatch runs
# The supervisor's "stop.json changed" signal (as for local jobs); its SIGTERM means a preemption.
WAKE_SIGNAL_NAME = "USR2"
SLURM_CHECK_SECONDS = 1.0  # how stale Slurm's view of a running job may be (one scontrol call costs ~7 ms)
WATCH_INTERVAL_SECONDS = 0.25  # the report poll that wakes the control plane when hints cannot reach it
_STILL_ACTIVE = commands.JobState("PENDING", "None", "0:0")  # what we know right after sbatch


class SlurmExecutor:
    """Submits each job with `sbatch`; its supervisor runs in `<shared_dir>/<job id>/` on the node."""

    name = "slurm"
    spans_hosts = True  # InstanceCount N: N nodes of one allocation (batch.py)

    def __init__(
        self,
        runs_dir: Path,
        settings: batch.SlurmSettings | None = None,
        *,
        notify_socket_path: Path | None = None,
        run_as: Mapping[str, Any] | None = None,
    ) -> None:
        """`runs_dir` must be shared with the nodes; `run_as`: {"uid", "gid", "user", "home"} of jobs."""
        self._runs_dir = runs_dir
        self._settings = settings or batch.SlurmSettings()
        self._notify_path = notify_socket_path
        self._run_as = None if run_as is None else dict(run_as)
        self._checked: dict[str, tuple[float, commands.JobState | None]] = {}
        self._watched: dict[str, tuple[Path, tuple[int, int, int] | None]] = {}
        self._lock = threading.Lock()
        self._on_change: Callable[[str], None] | None = None
        self._closing = threading.Event()
        self._thread: threading.Thread | None = None
        runs_dir.mkdir(parents=True, exist_ok=True)

    # --- launching -----------------------------------------------------------------------------

    def launch(self, job: Job, allocation: Allocation | None = None) -> ExecutorHandle:
        """Submit the job once per job id (idempotent, also across a crash mid-submit).

        Raises:
            errors.Invalid: Slurm refused the job.
            errors.Unavailable: Slurm could not be reached.
        """
        directory = run_dir.RunDir(self._runs_dir / job.id)
        directory.path.mkdir(parents=True, exist_ok=True)
        handle = _handle(directory, job.id, None)
        with run_dir.locked(directory.lock_file):
            submitted = _read_submission(directory)
            if submitted is not None and submitted.get("slurm_job_id"):
                _log.info("event=launch_skipped job=%s reason=already_submitted", job.id)
                return _handle(directory, job.id, str(submitted["slurm_job_id"]))
            # A datagram hint reaches the control plane when the node is this host; else the watch poll.
            launch_file.write(
                job,
                directory,
                None if self._notify_path is None else str(self._notify_path),
                self._run_as,
                **batch.launch_extras(job, directory.path, self._settings),
            )
            if directory.stop_file.exists():
                # Stopped before the launch: never submitted; observe() finishes it as stopped.
                _log.info("event=launch_skipped job=%s reason=stopped_before_launch", job.id)
                return handle
            slurm_job_id = self._submit(job, directory, is_retry=submitted is not None)
        self._checked[slurm_job_id] = (time.monotonic(), _STILL_ACTIVE)
        self._track(job.id, directory)
        return _handle(directory, job.id, slurm_job_id)

    def _submit(self, job: Job, directory: run_dir.RunDir, *, is_retry: bool) -> str:
        name = batch.slurm_job_name(job.id)
        found = commands.find_by_name(name) if is_retry else None  # a crash between sbatch and the record
        if found is not None:
            slurm_job_id = found
        else:
            arguments = batch.sbatch_arguments(job, directory.path, self._settings)
            status_file.write_atomic(directory.path / SUBMISSION_FILE, {"submitting": True}, is_durable=False)
            slurm_job_id = commands.submit(arguments)
        # Not fsynced: the handle in the store is the durable record; this file covers a crash before it.
        status_file.write_atomic(
            directory.path / SUBMISSION_FILE, {"slurm_job_id": slurm_job_id}, is_durable=False
        )
        _log.info("event=slurm_submitted job=%s slurm_job_id=%s found=%s", job.id, slurm_job_id, bool(found))
        return slurm_job_id

    # --- stopping ------------------------------------------------------------------------------

    def request_stop(self, handle: ExecutorHandle, intent: StopIntent) -> None:
        """Persist the intent (first one wins), then wake the supervisor, or cancel a pending job."""
        directory = _run_dir(handle)
        directory.path.mkdir(parents=True, exist_ok=True)  # a stop may precede the launch
        # Not fsynced: the store holds the intent durably and the reconciler re-delivers it.
        is_new = status_file.create_exclusive(
            directory.stop_file, documents.stop_to_dict(intent), is_durable=False
        )
        slurm_job_id = self._slurm_job_id(handle, directory)
        action = "none"
        if slurm_job_id is not None:
            record = run_dir.read_record(directory)
            if record is not None and record.is_ready:
                # Written before the signal: a supervisor not yet ready reads stop.json once it is.
                action = "woken" if commands.wake(slurm_job_id, WAKE_SIGNAL_NAME) else "wake_refused"
            elif record is None and commands.cancel_if_pending(slurm_job_id):
                # Still queued, or starting: cancelled if it was pending (it never runs), else its
                # supervisor finds stop.json before it spawns anything.
                action = "cancel_if_pending"
            self._checked.pop(slurm_job_id, None)  # look at Slurm again on the next observe
        _log.info(
            "event=stop_delivered job=%s slurm_job_id=%s is_new=%s action=%s deadline_at=%.3f",
            handle.ref["job_id"],
            slurm_job_id,
            is_new,
            action,
            intent.deadline_at.timestamp(),
        )

    def kill_all(self, handle: ExecutorHandle) -> StopReport:
        """End the Slurm job at once and kill what is left in the job's cgroup leaf (if on this host)."""
        directory = _run_dir(handle)
        slurm_job_id = self._slurm_job_id(handle, directory)
        if slurm_job_id is not None:
            try:
                commands.kill(slurm_job_id)
            except errors.Unavailable:
                _log.exception("event=slurm_kill_failed job=%s", handle.ref["job_id"])
        last = reports.read(directory)
        cgroup = None if last is None or last.process is None else last.process.cgroup
        report = takeover.kill_leftovers(cgroup)
        _log.warning(
            "event=lost_job_killed job=%s slurm_job_id=%s pids=%d survivors=%s",
            handle.ref["job_id"],
            slurm_job_id,
            report.kill_pids,
            report.survivors,
        )
        return report

    # --- observing -----------------------------------------------------------------------------

    def observe(self, handle: ExecutorHandle) -> Observation:
        directory = _run_dir(handle)
        job_id = handle.ref["job_id"]
        last = reports.read(directory)
        if last is not None and last.phase is Phase.FINISHED:
            self._untrack(job_id)
            self._checked.pop(handle.ref.get("slurm_job_id", ""), None)
            return last.observation
        self._track(job_id, directory)
        slurm_job_id = self._slurm_job_id(handle, directory)
        if slurm_job_id is None:
            if directory.stop_file.exists() and directory.launch_file.exists():
                return self._take_over(directory, None, None)  # stopped before it was submitted
            return Observation(Phase.PENDING)
        ended = self._slurm_state(slurm_job_id)
        if ended is not None and ended.can_never_start:
            commands.cancel_if_pending(slurm_job_id)  # ends Failed with Slurm's reason, never queued forever
        elif ended is not None and ended.is_active:
            return Observation(Phase.PENDING) if last is None else last.observation
        return self._take_over(directory, slurm_job_id, ended)

    def _slurm_state(self, slurm_job_id: str) -> commands.JobState | None:
        """Slurm's view, at most SLURM_CHECK_SECONDS old while active; an outage decides nothing."""
        cached = self._checked.get(slurm_job_id)
        now = time.monotonic()
        if cached is not None and (cached[0] + SLURM_CHECK_SECONDS > now or not _is_active(cached[1])):
            return cached[1]
        try:
            seen = commands.state(slurm_job_id)
        except errors.Unavailable:
            _log.exception("event=slurm_unavailable slurm_job_id=%s", slurm_job_id)
            return _STILL_ACTIVE if cached is None else cached[1]
        self._checked[slurm_job_id] = (now, seen)
        return seen

    def _take_over(
        self, directory: run_dir.RunDir, slurm_job_id: str | None, ended: commands.JobState | None
    ) -> Observation:
        with run_dir.locked(directory.lock_file):  # one control plane finishes it, once
            last = reports.read(directory)  # the supervisor may have reported just before it ended
            if last is not None and last.phase is Phase.FINISHED:
                return last.observation
            stop = documents.stop_from_dict(status_file.read(directory.stop_file))
            if stop is None and last is not None:
                stop = last.observation.stop
            verdict = takeover.decide(slurm_job_id, ended, last, stop, datetime.now(UTC))
            if isinstance(verdict, takeover.Lost):
                assert last is not None  # decide() says Lost only for a job that started
                _log.warning(
                    "event=slurm_supervisor_lost job=%s slurm_job_id=%s slurm_state=%s",
                    last.job_id,
                    slurm_job_id,
                    "purged" if ended is None else ended.describe(),
                )
                return dataclasses.replace(last.observation, phase=Phase.LOST)
            return takeover.finish(directory, verdict, last)

    def read_usage(self, handle: ExecutorHandle) -> Sequence[UsageSample]:
        """The supervisor's samples, read from the shared run dir (empty where it is not readable)."""
        return usage.read_samples(_run_dir(handle).usage_file)

    def read_log(self, handle: ExecutorHandle, offset: int, max_bytes: int) -> bytes:
        return run_dir.read_log(_run_dir(handle), offset, max_bytes)

    def read_log_marks(self, handle: ExecutorHandle) -> LogMarks:
        directory = _run_dir(handle)  # the supervisor marks job.log on the node, in the shared dir
        return log_index.read_marks(directory.job_log, directory.log_index)

    # --- watching ------------------------------------------------------------------------------

    def watch(self, on_change: Callable[[str], None]) -> None:
        """Poll the reports of the jobs it knows: a node's datagram hint cannot cross hosts."""
        self._on_change = on_change
        if self._thread is None:
            self._thread = threading.Thread(target=self._poll_reports, name="slurm-watch", daemon=True)
            self._thread.start()

    def close(self) -> None:
        """Stop watching. Jobs keep running in Slurm."""
        self._closing.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _track(self, job_id: str, directory: run_dir.RunDir) -> None:
        with self._lock:
            if job_id not in self._watched:
                self._watched[job_id] = (directory.status_file, run_dir.file_mark(directory.status_file))

    def _untrack(self, job_id: str) -> None:
        with self._lock:
            self._watched.pop(job_id, None)

    def _poll_reports(self) -> None:
        while not self._closing.wait(WATCH_INTERVAL_SECONDS):
            with self._lock:
                watched = list(self._watched.items())
            for job_id, (path, mark) in watched:
                seen = run_dir.file_mark(path)
                if seen != mark:
                    with self._lock:
                        if job_id in self._watched:
                            self._watched[job_id] = (path, seen)
                    if self._on_change is not None:
                        self._on_change(job_id)

    def _slurm_job_id(self, handle: ExecutorHandle, directory: run_dir.RunDir) -> str | None:
        if handle.ref.get("slurm_job_id"):
            return handle.ref["slurm_job_id"]
        with run_dir.locked(directory.lock_file):  # a launch in progress has recorded it once it lets go
            submitted = _read_submission(directory)
        value = None if submitted is None else submitted.get("slurm_job_id")
        return None if not value else str(value)


def _handle(directory: run_dir.RunDir, job_id: str, slurm_job_id: str | None) -> ExecutorHandle:
    ref = {"run_dir": str(directory.path), "job_id": job_id}
    if slurm_job_id is not None:
        ref["slurm_job_id"] = slurm_job_id
    return ExecutorHandle(SlurmExecutor.name, ref)


def _run_dir(handle: ExecutorHandle) -> run_dir.RunDir:
    return run_dir.RunDir(Path(handle.ref["run_dir"]))


def _is_active(state: commands.JobState | None) -> bool:
    return state is not None and state.is_active


def _read_submission(directory: run_dir.RunDir) -> dict[str, Any] | None:
    return status_file.read(directory.path / SUBMISSION_FILE)
