"""What belongs to a job and how to end it: subreaper, cgroup v2 leaf, /proc walks, signals.

Linux only. Reads /proc directly (no psutil) so the supervisor starts fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import logging
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trainplane.domain.job import StopReport

_PR_SET_NAME = 15
_PR_SET_CHILD_SUBREAPER = 36
_log = logging.getLogger(__name__)


def become_subreaper() -> bool:
    """Make orphaned descendants (double-forked daemons) our children instead of PID 1's."""
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def set_process_name(name: str) -> None:
    """The name `ps -o comm` and `top` show (15 bytes): a forked supervisor still says what it is."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; the command name may hold spaces and parens."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text[text.rindex(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat: the start time in clock ticks since boot."""
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[19])


def is_running(pid: int, expected_start_ticks: int) -> bool:
    """The process exists, is not a zombie and is the one started at `expected_start_ticks`."""
    fields = _stat_fields(pid)
    if fields is None:
        return False
    return fields[0] not in ("Z", "X") and int(fields[19]) == expected_start_ticks


def descendants(root_pid: int) -> set[int]:
    """Every live (non-zombie) process below `root_pid`, from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is None or fields[0] in ("Z", "X"):
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [root_pid]
    while pending:
        for child in children.get(pending.pop(), ()):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found


def signal_pids(pids: Iterable[int], signum: int) -> set[int]:
    """Send `signum` to each pid; return the pids it reached (ESRCH means already gone)."""
    reached: set[int] = set()
    for pid in pids:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            continue
        reached.add(pid)
    return reached


def reap_children() -> list[tuple[int, int]]:
    """Collect every exited child (the job and reparented orphans): [(pid, wait status)]."""
    reaped: list[tuple[int, int]] = []
    while True:
        try:
            pid, wait_status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return reaped
        if pid == 0:
            return reaped
        reaped.append((pid, wait_status))


def cgroup2_mount(mounts_file: Path = Path("/proc/self/mounts")) -> Path | None:
    """Where cgroup v2 is mounted (/sys/fs/cgroup or, on hybrid hosts, /sys/fs/cgroup/unified)."""
    for line in mounts_file.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "cgroup2":
            return Path(parts[1])
    return None


@dataclass(frozen=True)
class JobCgroup:
    """A cgroup v2 leaf holding every process of one job, forks and daemons included."""

    path: Path

    @staticmethod
    def create(job_id: str) -> JobCgroup | None:
        """Make `<cgroup2>/trainplane/<job_id>`; None where cgroup v2 is absent or not writable."""
        mount = cgroup2_mount()
        if mount is None:
            return None
        leaf = mount / "trainplane" / job_id
        try:
            leaf.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _log.info("event=cgroup_unavailable path=%s error=%s", leaf, exc)
            return None
        if not (leaf / "cgroup.kill").exists():
            return None  # kernels before 5.14: no one-shot kill, fall back to the /proc sweep
        return JobCgroup(leaf)

    @contextlib.contextmanager
    def holding_self(self) -> Iterator[bool]:
        """This process sits in the leaf for the with-block, so what it forks is born in it.

        Spawning this way needs no Python code between fork and exec (a `preexec_fn` runs Python in
        a forked copy of the supervisor: copy-on-write faults on every object it touches). Yields
        False, and stays put, when it cannot move; moving back failing raises (never stay inside).
        """
        home = own_cgroup()
        if home is None:
            yield False
            return
        try:
            (self.path / "cgroup.procs").write_text("0")
        except OSError as exc:
            _log.info("event=cgroup_enter_failed path=%s error=%s", self.path, exc)
            yield False
            return
        try:
            yield True
        finally:
            (home / "cgroup.procs").write_text("0")

    def open_procs(self) -> int:
        """An fd on cgroup.procs; the child writes "0" to it before exec to enter the leaf."""
        return os.open(self.path / "cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)

    def pids(self) -> set[int]:
        try:
            text = (self.path / "cgroup.procs").read_text()
        except FileNotFoundError:
            return set()
        return {int(line) for line in text.split()}

    def is_populated(self) -> bool:
        try:
            text = (self.path / "cgroup.events").read_text()
        except FileNotFoundError:
            return False
        return "populated 1" in text

    def kill(self) -> None:
        """SIGKILL every process in the leaf, including ones forked while we look."""
        (self.path / "cgroup.kill").write_text("1")

    def remove(self) -> None:
        try:
            self.path.rmdir()
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                _log.warning("event=cgroup_not_removed path=%s error=%s", self.path, exc)


def own_cgroup() -> Path | None:
    """This process's cgroup v2 directory, or None without cgroup v2."""
    mount = cgroup2_mount()
    if mount is None:
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        if line.startswith("0::"):
            return mount / line[3:].lstrip("/")
    return None


def enter_cgroup_fd(procs_fd: int) -> None:
    """Runs in the forked child before exec: move this process into the job's leaf."""
    os.write(procs_fd, b"0")


LOST_KILL_WAIT_SECONDS = 2.0  # how long cgroup.kill may take to empty a lost job's leaf


def kill_lost_job(cgroup: JobCgroup, job_id: str) -> StopReport:
    """SIGKILL what a lost supervisor left in the job's leaf (pain 4: orphans hold GPUs); what died."""
    pids = cgroup.pids()
    now = datetime.now(UTC)
    if pids:
        cgroup.kill()
    deadline = time.monotonic() + LOST_KILL_WAIT_SECONDS
    while cgroup.is_populated() and time.monotonic() < deadline:
        time.sleep(0.01)  # cgroup.events has no wait API here; bounded and rare (lost jobs only)
    survivors = tuple(sorted(cgroup.pids()))
    if not survivors:
        cgroup.remove()
    _log.warning("event=lost_job_killed job=%s pids=%d survivors=%s", job_id, len(pids), survivors)
    return StopReport(kill_sent_at=now if pids else None, kill_pids=len(pids), survivors=survivors)
