"""Protocols the core owns; store, executors and artifacts satisfy them structurally."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from trainplane.domain.job import Outcome

# The executor port's values live apart from its protocols: the supervisor needs only these.
from trainplane.service.observations import LogMarks as LogMarks
from trainplane.service.observations import Observation as Observation
from trainplane.service.observations import Phase as Phase
from trainplane.service.observations import UsageSample as UsageSample

if TYPE_CHECKING:  # annotations only: importing the ports loads no domain table (groups, instance types)
    from trainplane.domain.groups import JobGroup, Placement
    from trainplane.domain.instance_types import Allocation
    from trainplane.domain.job import ExecutorHandle, Job, StopIntent, StopReport
    from trainplane.domain.status import JobKind, Primary, Secondary


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        ...


# --- Store -------------------------------------------------------------------------------------


class SortBy(enum.StrEnum):
    NAME = "Name"
    CREATION_TIME = "CreationTime"
    STATUS = "Status"


@dataclass(frozen=True)
class ListQuery:
    """Filters and order for listing; `page_token` is opaque and comes from a previous Page."""

    name_contains: str | None = None
    status: Primary | None = None  # None: any status
    created_after: datetime | None = None
    created_before: datetime | None = None
    modified_after: datetime | None = None
    modified_before: datetime | None = None
    sort_by: SortBy = SortBy.CREATION_TIME
    ascending: bool = True
    limit: int = 100
    page_token: str | None = None
    group_id: int | None = None  # only that job group's runs
    statuses: frozenset[Secondary] | None = None  # only jobs in one of these fine statuses


@dataclass(frozen=True)
class Page:
    jobs: Sequence[Job]
    next_token: str | None


@dataclass(frozen=True)
class Claim:
    """Which control-plane replica drives an active job's executor work, as the store holds it."""

    job_id: str
    version: int  # the job's version: a replica notices a change made by another (a stop) by it
    owner: str | None  # the claiming replica's id; None: unclaimed
    owner_lease_expires_at: datetime | None  # the owner's lease; None: the owner holds none


class GroupSortBy(enum.StrEnum):
    NAME = "name"
    DESCRIPTION = "description"
    CREATION_TIME = "creation_time"
    RUN_COUNT = "run_count"
    STATUS = "status"  # the latest run's fine status
    DURATION = "duration"  # the latest run's (end or now) - start


@dataclass(frozen=True)
class GroupQuery:
    name_contains: str | None = None
    latest_statuses: frozenset[Secondary] | None = None  # only groups whose latest run is in one
    sort_by: GroupSortBy = GroupSortBy.NAME
    ascending: bool = True
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class GroupSummary:
    group: JobGroup
    latest: Job | None


@dataclass(frozen=True)
class GroupPage:
    groups: Sequence[GroupSummary]
    total: int  # groups matching the query, on every page


class GroupStore(Protocol):
    """Durable job groups (domain/groups.py). Runs are placed and forgotten by the Store's insert and
    delete, in their transactions; a group being deleted is invisible here."""

    def create(self, tenant: str, name: str, description: str, now: datetime) -> JobGroup:
        """Raises: errors.NameInUse."""
        ...

    def upsert(self, tenant: str, name: str, now: datetime) -> JobGroup: ...

    def get(self, tenant: str, group_id: int) -> JobGroup:
        """Raises: errors.NotFound (also for another tenant's group)."""
        ...

    def find(self, tenant: str, name: str) -> JobGroup | None: ...

    def list(self, tenant: str, query: GroupQuery, now: datetime) -> tuple[Sequence[JobGroup], int]:
        """One page of groups in the query's order, and how many match in all."""
        ...

    def set_description(self, tenant: str, group_id: int, description: str, now: datetime) -> JobGroup:
        """Raises: errors.NotFound."""
        ...

    def mark_deleting(self, tenant: str, group_id: int) -> None:
        """Hide the group; it goes with its last run (now, if it has none). Raises: errors.NotFound."""
        ...


