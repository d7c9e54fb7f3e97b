"""The per-job supervisor process: `python -m trainplane.executors.supervisor.supervisor <run_dir>`.

A thin I/O shell around `stop_protocol.step`: it observes stop.json, signals, exits and the
checkpoint handshake, and carries out the actions. Detached from the control plane (own session),
so a server crash or restart never touches the job. With `--successor` it adopts a job whose
supervisor was lost and carries on its duties (same deadlines, kill, package, true counts).
Imports stay light: it is on the start path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import selectors
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trainplane.domain import documents
from trainplane.domain.job import Failure, FailureKind, JobSpec, StopIntent, StopReport
from trainplane.domain.status import StopReason
from trainplane.executors.supervisor import log_index, outcome, process_tree, run_dir, status_file, usage
from trainplane.executors.supervisor import report as reports
from trainplane.executors.supervisor import stop_protocol as protocol
from trainplane.executors.supervisor.job_process import JobProcess
from trainplane.service.observations import Observation, Phase

_log = logging.getLogger(__name__)
_WAKE_SIGNALS = (signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # sent to the supervisor itself: a preemption
SUCCESSOR_FLAG = "--successor"


class Supervisor:
    """Runs one job from staging (or from where a lost supervisor left it) to its final report."""

    def __init__(self, directory: run_dir.RunDir, *, is_successor: bool = False) -> None:
        self._dir = directory
        launch = status_file.read(directory.launch_file)
        if launch is None:
            raise FileNotFoundError(directory.launch_file)
        self._job_id: str = launch["job_id"]
        self._job_name: str = launch["job_name"]
        self._spec = documents.spec_from_dict(launch["spec"])
        self._pinned_output_root: str | None = launch.get("output_root_real")
        self._writer = reports.ReportWriter(directory, launch.get("notify_socket_path"))
        self._report = reports.Report(self._job_id, Observation(Phase.PENDING))
        self._received: set[int] = set()
        self._stop: protocol.StopOrder | None = None
        self._checkpoint_mark: tuple[int, int] | None = None
        self._job = JobProcess(directory, launch, self._wait_for_wakeup)
        self._state = protocol.State(
            is_group_policy=self._spec.signal_policy != "main",
            max_runtime_seconds=self._spec.max_runtime_seconds,
            grace_seconds=self._spec.grace_seconds,
        )
        self._wake_fd = self._install_signal_handlers()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_fd, selectors.EVENT_READ)
        self._main_pidfd: int | None = None
        self._log_index = log_index.watched(directory.job_log, directory.log_index, self._selector)
        interval = float(launch.get("usage_interval_seconds", usage.DEFAULT_INTERVAL_SECONDS))
        self._usage = usage.UsageSampler(directory.usage_file, interval)
        self._warning_at: float | None = None  # monotonic: when SIGUSR1 warns of max runtime
        self._has_unwritten_news = False
        self._has_news_for_server = (
            False  # a stop the control plane did not ask for (max runtime, preemption)
        )
        if is_successor:
            self._adopt()

    def run(self) -> None:
        """Drive the job to its end; always leaves a final report behind."""
        # Ready only after the handlers exist: a wake-up signal before that would kill us.
        run_dir.write_record(self._dir, os.getpid(), is_ready=True)
        state = self._state
        observations = self._observe()
        while True:
            state, actions = protocol.step(state, time.monotonic(), observations)
            self._state = state
            for action in actions:
                self._perform(action)
            if self._has_unwritten_news:
                self._write(is_hinted=self._has_news_for_server)
            if state.is_done:
                break
            if not actions:
                # Block only once a step finds nothing to do: acting (staging, the kill's reaping)
                # may itself have produced news that no signal will announce again.
                self._wait_for_wakeup(protocol.next_wakeup(state))
            observations = self._observe()
        self._finish(state)

    def fail(self, exc: BaseException) -> None:
        """A bug in the supervisor: end the job and still leave a final report (never unreported)."""
        try:
            self._job.send_kill("supervisor_failed")
            self._job.remove_cgroup()
        finally:
            failure = Failure(FailureKind.PLATFORM, f"the job's supervisor failed: {exc!r}")
            self._write(
                phase=Phase.FINISHED,
                finished_at=datetime.now(UTC),
                failure=failure,
                stop_report=self._job.stop_report,
            )

    # --- adopting a lost supervisor's job ------------------------------------------------------

    def _adopt(self) -> None:
        previous = reports.read(self._dir)
        started_at = None if previous is None else previous.observation.started_at
        if previous is None or previous.process is None or started_at is None:
            raise RuntimeError("nothing to adopt: the lost supervisor never started the job")
        seen = previous.observation
        self._report = dataclasses.replace(previous, adoptions=previous.adoptions + 1)
        self._job.adopt(previous.process, seen.outcome.stop_report, started_at)
        intent = seen.stop or documents.stop_from_dict(status_file.read(self._dir.stop_file))
        if intent is not None:
            self._receive_stop(intent)
        self._state = dataclasses.replace(
            self._state,
            is_staged=True,
            is_spawned=True,
            stop=self._stop,
            is_term_sent=self._job.stop_report.term_sent_at is not None,
            has_complete_checkpoint=seen.outcome.has_complete_checkpoint,
        )
        self._checkpoint_arrived()  # an old handshake must not count as a new one
        self._main_pidfd = self._job.main_pidfd()
        if self._main_pidfd is not None:
            self._selector.register(self._main_pidfd, selectors.EVENT_READ)
        self._usage.start(self._job.usage_files(), self._job.members)
        _log.info(
            "event=supervisor_adopted job=%s main_pid=%d adoptions=%d stop=%s",
            self._job_id,
            previous.process.main_pid,
            self._report.adoptions,
            None if intent is None else intent.reason.value,
        )

    # --- finishing -----------------------------------------------------------------------------

    def _finish(self, state: protocol.State) -> None:
        self._log_index.mark()  # the job's last lines get their time before packaging
        was_stopped = self._stop is not None and (state.is_term_sent or not state.is_spawned)
        stop_reason = self._stop.reason if was_stopped and self._stop is not None else None
        exit = self._exit()
        failure = self._job.staging_error or self._job.spawn_error
        if failure is None and not was_stopped and state.is_spawned:
            failure = outcome.UNKNOWN_EXIT if exit.code is None else outcome.failure(self._dir, exit)
            if exit.code != 0:
                failure = self._job.out_of_memory() or failure  # issue 10: said as SageMaker says it
        has_signals = self._job.stop_report != StopReport()
        self._apply(
            phase=Phase.PACKAGING,
            was_stopped=was_stopped,
            exited_at=self._job.exited_at,
            exit_code=exit.code,
            failure=failure,
            has_complete_checkpoint=state.has_complete_checkpoint,
            stop_report=self._job.stop_report if has_signals or was_stopped else None,
        )
        if not was_stopped:
            # Wakes the server (Training -> Uploading). Not written after a stop: on the stop's
            # critical path nobody reads it, the final report follows in milliseconds, and a
            # successor that finds a stopped job gone ends it Stopped all the same.
            self._write()
        if self._job.staging_error is None:
            self._package(stop_reason, state, exit.code)
        self._usage.finish()  # the job's total CPU (tens of microseconds): readable once it is finished
        self._write(phase=Phase.FINISHED, finished_at=datetime.now(UTC))
        self._job.remove_cgroup()  # cleanup of an empty leaf: after the report, off the stop's path
        # Closing an inotify instance waits for the kernel's SRCU grace period (milliseconds): after the
        # final report, where it costs no stop any time.
        self._log_index.close()
        _log.info(
            "event=job_finished job=%s failure=%s", self._job_id, self._report.observation.outcome.failure
        )

    def _exit(self) -> outcome.Exit:
        if self._job.wait_status is not None or not self._job.is_adopted:
            return outcome.exit_of(self._job.wait_status)
        # A successor cannot wait for a process it did not start; the lost one may have reported it.
        return outcome.Exit(self._report.observation.outcome.exit_code)

    def _package(self, stop_reason: str | None, state: protocol.State, exit_code: int | None) -> None:
        try:
            self._report = self._report.with_outcome(metrics=outcome.metrics(self._dir, self._spec))
        except Exception:  # metrics are best effort: a bad log must not lose the model
            _log.exception("event=metrics_failed job=%s", self._job_id)
        exited_at = self._job.exited_at or datetime.now(UTC)
        packaged = outcome.package(
            self._dir,
            job_name=self._job_name,
            spec=self._spec,
            reason=outcome.package_reason(stop_reason, exit_code),
            stopped_at=exited_at if stop_reason else None,
            has_complete_checkpoint=state.has_complete_checkpoint,
            pinned_output_root=self._pinned_output_root,
        )
        if isinstance(packaged, Failure):
            self._report = self._report.with_outcome(
                failure=outcome.after_packaging_failed(
                    self._report.observation.outcome.failure, stop_reason, packaged
                )
            )
            return
        self._report = self._report.with_outcome(
            model_uri=packaged.model_uri,
            output_uri=packaged.output_uri,
            has_complete_checkpoint=packaged.has_complete_checkpoint,
            model_digest=packaged.model_digest,
        )

    # --- observing -----------------------------------------------------------------------------

    def _observe(self) -> protocol.Observations:
        stop = self._read_stop()
        has_main_exited = self._job.reap()
        if has_main_exited and self._main_pidfd is not None:
            self._selector.unregister(self._main_pidfd)  # readable for good now: stop watching it
            os.close(self._main_pidfd)
            self._main_pidfd = None
        return protocol.Observations(
            stop=stop,
            is_staged=self._job.is_staged,
            has_staging_failed=self._job.staging_error is not None,
            has_main_exited=has_main_exited,
            has_checkpoint_completed=self._checkpoint_arrived(),
            spawned_at=self._job.spawned_at,
            # Only asked while a stop drains the job: a /proc scan per wake-up is not free.
            has_job_processes=has_main_exited and stop is not None and bool(self._job.members()),
        )

    def _read_stop(self) -> protocol.StopOrder | None:
        if self._stop is not None:
            return self._stop  # converted once, on receipt: re-reading must not move the deadline
        intent = documents.stop_from_dict(status_file.read(self._dir.stop_file))
        if intent is None and self._received & set(_STOP_SIGNALS):
            # Someone else (an engine, an operator) sent us SIGTERM: the same protocol, as a preemption.
            intent = _intent_from_now(StopReason.PREEMPTED, self._spec.grace_seconds)
            self._has_news_for_server = True
        if intent is not None:
            self._receive_stop(intent)
        return self._stop

    def _receive_stop(self, intent: StopIntent) -> None:
        deadline_at = intent.deadline_at.timestamp()
        self._stop = protocol.StopOrder(intent.reason.value, time.monotonic() + deadline_at - time.time())
        self._report = self._report.with_observation(stop=intent)
        _log.info(
            "event=stop_received job=%s reason=%s deadline_at=%.3f",
            self._job_id,
            intent.reason.value,
            deadline_at,
        )

    def _begin_stop(self, order: protocol.StopOrder) -> None:
        """Record a stop the supervisor started itself (max runtime), as the control plane would."""
        intent = _intent_from_now(StopReason(order.reason), self._spec.grace_seconds)
        self._stop = order
        self._report = self._report.with_observation(stop=intent)
        self._has_news_for_server = True
        _log.info(
            "event=stop_begun job=%s reason=%s deadline_at=%.3f",
            self._job_id,
            order.reason,
            intent.deadline_at.timestamp(),
        )

    def _checkpoint_arrived(self) -> bool:
        """True once per new checkpoint-complete file (each handshake replaces it: new inode)."""
        try:
            st = self._dir.checkpoint_complete_file.stat()
        except FileNotFoundError:
            return False
        mark = (st.st_ino, st.st_mtime_ns)
        if mark == self._checkpoint_mark:
            return False
        self._checkpoint_mark = mark
        _log.info("event=checkpoint_complete job=%s", self._job_id)
        return True

    # --- acting --------------------------------------------------------------------------------

    def _perform(self, action: protocol.Action) -> None:
        if isinstance(action, protocol.Stage):
            # No hint: the server records Downloading together with Training a few ms later, instead
            # of competing for the CPU while the job is being started.
            self._write(is_hinted=False, phase=Phase.STAGING, staged_at=datetime.now(UTC))
            self._job.stage()
        elif isinstance(action, protocol.Spawn):
            self._job.spawn()
            if self._job.started_at is not None:
                self._report = dataclasses.replace(self._report, process=self._job.process_record)
                self._write(phase=Phase.RUNNING, started_at=self._job.started_at)
                self._usage.start(self._job.usage_files(), self._job.members)
                self._warning_at = _warning_at(self._spec, self._job.spawned_at)
            # Import the packaging code while the job trains: at exit it would cost ~30 ms on the
            # stop path (bench/stop_latency.py), and before the spawn it would delay the job's start.
            outcome.preload()
        elif isinstance(action, protocol.BeginStop):
            self._begin_stop(action.order)
        elif isinstance(action, protocol.SendTerm):
            self._job.send_term()
            self._write(is_hinted=self._has_news_for_server, stop_report=self._job.stop_report)
        elif isinstance(action, protocol.SendKill):
            self._job.send_kill(action.cause)
            self._write(is_hinted=False, stop_report=self._job.stop_report)
        elif isinstance(action, protocol.Report):
            # Written after the batch, so a SIGTERM in the same batch goes out first (the stop's
            # critical path) and one write carries both.
            self._report = self._report.with_outcome(
                has_complete_checkpoint=self._state.has_complete_checkpoint
            )
            self._has_unwritten_news = True

    def _apply(self, **changes: object) -> None:
        """Apply `changes` (observation or outcome fields) to the report, without writing it."""
        self._report = self._report.with_changes(**changes)

    def _write(self, *, is_hinted: bool = True, **changes: object) -> None:
        """Apply `changes` (observation or outcome fields) to the report and write it.

        `is_hinted` wakes the control plane: only for what moves the job's status (running,
        uploading, finished) or a stop it did not ask for; signal counts and checkpoint marks wait
        for the final report, so the server does not compete for the CPU while the job stops.
        """
        self._apply(**changes)
        self._writer.write(self._report, is_hinted=is_hinted)
        self._has_unwritten_news = self._has_news_for_server = False

    def _warn_if_due(self) -> None:
        """Slurm's --signal=B:USR1@N: tell the job its max runtime is near, once, unless it is stopping."""
        if self._warning_at is None or time.monotonic() < self._warning_at:
            return
        self._warning_at = None
        if self._stop is None and self._job.send_warning():
            self._write(warned_at=datetime.now(UTC))  # the control plane records it in the history

    # --- waiting -------------------------------------------------------------------------------

    def _install_signal_handlers(self) -> int:
        read_fd, write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        # The C-level handler writes the signal number here, so select() wakes even when the
        # signal lands between our last check and the call (no lost wake-ups).
        signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)
        for signum in _WAKE_SIGNALS:
            signal.signal(signum, self._on_signal)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        return read_fd

    def _on_signal(self, signum: int, frame: object) -> None:
        self._received.add(signum)  # only a flag: the loop does the work

    def _drain_wake_fd(self) -> bool:
        """Read every pending signal byte; True if there was one."""
        had_any = False
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_fd, 512):
                had_any = True
        return had_any

    def _wait_for_wakeup(self, deadline: float | None) -> None:
        """Block until a signal arrives, the adopted entrypoint ends, or `deadline` passes.

        The job's log growing is handled here without returning: each write would otherwise cost a
        whole protocol step (on a chatty job, CPU the stop needs)."""
        log_fd = self._log_index.fileno()
        while True:
            wake_at = _earliest(_earliest(deadline, self._log_index.resume_at), self._usage.due_at)
            wake_at = _earliest(wake_at, self._warning_at)
            timeout = None if wake_at is None else max(0.0, wake_at - time.monotonic())
            ready = [key.fd for key, _ in self._selector.select(timeout)]
            if log_fd is not None and log_fd in ready:
                self._log_index.on_modified()
            self._log_index.on_timer()
            self._usage.on_timer()
            self._warn_if_due()
            # Drained whether or not select saw it: a signal landing after select still counts.
            if self._drain_wake_fd() or any(fd != log_fd for fd in ready):
                return  # a signal or the adopted entrypoint's end
            if deadline is not None and time.monotonic() >= deadline:
                return


