"""What local jobs need and what the host has left (issue 10): demands, the ledger of holdings, and
the create-time checks (an unknown instance type, one that can never fit this host, bad resource tags).

Pure bookkeeping: the host's figures are read once by the server (executors/local/host.py) and
handed in; the reconciler drives the ledger through service/queue.py.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from trainplane.domain import errors, fields, instance_types
from trainplane.domain.instance_types import Allocation, InstanceResources
from trainplane.domain.job import JobSpec

PRIORITY_TAG = "trainplane:priority"  # higher starts first; read once, when the job is created
WARNING_TAG = "trainplane:max-runtime-warning-seconds"  # SIGUSR1 this long before MaxRuntime
MAX_PRIORITY = 1_000_000
LOCAL_EXECUTOR = "local"


@dataclass(frozen=True)
class HostCapacity:
    """What local jobs may use together: the host's figures minus the control plane's reserve."""

    cpus: float
    memory_mib: int
    gpu_ids: tuple[str, ...] = ()
    gpu_source: str = "none"  # "nvml", "declared" or "none" (then GPUs are not managed)


@dataclass(frozen=True)
class ResourceSettings:
    host: HostCapacity
    instance_types: Mapping[str, InstanceResources] = field(default_factory=dict)  # the operator's
    is_queue_enabled: bool = False  # off: every job starts at once (limits still apply), as before
    reserve_after_seconds: float = 300.0  # a job waiting this long stops others overtaking it


@dataclass(frozen=True)
class Demand:
    """What one local job asks for; jobs with the same demand share a `shape` in the queue."""

    cpus: float
    memory_mib: int
    gpus: int

    def describe_lack(self, free: Free, total: HostCapacity) -> str:
        """What it waits for: "1 GPU: 0 of 2 free" (each resource that does not fit, in that order)."""
        lacking = []
        if self.gpus > len(free.gpu_ids):
            plural = "" if self.gpus == 1 else "s"
            lacking.append(f"{self.gpus} GPU{plural}: {len(free.gpu_ids)} of {len(total.gpu_ids)} free")
        if self.cpus > free.cpus + 1e-9:
            plural = "" if self.cpus == 1 else "s"
            lacking.append(f"{self.cpus:g} CPU{plural}: {max(free.cpus, 0):g} of {total.cpus:g} free")
        if self.memory_mib > free.memory_mib:
            lacking.append(
                f"{self.memory_mib} MiB of memory: {max(free.memory_mib, 0)} of {total.memory_mib} free"
            )
        return "; ".join(lacking) or "its turn"


@dataclass(frozen=True)
class Free:
    cpus: float
    memory_mib: int
    gpu_ids: tuple[str, ...]

    def fits(self, demand: Demand) -> bool:
        return (
            demand.cpus <= self.cpus + 1e-9
            and demand.memory_mib <= self.memory_mib
            and demand.gpus <= len(self.gpu_ids)
        )


def demand_of(spec: JobSpec, settings: ResourceSettings) -> Demand | None:
    """The local job's demand; None where its type is unknown (it is then not limited nor queued)."""
    resources = instance_types.resources_of(spec.instance_type, settings.instance_types)
    if resources is None:
        return None
    return Demand(float(resources.vcpus), resources.memory_mib, resources.gpus)


def check_create(spec: JobSpec, tags: Mapping[str, str], settings: ResourceSettings | None) -> None:
    """Refuse what could never run here, naming the field.

    Raises:
        errors.Invalid: an unknown instance type or one larger than this host (with the queue on),
            or a malformed priority / warning tag.
    """
    parse_priority(tags.get(PRIORITY_TAG))
    parse_warning_seconds(tags.get(WARNING_TAG))
    if settings is None or spec.executor != LOCAL_EXECUTOR or not settings.is_queue_enabled:
        return
    demand = demand_of(spec, settings)
    if demand is None:
        raise errors.Invalid(
            fields.INSTANCE_TYPE,
            f"instance type {spec.instance_type!r} has no known CPUs and memory; the server's operator can "
            "define it with its real figures in --instance-types (TRAINPLANE_INSTANCE_TYPES), e.g. "
            f'{{"{spec.instance_type}": {{"vcpus": 2, "memory_gib": 4, "gpus": 0}}}}',
        )
    host = settings.host
    whole = Free(host.cpus, host.memory_mib, host.gpu_ids)
    if not whole.fits(demand):
        raise errors.Invalid(
            fields.INSTANCE_TYPE,
            f"instance type {spec.instance_type!r} can never run on this host: it needs "
            f"{_amounts(demand.cpus, demand.memory_mib, demand.gpus)}, and the host has "
            f"{_amounts(host.cpus, host.memory_mib, len(host.gpu_ids))} for jobs. Choose a smaller type, "
            "or the server's operator can define one that fits (--instance-types) or run jobs without "
            "placing them (--no-queue).",
        )


