"""What this host offers local jobs: CPUs, memory and GPUs (issue 10), read once at server start.

CPUs: the ones this process may run on (its affinity). Memory: MemTotal, or the server's own cgroup
memory limit where that is lower. GPUs: NVML (the `nvidia-ml-py` package) where it is installed and a
driver answers; otherwise the operator declares them (`--gpus 0,1`), which is also how a machine
without NVML (or a test) names devices.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from trainplane.executors.supervisor import process_tree

_log = logging.getLogger(__name__)
_NO_LIMIT_BYTES = 1 << 60  # cgroup v1 says "no limit" with a number near 2**63


@dataclass(frozen=True)
class HostResources:
    cpus: float
    memory_mib: int
    gpu_ids: tuple[str, ...]
    gpu_source: str  # "nvml", "declared" or "none"


def detect(declared_gpus: tuple[str, ...] | None = None) -> HostResources:
    """The host's CPUs, memory and GPUs; `declared_gpus` (not None) replaces NVML's answer."""
    cpus = float(len(os.sched_getaffinity(0)))
    memory_mib = _memory_bytes() >> 20
    if declared_gpus is not None:
        return HostResources(cpus, memory_mib, declared_gpus, "declared")
    found = nvml_gpus()
    if found is None:
        return HostResources(cpus, memory_mib, (), "none")
    return HostResources(cpus, memory_mib, found, "nvml")


def nvml_gpus() -> tuple[str, ...] | None:
    """The NVIDIA devices NVML lists, by index; None where NVML is not installed or not working."""
    try:
        import pynvml  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        pynvml.nvmlInit()
    except Exception as exc:  # NVMLError_LibraryNotFound, DriverNotLoaded, ...: no GPUs to manage
        _log.info("event=nvml_unavailable error=%s", exc)
        return None
    try:
        return tuple(str(index) for index in range(int(pynvml.nvmlDeviceGetCount())))
    finally:
        with contextlib.suppress(Exception):
            pynvml.nvmlShutdown()


def _memory_bytes() -> int:
    total = _meminfo_total_bytes()
    limit = _own_cgroup_memory_limit()
    return min(total, limit) if limit is not None else total


def _meminfo_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _own_cgroup_memory_limit() -> int | None:
    own = process_tree.own_cgroup()
    candidates = [] if own is None else [own / "memory.max"]
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if "memory" in controllers.split(","):
                candidates.append(Path("/sys/fs/cgroup/memory") / path.lstrip("/") / "memory.limit_in_bytes")
    for candidate in candidates:
        with contextlib.suppress(OSError, ValueError):
            value = int(candidate.read_text())  # "max" raises ValueError: no limit there
            if value < _NO_LIMIT_BYTES:
                return value
    return None
