"""Which replica drives which job: claims held under a lease, so each step of the work happens once.

Several `trainplane serve` replicas may share one store. Any of them answers any request (reads and
compare-and-swap writes need no claim), but only the replica holding a job's claim drives its executor:
launches it, delivers its stop, observes it, kills what a lost supervisor left, packages a job stopped
before it ran. A claim holds while its owner renews its lease. A job whose executor every replica
reaches (Slurm, Ray) is taken over once its owner's lease has expired. A host-bound job (the local
executor: its processes and run dir are on the owner's host) is never taken over: the other replicas
still describe and stop it (the stop is persisted; the owner delivers it), and the owner drives it again
when it comes back with the same replica id (docs/postgresql.md).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from trainplane.domain.job import Job
from trainplane.service.ports import Claim, Clock, Store

log = logging.getLogger("trainplane.claims")
DEFAULT_LEASE_SECONDS = 30.0
LEASE_RENEWALS = 3  # renewals per lease: two may be missed before the lease runs out
MAX_POLL_SECONDS = 1.0  # how late, at most, a replica notices a stop persisted by another


@dataclass(frozen=True)
class ReplicaSettings:
    replica_id: str = "local"
    host: str = "localhost"
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    host_bound_executors: frozenset[str] = field(default_factory=lambda: frozenset({"local"}))
    poll_interval_seconds: float | None = None  # None: MAX_POLL_SECONDS, or less for a short lease

    @property
    def poll_seconds(self) -> float:
        if self.poll_interval_seconds is not None:
            return self.poll_interval_seconds
        return min(MAX_POLL_SECONDS, self.lease_seconds / (LEASE_RENEWALS + 1))


class Claims:
    """This replica's view of the claims. Thread-safe: `owns` is asked by request threads."""

    def __init__(self, store: Store, clock: Clock, settings: ReplicaSettings) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._lock = threading.Lock()
        self._owned: set[str] = set()
        self._seen: dict[str, Claim] = {}  # job id -> its claim as last polled
        self._host_bound: set[str] = set()  # ids of host-bound jobs (learnt when claiming them)
        self._renew_at: datetime | None = None

    @property
    def replica_id(self) -> str:
        return self._settings.replica_id

    def owns(self, job_id: str) -> bool:
        """Whether this replica held the job's claim when last seen (a hint; `acquire` is the truth)."""
        with self._lock:
            return job_id in self._owned

    def renew(self, *, is_forced: bool = False) -> None:
        """Renew this replica's lease when due (every lease / LEASE_RENEWALS)."""
        now = self._clock.now()
        if not is_forced and self._renew_at is not None and now < self._renew_at:
            return
        lease = timedelta(seconds=self._settings.lease_seconds)
        self._store.renew_lease(self.replica_id, self._settings.host, now + lease)
        self._renew_at = now + lease / LEASE_RENEWALS

    def resign(self) -> None:
        """End this replica's lease now (a clean shutdown): the jobs others may take over need not wait
        for it to run out. Host-bound jobs stay this replica's all the same."""
        self._store.renew_lease(self.replica_id, self._settings.host, self._clock.now())
        self._renew_at = None

    def acquire(self, job: Job) -> bool:
        """Claim (or confirm the claim on) `job` in the store, unless it is known to be another's."""
        is_host_bound = self._is_host_bound(job)
        if is_host_bound:
            with self._lock:
                self._host_bound.add(job.id)
        if not self._may_claim(job, is_host_bound):
            return False
        is_held = self._store.claim(
            job.id, self.replica_id, self._clock.now(), may_take_over=not is_host_bound
        )
        with self._lock:
            was_owned = job.id in self._owned
            if is_held:
                self._owned.add(job.id)
            else:
                self._owned.discard(job.id)
        if is_held and not was_owned:
            log.info("event=job_claimed job=%s replica=%s", job.id, self.replica_id)
        return is_held

    def forget(self, job_id: str) -> None:
        """The job is terminal: nothing more to drive."""
        with self._lock:
            self._owned.discard(job_id)
            self._host_bound.discard(job_id)
            self._seen.pop(job_id, None)

    def poll(self) -> Sequence[str]:
        """Renew the lease when due and re-read every active job's claim; return the ids to look at:
        this replica's jobs changed since the last poll (a stop another replica persisted), unclaimed
        jobs, and jobs whose owner's lease expired that this replica may take over."""
        self.renew()
        now = self._clock.now()
        claims = self._store.active_claims()
        with self._lock:
            previous, self._seen = self._seen, {claim.job_id: claim for claim in claims}
            self._owned = {claim.job_id for claim in claims if claim.owner == self.replica_id}
            self._host_bound.intersection_update(self._seen)  # finished jobs leave
            return [claim.job_id for claim in claims if self._is_worth_a_look(claim, previous, now)]

    def _is_worth_a_look(self, claim: Claim, previous: dict[str, Claim], now: datetime) -> bool:
        if claim.owner == self.replica_id:
            before = previous.get(claim.job_id)
            return before is None or before.version != claim.version
        if claim.owner is None:
            return True
        return _is_expired(claim, now) and claim.job_id not in self._host_bound

    def _may_claim(self, job: Job, is_host_bound: bool) -> bool:
        with self._lock:
            seen = self._seen.get(job.id)
        if seen is None or seen.owner in (None, self.replica_id):
            return True  # unknown yet (a new job, a first sweep) or free: the store decides
        return not is_host_bound and _is_expired(seen, self._clock.now())

    def _is_host_bound(self, job: Job) -> bool:
        executor = job.handle.executor if job.handle is not None else job.spec.executor
        return executor in self._settings.host_bound_executors


def _is_expired(claim: Claim, now: datetime) -> bool:
    return claim.owner_lease_expires_at is None or claim.owner_lease_expires_at < now
