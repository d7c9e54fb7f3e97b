"""The supervised job's processes: stage, spawn, SIGTERM per policy, SIGKILL everything and verify.

Used by the supervisor only. Every process of the job is found through its cgroup v2 leaf where one
could be made, else as a descendant of the supervisor (a child subreaper), so double-forked and
reparented processes are caught either way. It returns facts (`started_at`, `stop_report`, ...); the
supervisor alone turns them into the report.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from trainplane import protocol
from trainplane.domain import documents, errors
from trainplane.domain.job import Failure, FailureKind, StopReport
from trainplane.executors.supervisor import (
    allocated,
    delegated,
    limits,
    opt_ml,
    process_tree,
    run_dir,
    status_file,
    usage,
)
from trainplane.executors.supervisor.report import ProcessRecord

_log = logging.getLogger(__name__)
KILL_VERIFY_SECONDS = 2.0  # how long SIGKILLed processes get to disappear before they count as survivors
_VERIFY_POLL_SECONDS = 0.02  # backstop between SIGCHLD wake-ups: a cgroup emptying sends us no signal

_LOGGED_PIDS = 20
WaitFn = Callable[[float | None], None]


class JobProcess:
    """One job's process tree, as seen and handled by its supervisor."""

    def __init__(
        self,
        directory: run_dir.RunDir,
        launch: Mapping[str, Any],
        wait_for_wakeup: WaitFn,
    ) -> None:
        self._dir = directory
        self._launch = launch
        self._job_id: str = launch["job_id"]
        self.spec = documents.spec_from_dict(launch["spec"])
        self._wait = wait_for_wakeup
        self._cgroup: process_tree.JobCgroup | None = None
        self._limits = limits.JobLimits(limits.Limits.from_dict(launch.get("limits")))
        self._main_pid: int | None = None
        self._main_start_ticks: int | None = None
        self.is_adopted = False  # started by a lost supervisor: not our child, its exit status unknowable
        self.wait_status: int | None = None  # os.waitpid status of the entrypoint
        self.has_main_exited = False
        self.spawned_at: float | None = None  # monotonic instant the entrypoint started
        self.started_at: datetime | None = None
        self.exited_at: datetime | None = None
        self.spawn_error: Failure | None = None
        self.is_staged = False
        self.staging_error: Failure | None = None
        self.stop_report = StopReport()

    def adopt(self, record: ProcessRecord, stop_report: StopReport | None, started_at: datetime) -> None:
        """Take over a job whose supervisor was lost: its pids, cgroup and the counts so far."""
        self.is_adopted = self.is_staged = True
        self._main_pid, self._main_start_ticks = record.main_pid, record.main_start_ticks
        self._cgroup = None if record.cgroup is None else process_tree.JobCgroup(Path(record.cgroup))
        self._limits = limits.JobLimits.from_dict(status_file.read(self._dir.limits_file)) or self._limits
        self.stop_report = stop_report or StopReport()
        self.started_at = started_at
        self.spawned_at = time.monotonic() - max(0.0, time.time() - started_at.timestamp())

    @property
    def process_record(self) -> ProcessRecord | None:
        if self._main_pid is None:
            return None
        cgroup = None if self._cgroup is None else str(self._cgroup.path)
        return ProcessRecord(self._main_pid, self._main_start_ticks, cgroup)

    def stage(self) -> None:
        """Stage inputs and write the config files; a failure is kept as the failure reason."""
        from trainplane.artifacts import s3, s3_checkpoints
        from trainplane.artifacts.environment import write_config_files
        from trainplane.artifacts.layout import JobLayout
        from trainplane.artifacts.staging import stage_inputs

        layout = JobLayout(self._dir.base_dir)
        durable = _checkpoint_location(self.spec.checkpoint_uri)
        is_new_durable = durable is not None and not durable.exists()
        try:
            # A stop during a download ends staging at once; the job is then never spawned.
            stage_inputs(self.spec, layout, should_stop=self._dir.stop_file.exists)
            write_config_files(spec=self.spec, layout=layout)
            allocated.annotate_resource_config(
                layout.input_config_dir / "resourceconfig.json", self._launch.get("allocation")
            )
            run_as = self._launch.get("run_as")
            if run_as:  # the job's own tree (and a checkpoint dir staging made) becomes the job user's
                self._dir.control_dir.mkdir(exist_ok=True)
                owned = [layout.base_dir, self._dir.control_dir]
                _hand_over(owned + ([durable] if durable and is_new_durable else []), run_as)
        except s3.Interrupted:
            _log.info("event=staging_interrupted job=%s", self._job_id)
            return
        except errors.Invalid as exc:
            self.staging_error = Failure(FailureKind.USER, f"staging the inputs failed: {exc.reason}")
        except OSError as exc:
            self.staging_error = Failure(FailureKind.PLATFORM, f"staging the inputs failed: {exc}")
        else:
            self.is_staged = True
            s3_checkpoints.start(self.spec, layout)  # s3:// checkpoints go up while the job runs
            return
        _log.warning("event=staging_failed job=%s reason=%s", self._job_id, self.staging_error)

    def spawn(self) -> None:
        """Start the entrypoint in its own session (and cgroup leaf), logging to job.log."""
        self._dir.control_dir.mkdir(exist_ok=True)
        env = delegated.environment(self._launch, dict(self._launch["environment"]))
        env[protocol.CONTROL_DIR_ENV] = str(self._dir.control_dir)
        env[protocol.SUPERVISOR_PID_ENV] = str(os.getpid())
        if self.spec.max_runtime_seconds is not None:  # trainplane.runtime.time_left_seconds() reads it
            env[protocol.MAX_RUNTIME_DEADLINE_ENV] = f"{time.time() + self.spec.max_runtime_seconds:.3f}"
        self._cgroup = process_tree.JobCgroup.create(self._job_id)
        self._limits = limits.JobLimits.apply(self._job_id, self._limits.limits, self._cgroup)
        # For a successor supervisor (OOM detection, cleanup); not fsynced: on the start path.
        status_file.write_atomic(self._dir.limits_file, self._limits.to_dict(), is_durable=False)
        not_private = opt_ml.bind_private(self._dir.base_dir)  # the job inherits our mount namespace
        _log.info("event=opt_ml job=%s private=%s reason=%s", self._job_id, not_private is None, not_private)
        log_fd = os.open(self._dir.job_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        run_as = self._launch.get("run_as") or {}
        try:
            with contextlib.ExitStack() as stack:
                child = self._popen(stack, env, log_fd, run_as)
        except (OSError, ValueError) as exc:  # no such program, empty command, bad cwd
            self.spawn_error = Failure(FailureKind.ALGORITHM, f"the training process could not start: {exc}")
            _log.warning("event=spawn_failed job=%s error=%s", self._job_id, exc)
            return
        finally:
            os.close(log_fd)
        # We reap with waitpid(-1) ourselves; tell Popen so it never warns or waits again.
        child.returncode = 0
        self._limits.place(child.pid, self._cgroup)
        self.spawned_at = time.monotonic()
        self.started_at = datetime.now(UTC)
        self._main_pid = child.pid
        self._main_start_ticks = process_tree.start_ticks(child.pid)
        _log.info("event=job_spawned job=%s pid=%d cgroup=%s", self._job_id, child.pid, self._cgroup)

    def _popen(
        self, stack: contextlib.ExitStack, env: dict[str, str], log_fd: int, run_as: dict[str, int]
    ) -> subprocess.Popen[bytes]:
        stack.enter_context(self._limits.holding_self())  # v1 leaves, where limits need them
        # In the leaf before the fork (fast path), else entered by the child before exec (slow path).
        is_inside = self._cgroup is not None and stack.enter_context(self._cgroup.holding_self())
        procs_fd = None
        if self._cgroup is not None and not is_inside:
            procs_fd = self._cgroup.open_procs()
            stack.callback(os.close, procs_fd)
        return subprocess.Popen(
            delegated.command(self._launch, self.spec.command),
            cwd=self._dir.base_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # the job never receives signals meant for us
            preexec_fn=None if procs_fd is None else _enter_cgroup(procs_fd),
            user=run_as.get("uid"),
            group=run_as.get("gid"),
            extra_groups=[] if run_as and os.getuid() == 0 else None,  # drop the server's groups
        )

    def reap(self) -> bool:
        """Collect exited children; True once the entrypoint is gone (or never started)."""
        for pid, wait_status in process_tree.reap_children():
            if pid == self._main_pid:
                self._main_gone(wait_status)
        if self.is_adopted and not self.has_main_exited and not self._is_main_running():
            self._main_gone(None)  # not our child: gone, with an exit status nobody can know
        return self.has_main_exited or self.spawn_error is not None

    def _main_gone(self, wait_status: int | None) -> None:
        self.wait_status = wait_status
        self.has_main_exited = True
        self.exited_at = datetime.now(UTC)
        shown = "unknown" if wait_status is None else describe_exit(wait_status)
        _log.info("event=job_exited job=%s %s", self._job_id, shown)

    def _is_main_running(self) -> bool:
        if self._main_pid is None or self._main_start_ticks is None:
            return self._main_pid is not None and process_tree.start_ticks(self._main_pid) is not None
        return process_tree.is_running(self._main_pid, self._main_start_ticks)

    def main_pidfd(self) -> int | None:
        """A pidfd that turns readable when the adopted entrypoint ends (we get no SIGCHLD for it)."""
        if not self.is_adopted or self._main_pid is None or not self._is_main_running():
            return None
        try:
            return os.pidfd_open(self._main_pid)
        except ProcessLookupError:
            return None

    def members(self) -> set[int]:
        """Every live process of the job: its cgroup leaf, else the supervisor's descendants.

        The leaf holds every fork and daemon of the job in one read; the /proc scan costs
        milliseconds per hundred processes on the machine, so it is only the fallback.
        """
        if self._cgroup is not None:
            return self._cgroup.pids()
        if self.is_adopted:
            # Orphans of the lost supervisor went to PID 1: only the entrypoint's own tree is known.
            main = {self._main_pid} if self._main_pid is not None and self._is_main_running() else set()
            return main | (process_tree.descendants(self._main_pid) if main and self._main_pid else set())
        return process_tree.descendants(os.getpid())

    def send_warning(self) -> bool:
        """SIGUSR1 to the entrypoint alone (its default action kills: only the job's own process asked
        for it, not its workers); True if it was delivered."""
        if self._main_pid is None or self.has_main_exited:
            return False
        reached = process_tree.signal_pids({self._main_pid}, signal.SIGUSR1)
        _log.info("event=max_runtime_warning_sent job=%s delivered=%s", self._job_id, bool(reached))
        return bool(reached)

    def send_term(self) -> None:
        """SIGTERM per the signal policy: the whole job ("group") or the entrypoint ("main")."""
        delivered = delegated.deliver(self._launch, "TERM")  # on several nodes: through their engine
        if delivered is not None:
            reached: set[int] = set()
        elif self.spec.signal_policy == "main":
            targets = set() if self._main_pid is None or self.has_main_exited else {self._main_pid}
            reached = process_tree.signal_pids(targets, signal.SIGTERM)
        else:
            reached = process_tree.signal_pids(self.members(), signal.SIGTERM)
        count = len(reached) + (0 if delivered is None else delivered.pids)
        self.stop_report = dataclasses.replace(
            self.stop_report, term_sent_at=datetime.now(UTC), term_pids=count
        )
        _log.info("event=sigterm_sent job=%s pids=%d %s", self._job_id, count, _some(reached))

    def send_kill(self, cause: str) -> None:
        """SIGKILL every process of the job, wait for them to vanish, and record any survivor."""
        sent_at = datetime.now(UTC)
        delivered = delegated.deliver(self._launch, "KILL")  # the job's processes on the other nodes
        reached, survivors = self._kill_and_verify()
        report = self.stop_report
        count = len(reached) + (0 if delivered is None else delivered.pids)
        if count or cause != "main_exited":
            report = dataclasses.replace(
                report, kill_sent_at=report.kill_sent_at or sent_at, kill_pids=report.kill_pids + count
            )
            _log.info(
                "event=sigkill_sent job=%s cause=%s pids=%d %s",
                self._job_id,
                cause,
                len(reached),
                _some(reached),
            )
        self.stop_report = dataclasses.replace(report, survivors=tuple(sorted(survivors)))
        if survivors:
            _log.error("event=survivors job=%s pids=%s", self._job_id, sorted(survivors))

    def _kill_and_verify(self) -> tuple[set[int], set[int]]:
        reached: set[int] = set()
        verify_until = time.monotonic() + KILL_VERIFY_SECONDS
        while True:
            targets = self.members()
            if not targets and not reached:
                # Nothing of the job is left to kill (the usual end: the entrypoint exited alone).
                # Waiting for cgroup.events to say so as well cost the stop ~3 ms for nothing.
                return reached, set()
            # One by one first, so the count is exact (a victim's parent may reap it at once),
            # then the cgroup-wide kill, which also catches a process forked after the snapshot.
            # The entrypoint first: killed after its children, a shell's `wait` could return 0 first.
            ordered = sorted(targets, key=lambda pid: pid != self._main_pid)
            reached |= process_tree.signal_pids(ordered, signal.SIGKILL)
            if self._cgroup is not None and targets:
                self._cgroup.kill()
            self.reap()
            left = self.members()
            is_populated = self._cgroup is not None and self._cgroup.is_populated()
            if not left and not is_populated:
                return reached, set()
            if time.monotonic() >= verify_until:
                return reached, left
            self._wait(min(verify_until, time.monotonic() + _VERIFY_POLL_SECONDS))

    def usage_files(self) -> usage.UsageFiles:
        """Where the job's usage counters are (none without a cgroup: sampled from /proc then)."""
        base = usage.UsageFiles() if self._cgroup is None else usage.UsageFiles.of_leaf(self._cgroup.path)
        return self._limits.usage_files(base)

    def out_of_memory(self) -> Failure | None:
        """The failure of a job the kernel OOM-killed in its own cgroup; None otherwise."""
        return limits.oom_failure(self._limits.limits) if self._limits.oom_kills() else None

    def remove_cgroup(self) -> None:
        if self._cgroup is not None:
            self._cgroup.remove()
        self._limits.remove()


def _some(pids: set[int]) -> str:
    """The first pids, for the log line; a fork bomb must not make it megabytes long."""
    shown = sorted(pids)[:_LOGGED_PIDS]
    return "pid_list=" + ",".join(map(str, shown)) + (",..." if len(pids) > _LOGGED_PIDS else "")


def describe_exit(wait_status: int) -> str:
    if os.WIFSIGNALED(wait_status):
        return f"signal={os.WTERMSIG(wait_status)}"
    return f"code={os.waitstatus_to_exitcode(wait_status)}"


def _checkpoint_location(uri: str | None) -> Path | None:
    from trainplane.artifacts.locations import to_local_path
    from trainplane.domain import fields

    if uri is None or uri[:5].lower() == "s3://":
        return None  # an s3:// location is downloaded into the job's own tree, not handed over
    return to_local_path(fields.CHECKPOINT_LOCATION, uri)


def _hand_over(roots: list[Path], run_as: Mapping[str, Any]) -> None:
    """chown every file under `roots` to the run-as user, never following a symlink (channels are links)."""
    uid, gid = int(run_as["uid"]), int(run_as["gid"])
    for root in roots:
        os.chown(root, uid, gid, follow_symlinks=False)
        for directory, subdirs, files in os.walk(root):
            for name in (*subdirs, *files):
                os.chown(os.path.join(directory, name), uid, gid, follow_symlinks=False)


def _enter_cgroup(procs_fd: int) -> Callable[[], None]:
    def enter() -> None:
        process_tree.enter_cgroup_fd(procs_fd)

    return enter