class Store(Protocol):
    """Durable jobs. Every write is a compare-and-swap on the job's version."""

    @property
    def groups(self) -> GroupStore: ...

    def insert(
        self, job: Job, tags: Mapping[str, str] | None = None, placement: Placement | None = None
    ) -> Job:
        """Store a new job and its tags in one transaction, as a new run of the group `placement`
        names (created if missing). Returns the job as stored (its group and run number set).

        Raises:
            errors.NameInUse: a job of that kind and name exists.
            errors.NotFound: `placement.group_id` is not a group of the job's tenant.
        """
        ...

    def get(self, tenant: str, kind: JobKind, name: str) -> Job:
        """Raises: errors.NotFound."""
        ...

    def get_by_id(self, job_id: str) -> Job:
        """Raises: errors.NotFound."""
        ...

    def save(self, job: Job, expected_version: int) -> Job:
        """Write `job` if the stored version is still `expected_version`; the store, not the caller,
        sets the new version to `expected_version + 1`. Returns the job as stored.

        Raises:
            errors.StaleWrite: another writer saved first.
        """
        ...

    def delete(self, job: Job) -> None:
        """Remove the job and its tags if unchanged since read (and its group, if that is being
        deleted and this was its last run). Raises: errors.StaleWrite."""
        ...

    def ended_deletes(self) -> Sequence[Job]:
        """Ended jobs still waiting for their delete (`delete_when_ended`): a crash came between."""
        ...

    def list_jobs(self, tenant: str, kind: JobKind, query: ListQuery) -> Page:
        """Raises: errors.Invalid (a bad page token)."""
        ...

    def count_active(self, tenant: str) -> int:
        """How many of the tenant's jobs are not terminal."""
        ...

    def active_jobs(self) -> Sequence[Job]:
        """Every non-terminal job of every tenant (what the reconciler drives)."""
        ...

    def get_tags(self, job_id: str) -> Mapping[str, str]: ...

    def renew_lease(self, replica_id: str, host: str, until: datetime) -> None:
        """Record that replica `replica_id` (on `host`) is alive until `until`; its claims hold till then."""
        ...

    def claim(self, job_id: str, replica_id: str, now: datetime, *, may_take_over: bool = False) -> bool:
        """Claim an active job for `replica_id`; True when that replica holds the claim now.

        It wins when the job is unclaimed or already its own, or, with `may_take_over`, when the owner's
        lease expired before `now`. Of two replicas claiming at once, at most one wins.
        """
        ...

    def active_claims(self) -> Sequence[Claim]:
        """The claim of every non-terminal job, with its owner's lease."""
        ...

    def watch_stops(self, on_stop: Callable[[str], None]) -> None:
        """Call `on_stop(job_id)` soon after any writer, another replica's included, asks a job to stop:
        a latency hint, not the truth (a no-op where the database cannot notify)."""
        ...

    def put_tags(self, job_id: str, tags: Mapping[str, str]) -> None: ...

    def remove_tags(self, job_id: str, keys: Sequence[str]) -> None: ...


# --- Executors ---------------------------------------------------------------------------------


class Executor(Protocol):
    """Launches, signals and reports; never decides a job's status and never writes the store."""

    name: str
    spans_hosts: bool  # runs one job on several hosts (InstanceCount > 1); else one host per job

    def launch(self, job: Job, allocation: Allocation | None = None) -> ExecutorHandle:
        """Start the job (idempotent per job id) with what it was given on this host (local executor;
        others ask their engine for the instance type). Raises: errors.Unavailable, errors.Invalid."""
        ...

    def request_stop(self, handle: ExecutorHandle, intent: StopIntent) -> None:
        """Begin the stop protocol with the persisted absolute deadline (idempotent)."""
        ...

    def observe(self, handle: ExecutorHandle) -> Observation: ...

    def kill_all(self, handle: ExecutorHandle) -> StopReport:
        """SIGKILL whatever is left of a job whose supervisor is gone; report kills and survivors."""
        ...

    def read_log(self, handle: ExecutorHandle, offset: int, max_bytes: int) -> bytes:
        """Up to `max_bytes` of the job's combined stdout/stderr from byte `offset` (b"" at the end)."""
        ...

    def read_log_marks(self, handle: ExecutorHandle) -> LogMarks:
        """When the job's log grew (for per-line timestamps)."""
        ...

    def read_usage(self, handle: ExecutorHandle) -> Sequence[UsageSample]:
        """The job's resource usage samples, oldest first (empty where the engine keeps none)."""
        ...

    def watch(self, on_change: Callable[[str], None]) -> None:
        """Call `on_change(job_id)` whenever a job reports progress (a latency hint, not the truth)."""
        ...

    def close(self) -> None:
        """Stop watching. Jobs keep running."""
        ...


# --- Artifacts ---------------------------------------------------------------------------------


# A packaged model is an outcome with only the model fields set (one declaration of those fields).
PackagedModel = Outcome


class Artifacts(Protocol):
    def check_location(self, field: str, uri: str) -> None:
        """Raises: errors.Invalid when `uri` is not a location trainplane can read or write."""
        ...

    def check_job_path(self, field: str, path: str) -> None:
        """Raises: errors.Invalid when CheckpointConfig.LocalPath would leave the job's own tree."""
        ...

    def check_channel_name(self, field: str, name: str) -> None:
        """Raises: errors.Invalid when a channel name would leave input/data (`..`, `/`)."""
        ...

    def package_unstarted(self, job: Job, intent: StopIntent) -> PackagedModel:
        """Package the (empty) model of a job stopped before it ran, so Describe has an artifact."""
        ...

    def read_manifest(self, field: str, uri: str) -> Mapping[str, Any]:
        """The `trainplane-manifest.json` inside the archive at `uri`.

        Raises: errors.Invalid when `uri` is not an allowed location or not a trainplane artifact.
        """
        ...
