"""RayExecutor: the control plane's side of a job run by Ray (satisfies ports.Executor).

Each job is one Ray job, submitted through the Job Submission API under the submission id
`trainplane-<job id>`. Its entrypoint is `exec python -m trainplane.executors.supervisor.supervisor
<run dir>`: the same supervisor as local jobs, as Ray's root process of the job (reference/engines.md
section 2: under `sh -c` a stop takes 1.5-1.9 s, and Ray signals only a snapshot of the tree). So the stop
protocol is ours: stop.json plus a wake-up, SIGTERM to the job, the job's own grace window, SIGKILL of
every process of the job (cgroup leaf, subreaper), packaging, a durable final report in the run dir.
Ray's own stop (`stop_job`) is only the last resort of `kill_all`.

The run directory lives under `runs_dir`, which Ray's workers must see at the same path (one machine,
or a shared file system). Waking the supervisor with a signal needs it on this machine too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import shlex
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trainplane.domain import documents, errors
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import ExecutorHandle, Job, StopIntent, StopReport
from trainplane.executors.ray import resources, unstarted
from trainplane.executors.ray.submission import RayJobs, RayJobState
from trainplane.executors.supervisor import launch_file, log_index, process_tree, run_dir, status_file, usage
from trainplane.executors.supervisor import report as reports
from trainplane.service.ports import LogMarks, Observation, Phase, UsageSample

_log = logging.getLogger(__name__)
SUPERVISOR_MODULE = "trainplane.executors.supervisor.supervisor"
SUBMISSION_PREFIX = "trainplane-"
SUBMISSION_FILE = "ray-submission.json"  # in the run dir: the job was submitted (launch is idempotent)
WAKE_SIGNAL = signal.SIGUSR2  # "stop.json changed"; SIGTERM would read as a preemption
# Ray SIGKILLs what it knows of a job this long after its own stop (`ray job stop` from outside): the
# job's grace plus time for our supervisor to package the model and write its final report first.
STOP_WAIT_MARGIN_SECONDS = 30


class RayExecutor:
    """Runs each job as a Ray job whose entrypoint is the job's supervisor in `<runs_dir>/<job id>/`."""

    name = "ray"
    spans_hosts = False  # the supervisor runs on one Ray node; a job across nodes is not built yet

    def __init__(
        self,
        runs_dir: Path,
        address: str,
        *,
        python_executable: str = sys.executable,
        notify_socket_path: Path | None = None,
        run_as: Mapping[str, Any] | None = None,
    ) -> None:
        """`address`: the Job Submission API (http://head:8265); `run_as` as for LocalExecutor."""
        self._runs_dir = runs_dir
        self._jobs = RayJobs(address)
        self._python = python_executable
        self._notify_path = notify_socket_path
        self._run_as = None if run_as is None else dict(run_as)
        runs_dir.mkdir(parents=True, exist_ok=True)

    @property
    def address(self) -> str:
        return self._jobs.address

    def launch(self, job: Job, allocation: Allocation | None = None) -> ExecutorHandle:
        """Submit the job to Ray unless it already was (idempotent per job id).

        Raises:
            errors.Unavailable: Ray does not answer or refused the job.
        """
        directory = run_dir.RunDir(self._runs_dir / job.id)
        directory.path.mkdir(parents=True, exist_ok=True)
        submission_id = SUBMISSION_PREFIX + job.id
        handle = ExecutorHandle(
            self.name, {"run_dir": str(directory.path), "job_id": job.id, "submission_id": submission_id}
        )
        with run_dir.locked(directory.lock_file):
            if (directory.path / SUBMISSION_FILE).exists():
                _log.info("event=launch_skipped job=%s reason=already_submitted", job.id)
                return handle
            notify_path = None if self._notify_path is None else str(self._notify_path)
            launch_file.write(job, directory, notify_path, self._run_as)
            self._submit(job, directory, submission_id)
            status_file.write_atomic(
                directory.path / SUBMISSION_FILE,
                {"submission_id": submission_id, "address": self.address},
                is_durable=False,  # Ray holds the submission; launch asks Ray again if this is lost
            )
        return handle

    def _submit(self, job: Job, directory: run_dir.RunDir, submission_id: str) -> None:
        wanted = resources.of_instance_type(job.spec.instance_type)
        stop_wait_seconds = math.ceil(job.spec.grace_seconds) + STOP_WAIT_MARGIN_SECONDS
        # A crash between the submission and its record leaves Ray knowing the job: not submitted twice.
        is_new = self._jobs.submit(
            submission_id,
            self._entrypoint(directory),
            wanted,
            # Read by Ray's own job supervisor (per job, whole seconds): see STOP_WAIT_MARGIN_SECONDS.
            {"RAY_JOB_STOP_WAIT_TIME_S": str(stop_wait_seconds)},
        )
        _log.info(
            "event=ray_job_submitted job=%s submission_id=%s is_new=%s cpus=%g gpus=%g memory_bytes=%d",
            job.id,
            submission_id,
            is_new,
            wanted.num_cpus,
            wanted.num_gpus,
            wanted.memory_bytes,
        )

    def _entrypoint(self, directory: run_dir.RunDir) -> str:
        # `exec`: the supervisor is the process Ray started, so Ray's signals reach it directly and
        # no shell sits between Ray and the job (reference/engines.md section 2).
        command = [self._python, "-m", SUPERVISOR_MODULE, str(directory.path)]
        return "exec " + shlex.join(command)

    def request_stop(self, handle: ExecutorHandle, intent: StopIntent) -> None:
        """Persist the stop intent in the run dir (first one wins), then wake the supervisor."""
        directory = _run_dir(handle)
        directory.path.mkdir(parents=True, exist_ok=True)  # a stop may precede the launch
        # Not fsynced: the store holds the intent durably and the reconciler re-delivers it.
        is_new = status_file.create_exclusive(
            directory.stop_file, documents.stop_to_dict(intent), is_durable=False
        )
        # A supervisor that is not ready yet reads stop.json once it is.
        is_woken = run_dir.signal_supervisor(directory, WAKE_SIGNAL)
        if not is_woken and "submission_id" in handle.ref:
            if directory.pid_file.exists():
                self._wake_through_ray(handle)
            else:
                self._stop_if_pending(handle)
        _log.info(
            "event=stop_delivered job=%s is_new=%s is_woken=%s deadline_at=%.3f",
            handle.ref["job_id"],
            is_new,
            is_woken,
            intent.deadline_at.timestamp(),
        )

    def _wake_through_ray(self, handle: ExecutorHandle) -> None:
        """The supervisor ran but is not a process on this host (another node of the cluster, or it
        just ended): Ray's stop delivers SIGTERM to it, and it reads the intent from stop.json first,
        so the reason and the deadline stay ours (Ray's SIGKILL comes only after the grace + margin)."""
        with contextlib.suppress(errors.Unavailable):  # the reconciler delivers the stop again
            is_stopping = self._jobs.stop(_submission_id(handle))
            _log.info("event=stop_sent_through_ray job=%s was_running=%s", handle.ref["job_id"], is_stopping)

    def _stop_if_pending(self, handle: ExecutorHandle) -> None:
        """Ask Ray to drop a job it has not started: its stop waits until the job's resources are
        free, and then ends the job before our supervisor even reads stop.json."""
        submission_id = _submission_id(handle)
        with contextlib.suppress(errors.Unavailable):  # the reconciler delivers the stop again
            state = self._jobs.state(submission_id)
            if state is not None and state.status == "PENDING":
                self._jobs.stop(submission_id)
                _log.info("event=pending_ray_job_stopped job=%s", handle.ref["job_id"])

    def observe(self, handle: ExecutorHandle) -> Observation:
        """The supervisor's report; Ray's own status decides when the job is gone without one."""
        directory = _run_dir(handle)
        last = reports.read(directory)
        if last is not None and last.phase is Phase.FINISHED:
            return last.observation
        current = Observation(Phase.PENDING) if last is None else last.observation
        if _is_supervisor_alive(directory):
            # The supervisor is Ray's entrypoint process itself: while it runs, Ray has nothing to add
            # (and a sweep of many jobs makes no HTTP call per job).
            return current
        try:
            state = self._jobs.state(_submission_id(handle))
        except errors.Unavailable as exc:
            return self._observe_without_ray(directory, current, exc)
        if state is not None and state.status == "PENDING" and directory.stop_file.exists():
            # Ray cannot stop a job it has not started (its stop waits for the job's resources): end
            # it here; if Ray ever starts it, the supervisor reads stop.json and spawns nothing.
            return unstarted.finish(directory) or current
        if state is not None and not state.is_terminal:
            return current  # not started yet, or just ended and Ray has not noticed
        last = reports.read(directory)  # the supervisor may have reported just before it ended
        if last is not None and last.phase is Phase.FINISHED:
            return last.observation
        if state is not None and state.status == "STOPPED":
            finished = unstarted.finish(directory)  # Ray carried out the stop before it started it
            if finished is not None:
                return finished
        reason = _ray_says(state, _submission_id(handle))
        _log.warning("event=ray_job_lost job=%s reason=%s", handle.ref["job_id"], reason)
        return dataclasses.replace(current, phase=Phase.LOST, lost_reason=reason)

    def _observe_without_ray(
        self, directory: run_dir.RunDir, current: Observation, exc: errors.Unavailable
    ) -> Observation:
        record = run_dir.read_record(directory)
        if record is None or run_dir.is_alive(record):
            return current  # not started yet, or running: Ray being unreachable changes nothing yet
        last = reports.read(directory)
        if last is not None and last.phase is Phase.FINISHED:
            return last.observation
        reason = f"its supervisor ended without a final report and {exc.message}"
        return dataclasses.replace(current, phase=Phase.LOST, lost_reason=reason)

    def kill_all(self, handle: ExecutorHandle) -> StopReport:
        """Have Ray stop what it still runs of the job, then kill what is left in its cgroup leaf."""
        directory = _run_dir(handle)
        if _is_supervisor_alive(directory):
            raise errors.Conflict("the job's supervisor is alive: stop the job instead")
        with contextlib.suppress(errors.Unavailable):
            self._jobs.stop(_submission_id(handle))  # the last resort: Ray's own SIGTERM and SIGKILL
        last = reports.read(directory)
        process = None if last is None else last.process
        if process is None or process.cgroup is None:
            # Without a cgroup nothing reliably names the job's processes once its subreaper died.
            if process is not None and Path(f"/proc/{process.main_pid}").exists():
                return StopReport(survivors=(process.main_pid,))
            return StopReport()
        return process_tree.kill_lost_job(process_tree.JobCgroup(Path(process.cgroup)), handle.ref["job_id"])

    def read_usage(self, handle: ExecutorHandle) -> Sequence[UsageSample]:
        """The supervisor's samples, read from the shared run dir (empty where it is not readable)."""
        return usage.read_samples(_run_dir(handle).usage_file)

    def read_log(self, handle: ExecutorHandle, offset: int, max_bytes: int) -> bytes:
        return run_dir.read_log(_run_dir(handle), offset, max_bytes)

    def read_log_marks(self, handle: ExecutorHandle) -> LogMarks:
        directory = _run_dir(handle)
        return log_index.read_marks(directory.job_log, directory.log_index)

    def watch(self, on_change: Callable[[str], None]) -> None:
        """Nothing to start: supervisors send their hints to `notify_socket_path`, which the server's
        local executor listens on (any job id wakes the reconciler); the sweep covers lost hints."""

    def close(self) -> None:
        self._jobs.close()


def _ray_says(state: RayJobState | None, submission_id: str) -> str:
    if state is None:
        return f"Ray no longer knows the job {submission_id} (was its head restarted?)"
    said = f"Ray reports the job {state.status}"
    return f"{said}: {state.message}" if state.message else said


def _run_dir(handle: ExecutorHandle) -> run_dir.RunDir:
    return run_dir.RunDir(Path(handle.ref["run_dir"]))


def _submission_id(handle: ExecutorHandle) -> str:
    return handle.ref.get("submission_id") or SUBMISSION_PREFIX + handle.ref["job_id"]


def _is_supervisor_alive(directory: run_dir.RunDir) -> bool:
    record = run_dir.read_record(directory)
    return record is not None and run_dir.is_alive(record)
