"""The files of one job's run directory, shared by the launcher (control plane) and the supervisor.

<runs_dir>/<job_id>/launch.json      what to run (written by launch, before spawning)
                    supervisor.pid   {"pid", "start_ticks", "is_ready"}: which process supervises
                    stop.json        the stop intent (written once by the control plane)
                    status.json      the supervisor's report (report.py; atomic replace)
                    successors       how many successor supervisors adopted the job
                    job.log          the job's stdout and stderr
                    job.log.index    when job.log grew: "size epoch-seconds" lines (log_index.py)
                    limits.json      the job's CPU/memory limits and the cgroups enforcing them (limits.py)
                    usage.log        what the job used: "epoch cpu-seconds memory peak" lines (usage.py)
                    supervisor.log   the supervisor's own log
                    control/         TRAINPLANE_CONTROL_DIR (checkpoint-complete handshake)
                    base/            SAGEMAKER_BASE_DIR: the job's /opt/ml and working directory
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from trainplane import protocol
from trainplane.executors.supervisor import process_tree, status_file


@dataclass(frozen=True)
class RunDir:
    path: Path

    @property
    def launch_file(self) -> Path:
        return self.path / "launch.json"

    @property
    def pid_file(self) -> Path:
        return self.path / "supervisor.pid"

    @property
    def stop_file(self) -> Path:
        return self.path / "stop.json"

    @property
    def status_file(self) -> Path:
        return self.path / "status.json"

    @property
    def job_log(self) -> Path:
        return self.path / "job.log"

    @property
    def log_index(self) -> Path:
        return self.path / "job.log.index"

    @property
    def limits_file(self) -> Path:
        return self.path / "limits.json"

    @property
    def usage_file(self) -> Path:
        return self.path / "usage.log"

    @property
    def supervisor_log(self) -> Path:
        return self.path / "supervisor.log"

    @property
    def successors_file(self) -> Path:
        return self.path / "successors"

    @property
    def lock_file(self) -> Path:
        return self.path / "launch.lock"

    @property
    def control_dir(self) -> Path:
        return self.path / protocol.CONTROL_DIR_NAME

    @property
    def checkpoint_complete_file(self) -> Path:
        # The name trainplane.runtime.checkpoint_complete() writes inside TRAINPLANE_CONTROL_DIR.
        return self.control_dir / protocol.CHECKPOINT_COMPLETE_FILE

    @property
    def base_dir(self) -> Path:
        return self.path / protocol.JOB_BASE_DIR_NAME


@dataclass(frozen=True)
class SupervisorRecord:
    """Who supervises the job. `start_ticks` tells a reused pid apart from the real supervisor."""

    pid: int
    start_ticks: int
    is_ready: bool  # its signal handlers are installed: a wake-up signal can no longer kill it


def write_record(run_dir: RunDir, pid: int, *, is_ready: bool, is_exclusive: bool = False) -> None:
    """Record `pid` (with its start time) as the job's supervisor; exclusive: only if none is."""
    ticks = process_tree.start_ticks(pid)
    if ticks is None:
        return  # already gone (and reaped): observe() will report the job lost
    doc = {"pid": pid, "start_ticks": ticks, "is_ready": is_ready}
    # Not fsynced: a power loss that could lose this record ends the supervisor it names as well.
    if is_exclusive:
        status_file.create_exclusive(run_dir.pid_file, doc, is_durable=False)
    else:
        status_file.write_atomic(run_dir.pid_file, doc, is_durable=False)


def read_record(run_dir: RunDir) -> SupervisorRecord | None:
    doc = status_file.read(run_dir.pid_file)
    if doc is None:
        return None
    return SupervisorRecord(int(doc["pid"]), int(doc["start_ticks"]), bool(doc["is_ready"]))


def is_alive(record: SupervisorRecord) -> bool:
    """True while that very process runs: a zombie or a reused pid counts as dead."""
    return process_tree.is_running(record.pid, record.start_ticks)


def signal_supervisor(run_dir: RunDir, signum: int) -> bool:
    """Send `signum` to the live, ready supervisor; False if there is none to wake."""
    record = read_record(run_dir)
    if record is None or not record.is_ready:
        return False
    try:
        # A pidfd pins the process, so the start-time check and the signal hit the same one.
        pidfd = os.pidfd_open(record.pid)
    except ProcessLookupError:
        return False
    try:
        if not is_alive(record):
            return False
        signal.pidfd_send_signal(pidfd, signum)
    except ProcessLookupError:
        return False
    finally:
        os.close(pidfd)
    return True


def read_log(run_dir: RunDir, offset: int, max_bytes: int) -> bytes:
    """Up to `max_bytes` of job.log from `offset`; b"" at or past its end (an offset past what the
    file system can seek to included), or when there is no log yet."""
    try:
        with run_dir.job_log.open("rb") as log:
            if offset >= os.fstat(log.fileno()).st_size:
                return b""
            log.seek(offset)
            return log.read(max_bytes)
    except FileNotFoundError:
        return b""


def file_mark(path: Path) -> tuple[int, int, int] | None:
    """(inode, mtime ns, size) of `path`: changes whenever the file is replaced or written."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """An exclusive flock on `path` for the with-block: one launch (or takeover) of a job at a time."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
