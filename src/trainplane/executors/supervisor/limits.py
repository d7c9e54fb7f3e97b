"""A job's CPU and memory limits, enforced by the kernel in cgroups of its own (issue 10).

cgroup v2 first: `cpu.max`, `memory.max`, `memory.swap.max` 0 and `memory.oom.group` in the job's
leaf (process_tree.JobCgroup), once the `cpu` and `memory` controllers are enabled for the
`trainplane` subtree. On a hybrid host whose cpu and memory controllers are bound to cgroup v1 (this
project's CI machine: v2 holds only hugetlb), the same limits go into v1 leaves nested under the
supervisor's own v1 cgroups (so they stay inside whatever the operator put the server in):
`cpu.cfs_quota_us` and `memory.limit_in_bytes` (+ `memory.memsw.limit_in_bytes`). The job is born in
every leaf (the supervisor holds itself there across the fork, as for the v2 leaf). Where neither
works, `probe()` says what is not enforced; the server logs it at start (docs/resources.md).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainplane.domain.job import Failure, FailureKind
from trainplane.executors.supervisor import process_tree, usage

_log = logging.getLogger(__name__)
CPU_PERIOD_USEC = 100_000
_V2_CONTROLLERS = ("cpu", "memory")


@dataclass(frozen=True)
class Limits:
    """What the job may use: CPUs (fractional) and memory; None: not limited."""

    cpus: float | None = None
    memory_bytes: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"cpus": self.cpus, "memory_bytes": self.memory_bytes}

    @staticmethod
    def from_dict(doc: Mapping[str, Any] | None) -> Limits:
        if not doc:
            return Limits()
        cpus, memory = doc.get("cpus"), doc.get("memory_bytes")
        return Limits(None if cpus is None else float(cpus), None if memory is None else int(memory))


@dataclass(frozen=True)
class Support:
    """How this host can enforce each limit: "cgroup v2", "cgroup v1", or None with the reason."""

    cpu: str | None
    memory: str | None
    reasons: tuple[str, ...] = ()

    def describe(self) -> str:
        cpu = self.cpu or "not enforced"
        memory = self.memory or "not enforced"
        return f"cpu: {cpu}; memory: {memory}" + (f" ({'; '.join(self.reasons)})" if self.reasons else "")


def _v1_mounts(mounts_file: Path = Path("/proc/self/mounts")) -> dict[str, Path]:
    """cgroup v1 hierarchy per controller ({"cpu": /sys/fs/cgroup/cpu, "memory": ...})."""
    found: dict[str, Path] = {}
    for line in mounts_file.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 4 and parts[2] == "cgroup":
            for option in parts[3].split(","):
                if option in _V2_CONTROLLERS:
                    found[option] = Path(parts[1])
    return found


def _own_v1_path(controller: str) -> str | None:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(","):
            return path
    return None


def _enable_v2(mount: Path) -> set[str]:
    """Enable cpu and memory for <mount>/trainplane's children; the controllers that are on."""
    parent = mount / "trainplane"
    try:
        available = set((mount / "cgroup.controllers").read_text().split())
    except OSError:
        return set()
    wanted = [name for name in _V2_CONTROLLERS if name in available]
    if not wanted:
        return set()
    with contextlib.suppress(OSError):
        parent.mkdir(exist_ok=True)
    for directory in (mount, parent):
        for name in wanted:
            try:
                (directory / "cgroup.subtree_control").write_text(f"+{name}")
            except OSError as exc:
                _log.info("event=cgroup_controller_unavailable controller=%s error=%s", name, exc)
    try:
        return set((parent / "cgroup.subtree_control").read_text().split()) & set(wanted)
    except OSError:
        return set()


def _v1_parent(controller: str, mounts: Mapping[str, Path]) -> Path | None:
    """<v1 mount>/<our own v1 cgroup>/trainplane, made if missing; None where it cannot be."""
    mount, own = mounts.get(controller), _own_v1_path(controller)
    if mount is None or own is None:
        return None
    parent = mount / own.lstrip("/") / "trainplane"
    try:
        parent.mkdir(exist_ok=True)
    except OSError as exc:
        _log.info("event=cgroup_v1_unavailable controller=%s error=%s", controller, exc)
        return None
    return parent


