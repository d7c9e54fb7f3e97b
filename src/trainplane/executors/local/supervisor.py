"""The per-job supervisor process: `python -m trainplane.executors.local.supervisor <run_dir>`.

A thin I/O shell around `stop_protocol.step`: it observes stop.json, signals, exits and the
checkpoint handshake, and carries out the actions. Detached from the control plane (own session),
so a server crash or restart never touches the job. Imports stay light: it is on the start path.
"""

from __future__ import annotations

import logging
import os
import selectors
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trainplane.domain import documents
from trainplane.domain.job import Failure, FailureKind, StopIntent
from trainplane.domain.status import StopReason
from trainplane.executors.local import final_report, notify, process_tree, run_dir, status_file
from trainplane.executors.local import stop_protocol as protocol
from trainplane.executors.local.job_process import JobProcess

_log = logging.getLogger(__name__)
_WAKE_SIGNALS = (signal.SIGCHLD, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM, signal.SIGINT)
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)  # sent to the supervisor itself: a preemption


class Supervisor:
    """Runs one job from staging to its final status report."""

    def __init__(self, directory: run_dir.RunDir) -> None:
        self._dir = directory
        launch = status_file.read(directory.launch_file)
        if launch is None:
            raise FileNotFoundError(directory.launch_file)
        self._job_id: str = launch["job_id"]
        self._job_name: str = launch["job_name"]
        self._spec = documents.spec_from_dict(launch["spec"])
        self._notify_path = launch.get("notify_socket_path")
        self._status: dict[str, object] = {"job_id": self._job_id, "phase": "pending"}
        self._received: set[int] = set()
        self._stop: protocol.StopOrder | None = None
        self._checkpoint_mark: tuple[int, int] | None = None
        self._job = JobProcess(directory, launch, self._status, self._wait_for_wakeup)
        self._wake_fd = self._install_signal_handlers()
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_fd, selectors.EVENT_READ)

    def run(self) -> None:
        """Drive the job to its end; always leaves a final status behind."""
        # Ready only after the handlers exist: a wake-up signal before that would kill us.
        run_dir.write_record(self._dir, os.getpid(), is_ready=True)
        state = protocol.State(
            is_group_policy=self._spec.signal_policy != "main",
            max_runtime_seconds=self._spec.max_runtime_seconds,
            grace_seconds=self._spec.grace_seconds,
        )
        observations = self._observe()
        while True:
            state, actions = protocol.step(state, time.monotonic(), observations)
            for action in actions:
                self._perform(action)
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
            self._status.update(
                phase="finished",
                finished_at=time.time(),
                failure=documents.failure_to_dict(
                    Failure(FailureKind.PLATFORM, f"the job's supervisor failed: {exc!r}")
                ),
            )
            self._report()

    def _finish(self, state: protocol.State) -> None:
        self._job.remove_cgroup()
        was_stopped = self._stop is not None and (state.is_term_sent or not state.is_spawned)
        stop_reason = self._stop.reason if was_stopped and self._stop is not None else None
        exit_fields = final_report.exit_fields(self._job.wait_status)
        reason = self._job.staging_error or self._job.spawn_error
        if reason is None and not was_stopped:
            reason = final_report.failure(self._dir, exit_fields["exit_code"], exit_fields["exit_signal"])
        self._status.update(
            exit_fields,
            phase="packaging",
            was_stopped=was_stopped,
            has_complete_checkpoint=state.has_complete_checkpoint,
            failure=documents.failure_to_dict(reason),
        )
        if was_stopped and "stop_report" not in self._status:
            self._status["stop_report"] = self._job.report
        self._report()
        if self._job.staging_error is None:
            self._package(stop_reason, state, exit_fields["exit_code"])
        self._status.update(phase="finished", finished_at=time.time())
        self._report()
        _log.info("event=job_finished job=%s failure=%s", self._job_id, self._status["failure"])

    def _package(self, stop_reason: str | None, state: protocol.State, exit_code: int | None) -> None:
        try:
            self._status["metrics"] = final_report.metrics(self._dir, self._spec)
        except Exception:  # metrics are best effort: a bad log must not lose the model
            _log.exception("event=metrics_failed job=%s", self._job_id)
        exited_at = self._status.get("exited_at")
        packaged = final_report.package(
            self._dir,
            job_name=self._job_name,
            spec=self._spec,
            reason=final_report.package_reason(stop_reason, exit_code),
            stopped_at=(exited_at or time.time()) if stop_reason else None,  # type: ignore[arg-type]
            has_complete_checkpoint=state.has_complete_checkpoint,
        )
        error = packaged.pop("packaging_error", None)
        if error is not None and self._status.get("failure") is None:
            self._status["failure"] = documents.failure_to_dict(error)
        self._status.update(packaged)

    # --- observing -----------------------------------------------------------------------------

    def _observe(self) -> protocol.Observations:
        stop = self._read_stop()
        has_main_exited = self._job.reap()
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
            now = datetime.now(UTC)
            grace_seconds = self._spec.grace_seconds
            intent = StopIntent(
                now, now + timedelta(seconds=grace_seconds), StopReason.PREEMPTED, grace_seconds
            )
        if intent is None:
            return None
        deadline_at = intent.deadline_at.timestamp()
        remaining_seconds = deadline_at - time.time()
        self._stop = protocol.StopOrder(intent.reason.value, time.monotonic() + remaining_seconds)
        self._status["stop"] = documents.stop_to_dict(intent)
        _log.info(
            "event=stop_received job=%s reason=%s deadline_at=%.3f",
            self._job_id,
            self._stop.reason,
            deadline_at,
        )
        return self._stop

    def _begin_stop(self, order: protocol.StopOrder) -> None:
        """Record a stop the supervisor started itself (max runtime), as the control plane would."""
        now = datetime.now(UTC)
        grace_seconds = self._spec.grace_seconds
        intent = StopIntent(
            now, now + timedelta(seconds=grace_seconds), StopReason(order.reason), grace_seconds
        )
        self._stop = order
        self._status["stop"] = documents.stop_to_dict(intent)
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
            self._status["phase"] = "staging"
            self._status["staged_at"] = time.time()
            self._report()
            self._job.stage()
        elif isinstance(action, protocol.Spawn):
            self._job.spawn()
            self._report()
            # Import the packaging code while the job trains: at exit it would cost ~30 ms on the
            # stop path (bench/stop_latency.py), and before the spawn it would delay the job's start.
            final_report.preload()
        elif isinstance(action, protocol.BeginStop):
            self._begin_stop(action.order)
        elif isinstance(action, protocol.SendTerm):
            self._job.send_term()
            self._report()
        elif isinstance(action, protocol.SendKill):
            self._job.send_kill(action.cause)
            self._report()
        elif isinstance(action, protocol.Report):
            self._report()

    def _report(self) -> None:
        # Only the final report must outlive a power loss (pain 12: the exit code is known even if
        # the server was down); progress reports are re-derived from it or reported LOST.
        is_final = self._status.get("phase") == "finished"
        status_file.write_atomic(self._dir.status_file, self._status, is_durable=is_final)
        if self._notify_path:
            notify.send(Path(self._notify_path), self._job_id)

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

    def _wait_for_wakeup(self, deadline: float | None) -> None:
        """Block until a signal arrives or the monotonic `deadline` passes."""
        timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
        if self._selector.select(timeout):
            try:
                while os.read(self._wake_fd, 512):
                    pass
            except BlockingIOError:
                pass


def main(argv: list[str]) -> int:
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    if not process_tree.become_subreaper():
        _log.warning("event=subreaper_unavailable: double-forked processes may escape the sweep")
    directory = run_dir.RunDir(Path(argv[1]))
    try:
        supervisor = Supervisor(directory)
    except Exception as exc:  # the edge: nothing was spawned yet, but the failure must be reported
        _log.exception("event=supervisor_failed run_dir=%s", directory.path)
        reason = documents.failure_to_dict(
            Failure(FailureKind.PLATFORM, f"the job's supervisor could not start: {exc!r}")
        )
        status_file.write_atomic(
            directory.status_file,
            {"phase": "finished", "finished_at": time.time(), "failure": reason},
        )
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
