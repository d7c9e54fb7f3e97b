"""LocalExecutor: the control plane's side of the local executor (satisfies ports.Executor).

It writes launch.json and stop.json, starts the detached supervisor (executors/supervisor), wakes
it, and reads its report back. It never waits on the job: the supervisor owns the job and its
deadlines. When a supervisor is lost before its final report, a successor supervisor adopts the job.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trainplane.domain import documents, errors
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import ExecutorHandle, Job, StopIntent, StopReport
from trainplane.executors.local import notify
from trainplane.executors.local.fork_server import ForkServerClient
from trainplane.executors.local.process_watcher import ProcessWatcher
from trainplane.executors.supervisor import (
    allocated,
    launch_file,
    limits,
    log_index,
    process_tree,
    run_dir,
    status_file,
    usage,
)
from trainplane.executors.supervisor import report as reports
from trainplane.executors.supervisor.supervisor import SUCCESSOR_FLAG
from trainplane.service.ports import LogMarks, Observation, Phase, UsageSample

_log = logging.getLogger(__name__)
MAX_SUCCESSORS = 3  # successor supervisors per job: one that cannot even start must not loop forever
SUPERVISOR_MODULE = "trainplane.executors.supervisor.supervisor"
WAKE_SIGNAL = signal.SIGUSR2  # "stop.json changed"; the supervisor treats SIGTERM as a preemption


class LocalExecutor:
    """Runs each job under its own detached supervisor in `<runs_dir>/<job id>/`."""

    name = "local"
    spans_hosts = False  # this host only

    def __init__(
        self,
        runs_dir: Path,
        *,
        python_executable: str = sys.executable,
        notify_socket_path: Path | None = None,
        use_fork_server: bool = True,
        run_as: Mapping[str, Any] | None = None,
        usage_interval_seconds: float = usage.DEFAULT_INTERVAL_SECONDS,
    ) -> None:
        """`run_as`: {"uid", "gid", "user", "home"} jobs run as; None: the server's own user.
        `usage_interval_seconds`: how often each supervisor samples its job's usage (0: never)."""
        self._usage_interval_seconds = usage_interval_seconds
        self._runs_dir = runs_dir
        self._run_as = None if run_as is None else dict(run_as)
        self._python = python_executable
        self._fork_server = (
            ForkServerClient(python_executable, runs_dir / "fork-server.log") if use_fork_server else None
        )
        self._notify_path = notify_socket_path
        self._listener: notify.Listener | None = None
        self._watcher = ProcessWatcher()  # reaps our supervisors and hears when any one vanishes
        self._observed: dict[str, tuple[tuple[int, int, int] | None, int, Observation]] = {}
        runs_dir.mkdir(parents=True, exist_ok=True)

    def launch(self, job: Job, allocation: Allocation | None = None) -> ExecutorHandle:
        """Start the job's supervisor unless one already ran for this job id (idempotent).

        `allocation`: the CPUs, memory and GPUs the job gets (cgroup limits, SM_NUM_*, CUDA_VISIBLE_DEVICES);
        the handle carries what it was launched with, so a restarted control plane knows what it holds.

        Raises:
            errors.Unavailable: the supervisor process could not be started.
        """
        directory = run_dir.RunDir(self._runs_dir / job.id)
        directory.path.mkdir(parents=True, exist_ok=True)
        ref = {"run_dir": str(directory.path), "job_id": job.id}
        with run_dir.locked(directory.lock_file):
            if _has_supervisor(directory):
                _log.info("event=launch_skipped job=%s reason=already_launched", job.id)
                launched = status_file.read(directory.launch_file) or {}
                return ExecutorHandle(self.name, {**ref, **(launched.get("allocation") or {})})
            directory.pid_file.unlink(missing_ok=True)  # a dead supervisor's record, if any
            launch_file.write(
                job,
                directory,
                None if self._notify_path is None else str(self._notify_path),
                self._run_as,
                allocated.environment(allocation),
                usage_interval_seconds=self._usage_interval_seconds,
                limits=allocated.limits(allocation),
                allocation=None if allocation is None else allocation.to_ref(),
            )
            self._spawn_supervisor(job.id, directory)
        return ExecutorHandle(self.name, {**ref, **({} if allocation is None else allocation.to_ref())})

    def _start_successor(self, directory: run_dir.RunDir, handle: ExecutorHandle) -> bool:
        """Start a supervisor that adopts the job of a lost one; False when none may be started."""
        job_id = handle.ref["job_id"]
        with run_dir.locked(directory.lock_file):
            if _is_supervisor_alive(directory):
                return True  # another caller started one meanwhile
            started = _count_successors(directory)
            if started >= MAX_SUCCESSORS:
                return False
            directory.successors_file.write_text(str(started + 1))
            directory.pid_file.unlink(missing_ok=True)
            _log.warning("event=supervisor_lost job=%s successor=%d", job_id, started + 1)
            try:
                self._spawn_supervisor(job_id, directory, SUCCESSOR_FLAG)
            except errors.Unavailable:
                _log.exception("event=successor_failed job=%s", job_id)
                return False
        return True

    def request_stop(self, handle: ExecutorHandle, intent: StopIntent) -> None:
        """Persist the stop intent (first one wins: a deadline is never extended), then wake."""
        directory = _run_dir(handle)
        doc = documents.stop_to_dict(intent)
        directory.path.mkdir(parents=True, exist_ok=True)  # a stop may precede the launch
        # No fsync: the store already holds the intent durably and the reconciler re-delivers it
        # after any restart; a power loss that could lose this file also ends the supervisor.
        is_new = status_file.create_exclusive(directory.stop_file, doc, is_durable=False)
        # Written before the signal: a supervisor that is not ready yet reads stop.json right after
        # it becomes ready, so either it sees the file or it gets the signal.
        is_woken = run_dir.signal_supervisor(directory, WAKE_SIGNAL)
        _log.info(
            "event=stop_delivered job=%s is_new=%s is_woken=%s deadline_at=%.3f",
            handle.ref["job_id"],
            is_new,
            is_woken,
            intent.deadline_at.timestamp(),
        )

    def observe(self, handle: ExecutorHandle) -> Observation:
        directory = _run_dir(handle)
        job_id = handle.ref["job_id"]
        # The sweep observes every job every few seconds: unchanged report + supervisor known alive
        # (its pidfd has not fired) is one stat() instead of two reads, two JSON parses and /proc.
        mark = run_dir.file_mark(directory.status_file)
        cached = self._observed.get(job_id)
        if cached is not None and cached[0] == mark and self._watcher.is_watching(cached[1]):
            return cached[2]
        last = reports.read(directory)
        if last is not None and last.phase is Phase.FINISHED:
            self._observed.pop(job_id, None)
            return last.observation
        record = run_dir.read_record(directory)
        if record is not None and run_dir.is_alive(record):
            observation = Observation(Phase.PENDING) if last is None else last.observation
            if self._watcher.watch(record.pid, job_id):  # hear at once if it vanishes
                self._observed[job_id] = (mark, record.pid, observation)
            return observation
        # The supervisor may have written its final report just before exiting: read once more.
        last = reports.read(directory)
        if last is not None and last.phase is Phase.FINISHED:
            return last.observation
        if last is not None and last.process is not None and self._start_successor(directory, handle):
            return last.observation
        lost = Observation(Phase.LOST) if last is None else last.observation
        return dataclasses.replace(lost, phase=Phase.LOST)

    def kill_all(self, handle: ExecutorHandle) -> StopReport:
        """Kill what a lost supervisor left in the job's cgroup leaf (pain 4: orphans hold GPUs)."""
        directory = _run_dir(handle)
        if _is_supervisor_alive(directory):
            raise errors.Conflict("the job's supervisor is alive: stop the job instead")
        last = reports.read(directory)
        process = None if last is None else last.process
        if process is None or process.cgroup is None:
            # Without a cgroup nothing reliably names the job's processes once its subreaper died.
            if process is not None and Path(f"/proc/{process.main_pid}").exists():
                return StopReport(survivors=(process.main_pid,))
            return StopReport()
        report = process_tree.kill_lost_job(
            process_tree.JobCgroup(Path(process.cgroup)), handle.ref["job_id"]
        )
        recorded = limits.JobLimits.from_dict(status_file.read(directory.limits_file))
        if recorded is not None and not report.survivors:
            recorded.remove()  # its v1 leaves, where limits needed them
        return report

    def read_log(self, handle: ExecutorHandle, offset: int, max_bytes: int) -> bytes:
        return run_dir.read_log(_run_dir(handle), offset, max_bytes)

    def read_log_marks(self, handle: ExecutorHandle) -> LogMarks:
        directory = _run_dir(handle)
        return log_index.read_marks(directory.job_log, directory.log_index)

    def read_usage(self, handle: ExecutorHandle) -> Sequence[UsageSample]:
        return usage.read_samples(_run_dir(handle).usage_file)

    def watch(self, on_change: Callable[[str], None]) -> None:
        """Listen on the notify socket (no-op without one: the reconciler's polling suffices)."""
        self._watcher.set_on_exit(on_change)
        self._start_fork_server()  # now, so the first job does not wait for it
        if self._notify_path is None or self._listener is not None:
            return
        self._listener = notify.Listener(self._notify_path, on_change)

    def close(self) -> None:
        if self._fork_server is not None:
            self._fork_server.close()  # it exits; the supervisors it forked run on
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _spawn_supervisor(self, job_id: str, directory: run_dir.RunDir, *flags: str) -> None:
        pid = self._fork_supervisor(directory, flags)
        is_child = pid is None
        if pid is None:
            pid = self._popen_supervisor(directory, flags)
        # Recorded now, not only by the supervisor, so a crash right after this never spawns a second
        # one. Exclusive: if the supervisor already wrote its "ready" record, that one stands.
        run_dir.write_record(directory, pid, is_ready=False, is_exclusive=True)
        _log.info("event=supervisor_spawned job=%s pid=%d forked=%s", job_id, pid, not is_child)
        self._watcher.watch(pid, job_id, is_child=is_child)

    def _fork_supervisor(self, directory: run_dir.RunDir, flags: tuple[str, ...]) -> int | None:
        """A supervisor forked by the pre-imported fork server; None when it is unavailable."""
        if self._fork_server is None:
            return None
        for _ in range(2):  # a fork server that died is restarted once
            self._start_fork_server()
            try:
                return self._fork_server.spawn(directory.path, flags)
            except OSError:
                _log.exception("event=fork_server_failed")
        return None

    def _start_fork_server(self) -> None:
        if self._fork_server is not None:
            pid = self._fork_server.start()
            if pid is not None:
                self._watcher.watch(pid, None, is_child=True)

    def _popen_supervisor(self, directory: run_dir.RunDir, flags: tuple[str, ...]) -> int:
        command = [self._python, "-m", SUPERVISOR_MODULE, str(directory.path), *flags]
        try:
            with directory.supervisor_log.open("ab") as log:
                child = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # survives the server's death and never gets its signals
                    cwd=directory.path,
                )
        except OSError as exc:
            raise errors.Unavailable(f"the local supervisor could not start: {exc}") from exc
        child.returncode = 0  # the watcher reaps it: Popen must never wait for it again
        return child.pid


def _run_dir(handle: ExecutorHandle) -> run_dir.RunDir:
    return run_dir.RunDir(Path(handle.ref["run_dir"]))


def _has_supervisor(directory: run_dir.RunDir) -> bool:
    return directory.status_file.exists() or _is_supervisor_alive(directory)


def _is_supervisor_alive(directory: run_dir.RunDir) -> bool:
    record = run_dir.read_record(directory)
    return record is not None and run_dir.is_alive(record)


def _count_successors(directory: run_dir.RunDir) -> int:
    try:
        return int(directory.successors_file.read_text())
    except (FileNotFoundError, ValueError):
        return 0