def probe() -> Support:
    """Which limits this host can enforce, and how (cheap: run once at server start)."""
    mount = process_tree.cgroup2_mount()
    enabled = set() if mount is None else _enable_v2(mount)
    mounts = _v1_mounts()
    found: dict[str, str | None] = {}
    reasons = []
    for controller in _V2_CONTROLLERS:
        if controller in enabled:
            found[controller] = "cgroup v2"
        elif _v1_parent(controller, mounts) is not None:
            found[controller] = "cgroup v1"
        else:
            found[controller] = None
            reasons.append(f"no writable cgroup v2 or v1 '{controller}' controller")
    return Support(found["cpu"], found["memory"], tuple(reasons))


@dataclass
class JobLimits:
    """The cgroups enforcing one job's limits; recorded in the run dir for a successor supervisor."""

    limits: Limits
    v2_leaf: Path | None = None  # the job's v2 leaf, where its limits are set there
    v1_leaves: dict[str, Path] = field(default_factory=dict)  # controller -> v1 leaf

    @staticmethod
    def apply(job_id: str, limits: Limits, leaf: process_tree.JobCgroup | None) -> JobLimits:
        """Set `limits` on the job's cgroups, making v1 leaves where v2 lacks a controller."""
        applied = JobLimits(limits)
        if limits == Limits():
            return applied
        v2 = set() if leaf is None else _v2_controllers_of(leaf.path)
        if leaf is not None and v2 != set(_V2_CONTROLLERS):
            _enable_v2(leaf.path.parent.parent)  # a server that never probed (or a new boot)
            v2 = _v2_controllers_of(leaf.path)
        if v2:
            applied.v2_leaf = leaf.path if leaf is not None else None
        mounts = _v1_mounts() if v2 != set(_V2_CONTROLLERS) else {}
        for controller in _V2_CONTROLLERS:
            if _wanted(limits, controller) and controller not in v2:
                parent = _v1_parent(controller, mounts)
                if parent is not None:
                    applied.v1_leaves[controller] = parent / job_id
                    applied.v1_leaves[controller].mkdir(exist_ok=True)
        applied._write()
        return applied

    def _write(self) -> None:
        cpus, memory = self.limits.cpus, self.limits.memory_bytes
        quota = None if cpus is None else max(1000, round(cpus * CPU_PERIOD_USEC))
        if self.v2_leaf is not None:
            if quota is not None:
                _set(self.v2_leaf / "cpu.max", f"{quota} {CPU_PERIOD_USEC}")
            if memory is not None:
                _set(self.v2_leaf / "memory.max", str(memory))
                _set(self.v2_leaf / "memory.swap.max", "0", is_optional=True)
                _set(self.v2_leaf / "memory.oom.group", "1", is_optional=True)  # SageMaker ends the whole job
        cpu_leaf, memory_leaf = self.v1_leaves.get("cpu"), self.v1_leaves.get("memory")
        if cpu_leaf is not None and quota is not None:
            _set(cpu_leaf / "cpu.cfs_period_us", str(CPU_PERIOD_USEC))
            _set(cpu_leaf / "cpu.cfs_quota_us", str(quota))
        if memory_leaf is not None and memory is not None:
            _set(memory_leaf / "memory.limit_in_bytes", str(memory))
            # No swap for the job: memsw is memory + swap, so equal limits leave it none.
            _set(memory_leaf / "memory.memsw.limit_in_bytes", str(memory), is_optional=True)
            _set(memory_leaf / "memory.swappiness", "0", is_optional=True)

    @contextlib.contextmanager
    def holding_self(self) -> Iterator[None]:
        """This process sits in the v1 memory leaf for the with-block, so the job is born in it.

        Not in the v1 cpu leaf: moving back out of a cfs-bandwidth group costs milliseconds (measured
        2-8 ms on the start path), so the job is moved into that one by `place` right after its spawn.
        """
        entered: list[Path] = []
        try:
            for controller, leaf in self.v1_leaves.items():
                if controller == "cpu":
                    continue
                try:
                    (leaf / "cgroup.procs").write_text("0")
                except OSError as exc:  # the job runs all the same, without this limit
                    _log.warning("event=limit_not_entered path=%s error=%s", leaf, exc)
                    continue
                entered.append(leaf.parent.parent)  # <own v1 cgroup>/trainplane/<job>: home is two up
            yield
        finally:
            for home in entered:
                (home / "cgroup.procs").write_text("0")

    def place(self, main_pid: int, leaf_v2: process_tree.JobCgroup | None) -> None:
        """Move the job's processes into its v1 cpu leaf: the entrypoint first (what it forks later is
        born there), then any it forked before that, as its v2 leaf lists them."""
        leaf = self.v1_leaves.get("cpu")
        if leaf is None:
            return
        early = set() if leaf_v2 is None else leaf_v2.pids() - {main_pid}
        for pid in [main_pid, *sorted(early)]:
            try:
                (leaf / "cgroup.procs").write_text(str(pid))
            except ProcessLookupError:
                continue  # gone already
            except OSError as exc:
                _log.warning("event=limit_not_entered path=%s pid=%d error=%s", leaf, pid, exc)
                return

    def oom_kills(self) -> int:
        """How many processes of the job the kernel OOM-killed in its own cgroup."""
        counts = []
        if self.v2_leaf is not None:
            counts.append(_counter(self.v2_leaf / "memory.events", "oom_kill"))
        if "memory" in self.v1_leaves:
            counts.append(_counter(self.v1_leaves["memory"] / "memory.oom_control", "oom_kill"))
        return max(counts, default=0)

    def usage_files(self, base: usage.UsageFiles) -> usage.UsageFiles:
        """`base` with the v1 memory counters, where memory is limited through v1."""
        memory_leaf = self.v1_leaves.get("memory")
        if memory_leaf is None:
            return base
        return usage.UsageFiles(
            cpu_stat=base.cpu_stat,
            cpuacct_usage=base.cpuacct_usage,
            memory_current=memory_leaf / "memory.usage_in_bytes",
            memory_peak=memory_leaf / "memory.max_usage_in_bytes",
        )

    def remove(self) -> None:
        """Remove the v1 leaves (empty once the job is gone); the v2 leaf is the JobCgroup's."""
        for leaf in self.v1_leaves.values():
            try:
                leaf.rmdir()
            except OSError as exc:
                if exc.errno != errno.ENOENT:
                    _log.warning("event=cgroup_not_removed path=%s error=%s", leaf, exc)

    def to_dict(self) -> dict[str, Any]:
        return {
            "limits": self.limits.to_dict(),
            "v2_leaf": None if self.v2_leaf is None else str(self.v2_leaf),
            "v1_leaves": {name: str(path) for name, path in self.v1_leaves.items()},
        }

    @staticmethod
    def from_dict(doc: Mapping[str, Any] | None) -> JobLimits | None:
        if not doc:
            return None
        v2 = doc.get("v2_leaf")
        return JobLimits(
            Limits.from_dict(doc.get("limits")),
            None if v2 is None else Path(v2),
            {name: Path(path) for name, path in (doc.get("v1_leaves") or {}).items()},
        )