def _amounts(cpus: float, memory_mib: int, gpus: int) -> str:
    return f"{cpus:g} CPUs, {memory_mib} MiB of memory and {gpus} GPUs"


def parse_priority(value: str | None) -> int:
    """Raises: errors.Invalid: not an integer within ±MAX_PRIORITY."""
    if value is None:
        return 0
    try:
        priority = int(value.strip())
    except ValueError:
        priority = MAX_PRIORITY + 1
    if abs(priority) > MAX_PRIORITY:
        raise errors.Invalid(
            fields.TAGS, f"tag {PRIORITY_TAG} must be an integer from -{MAX_PRIORITY} to {MAX_PRIORITY}"
        )
    return priority


def parse_warning_seconds(value: str | None) -> float | None:
    """Raises: errors.Invalid: not a positive number of seconds."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (math.isfinite(seconds) and 0 < seconds <= 28 * 24 * 3600):
        raise errors.Invalid(fields.TAGS, f"tag {WARNING_TAG} must be a number of seconds above 0")
    return seconds


class Ledger:
    """Which job holds what on this host (this replica's local jobs)."""

    def __init__(self, host: HostCapacity) -> None:
        self._host = host
        self._held: dict[str, tuple[str, Allocation]] = {}  # job id -> (tenant, allocation)
        self._cpus = 0.0
        self._memory_mib = 0
        self._busy_gpus: set[str] = set()
        self.held_by_tenant: dict[str, int] = {}

    @property
    def host(self) -> HostCapacity:
        return self._host

    def free(self) -> Free:
        gpus = tuple(gpu for gpu in self._host.gpu_ids if gpu not in self._busy_gpus)
        return Free(self._host.cpus - self._cpus, self._host.memory_mib - self._memory_mib, gpus)

    def holds(self, job_id: str) -> bool:
        return job_id in self._held

    def allocation_of(self, job_id: str) -> Allocation | None:
        held = self._held.get(job_id)
        return None if held is None else held[1]

    def take(self, job_id: str, tenant: str, demand: Demand) -> Allocation:
        """Reserve `demand` (the caller checked that it fits) and name the GPUs it gets."""
        gpus = None
        if self._host.gpu_source != "none":
            gpus = self.free().gpu_ids[: demand.gpus]
        allocation = Allocation(demand.cpus, demand.memory_mib, gpus)
        self.record(job_id, tenant, allocation)
        return allocation

    def record(self, job_id: str, tenant: str, allocation: Allocation) -> None:
        """Count what a launched job holds (learned from its handle after a restart)."""
        if job_id in self._held:
            return
        self._held[job_id] = (tenant, allocation)
        self._cpus += allocation.cpus
        self._memory_mib += allocation.memory_mib
        self._busy_gpus.update(allocation.gpu_ids or ())
        self.held_by_tenant[tenant] = self.held_by_tenant.get(tenant, 0) + 1

    def release(self, job_id: str) -> bool:
        """Free what the job held; False if it held nothing."""
        held = self._held.pop(job_id, None)
        if held is None:
            return False
        tenant, allocation = held
        self._cpus -= allocation.cpus
        self._memory_mib -= allocation.memory_mib
        self._busy_gpus.difference_update(allocation.gpu_ids or ())
        self.held_by_tenant[tenant] -= 1
        if not self.held_by_tenant[tenant]:
            del self.held_by_tenant[tenant]
        return True

    def held_ids(self) -> set[str]:
        return set(self._held)
