"""What a job uses, sampled by its supervisor: one "epoch cpu-seconds memory-bytes peak-bytes" line per
sample in the run dir's usage.log, from the job's cgroup (every process of the job, forks included).

Cheap by design: one timer in the supervisor's existing wait (no thread), two or three small cgroup
files read per sample, one append; an idle supervisor wakes once per interval for it. No fsync:
samples are a reading aid; a power loss that loses the last few costs nothing else.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from trainplane.service.observations import UsageSample

_log = logging.getLogger(__name__)
DEFAULT_INTERVAL_SECONDS = 10.0
_PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")
_TICKS_PER_SECOND = os.sysconf("SC_CLK_TCK")
_NO_PEAK = "-"


@dataclass(frozen=True)
class UsageFiles:
    """Where the job's counters are; a None file is not available on this host."""

    cpu_stat: Path | None = None  # cgroup v2 cpu.stat (usage_usec): present in every v2 cgroup
    cpuacct_usage: Path | None = None  # cgroup v1 cpuacct.usage, in nanoseconds
    memory_current: Path | None = None  # v2 memory.current, or v1 memory.usage_in_bytes
    memory_peak: Path | None = None  # v2 memory.peak (kernel 5.19+), or v1 memory.max_usage_in_bytes

    @staticmethod
    def of_leaf(leaf: Path) -> UsageFiles:
        """The v2 leaf's own counters (memory ones only where the memory controller is enabled)."""
        return UsageFiles(
            cpu_stat=leaf / "cpu.stat",
            memory_current=_existing(leaf / "memory.current"),
            memory_peak=_existing(leaf / "memory.peak"),
        )


def _existing(path: Path) -> Path | None:
    return path if path.exists() else None


def _read_int(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        return int(path.read_bytes())
    except (OSError, ValueError):
        return None


def _cpu_seconds(files: UsageFiles, pids: Callable[[], Iterable[int]]) -> float:
    if files.cpuacct_usage is not None:
        nanoseconds = _read_int(files.cpuacct_usage)
        if nanoseconds is not None:
            return nanoseconds / 1e9
    if files.cpu_stat is None:
        return _process_cpu_seconds(pids())
    try:
        text = files.cpu_stat.read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if key == "usage_usec":
            return int(value) / 1e6
    return 0.0


def _process_cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of the live `pids` (without a cgroup: what exited is no longer counted)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            text = Path(f"/proc/{pid}/stat").read_text()
            fields = text[text.rindex(")") + 2 :].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _TICKS_PER_SECOND


def _resident_bytes(pids: Iterable[int]) -> int:
    """Summed RSS of `pids` (/proc statm): where the memory controller is off, the best there is."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_bytes().split()[1]) * _PAGE_BYTES
    return total


class UsageSampler:
    """Appends a sample when started, every `interval_seconds` while the job runs, and at its end."""

    def __init__(self, path: Path, interval_seconds: float) -> None:
        self._path = path
        self._interval_seconds = interval_seconds
        self._files: UsageFiles | None = None
        self._pids: Callable[[], Iterable[int]] = set
        self._fd: int | None = None
        self.due_at: float | None = None  # monotonic: when the next sample is due; None: not sampling

    def start(self, files: UsageFiles, pids: Callable[[], Iterable[int]]) -> None:
        """Sample the job from now on (no-op when sampling is switched off: interval 0)."""
        if self._interval_seconds <= 0:
            return
        self._files, self._pids = files, pids
        try:
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            _log.warning("event=usage_unavailable path=%s error=%s", self._path, exc)
            return
        self.sample()

    def on_timer(self) -> None:
        """Take a sample if one is due."""
        if self.due_at is not None and time.monotonic() >= self.due_at:
            self.sample()

    def sample(self) -> None:
        if self._fd is None or self._files is None:
            return
        self.due_at = time.monotonic() + self._interval_seconds
        cpu = _cpu_seconds(self._files, self._pids)
        memory = _read_int(self._files.memory_current)
        if memory is None:
            memory = _resident_bytes(self._pids())
        peak = _read_int(self._files.memory_peak)
        line = f"{time.time():.3f} {cpu:.6f} {memory} {_NO_PEAK if peak is None else peak}\n"
        try:
            os.write(self._fd, line.encode())
        except OSError as exc:  # a full disk must not end the job's supervision
            _log.warning("event=usage_write_failed path=%s error=%s", self._path, exc)

    def finish(self) -> None:
        """The last sample (the job's total CPU), then stop; before the job's cgroup is removed."""
        if self._fd is None:
            return
        self.sample()
        os.close(self._fd)
        self._fd = None
        self.due_at = None


def read_samples(path: Path) -> Sequence[UsageSample]:
    """The samples in `path`, oldest first (none if there is no file; a line cut by a crash is skipped)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    samples = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) != 4:
            continue
        try:
            at = datetime.fromtimestamp(float(parts[0]), UTC)
            peak = None if parts[3] == _NO_PEAK else int(parts[3])
            samples.append(UsageSample(at, float(parts[1]), int(parts[2]), peak))
        except ValueError:
            continue
    return samples