def oom_failure(limits: Limits) -> Failure:
    """SageMaker's words for a job that ran out of memory, with the limit it hit."""
    limit = "" if limits.memory_bytes is None else f" (its limit: {limits.memory_bytes >> 20} MiB)"
    return Failure(
        FailureKind.USER,
        "Please use an instance type with more memory, or reduce the size of job data processed on an "
        f"instance. The job ran out of memory{limit} and was OOM-killed in its own cgroup.",
    )


def _wanted(limits: Limits, controller: str) -> bool:
    return (limits.cpus if controller == "cpu" else limits.memory_bytes) is not None


def _v2_controllers_of(leaf: Path) -> set[str]:
    try:
        return set((leaf / "cgroup.controllers").read_text().split()) & set(_V2_CONTROLLERS)
    except OSError:
        return set()


def _set(path: Path, value: str, *, is_optional: bool = False) -> None:
    try:
        path.write_text(value)
    except FileNotFoundError:
        if not is_optional:
            _log.warning("event=limit_not_set path=%s reason=absent", path)
    except OSError as exc:
        _log.warning("event=limit_not_set path=%s value=%s error=%s", path, value, exc)


def _counter(path: Path, key: str) -> int:
    try:
        text = path.read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        name, _, value = line.partition(" ")
        if name == key:
            with contextlib.suppress(ValueError):
                return int(value)
    return 0


def resident_cpus() -> int:
    """The CPUs this process may run on (the host's, or its cpuset's)."""
    return len(os.sched_getaffinity(0))