def _warning_at(spec: JobSpec, spawned_at: float | None) -> float | None:
    warning, limit = spec.max_runtime_warning_seconds, spec.max_runtime_seconds
    if warning is None or limit is None or spawned_at is None:
        return None
    return spawned_at + max(0.0, limit - warning)


def _earliest(first: float | None, second: float | None) -> float | None:
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


def _intent_from_now(reason: StopReason, grace_seconds: float) -> StopIntent:
    now = datetime.now(UTC)
    return StopIntent(now, now + timedelta(seconds=grace_seconds), reason, grace_seconds)


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not process_tree.become_subreaper():
        _log.warning("event=subreaper_unavailable: double-forked processes may escape the sweep")
    directory = run_dir.RunDir(Path(argv[1]))
    is_successor = SUCCESSOR_FLAG in argv[2:]
    try:
        supervisor = Supervisor(directory, is_successor=is_successor)
    except Exception as exc:
        _log.exception("event=supervisor_failed run_dir=%s", directory.path)
        if is_successor:
            return 1  # the job may still run: the launcher tries again or kills it, then reports it lost
        # The edge: nothing was spawned yet, but the failure must be reported.
        failure = Failure(FailureKind.PLATFORM, f"the job's supervisor could not start: {exc!r}")
        final = reports.Report(
            directory.path.name, Observation(Phase.FINISHED, finished_at=datetime.now(UTC))
        )
        reports.ReportWriter(directory, None).write(final.with_outcome(failure=failure))
        return 1
    try:
        supervisor.run()
    except Exception as exc:  # the edge: log it, kill the job, and report instead of vanishing
        _log.exception("event=supervisor_failed run_dir=%s", directory.path)
        supervisor.fail(exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
