"""Which local job may start now, with what (issue 10): the reconciler asks before it launches.

It keeps the ledger (service/capacity.py) and the queue (service/queue.py) in step with the store:
each sweep hands it every active job, so holdings and the queue are rebuilt after a restart from what
the store holds (a launched job's allocation is in its executor handle). Granting, launching and
releasing happen on the reconciler's one thread; with several replicas each drives its own host's
capacity and a job is launched by the one replica whose claim wins.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence

from trainplane.domain import errors
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import Job
from trainplane.domain.status import Secondary
from trainplane.service import capacity
from trainplane.service.capacity import Ledger, ResourceSettings
from trainplane.service.ports import Clock, Store
from trainplane.service.queue import Entry, Queue

log = logging.getLogger("trainplane.scheduler")
WAIT = "wait"  # admit(): the job stays queued


class Scheduler:
    def __init__(self, store: Store, clock: Clock, settings: ResourceSettings | None) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        is_queued = settings is not None and settings.is_queue_enabled
        self._ledger = Ledger(settings.host) if settings is not None and is_queued else None
        self._queue = Queue(settings, self._ledger) if settings is not None and self._ledger else None
        self._written: dict[str, str] = {}  # job id -> the waiting message last saved

    @property
    def queue(self) -> Queue | None:
        return self._queue

    @property
    def ledger(self) -> Ledger | None:
        return self._ledger

    def sync(self, jobs: Sequence[Job], owns: Callable[[str], bool]) -> list[str]:
        """Holdings and queue as the store has them now; the ids of jobs granted as a result."""
        if self._ledger is None or self._queue is None:
            return []
        waiting, launched = self._sync_jobs(jobs, owns)
        for job_id in self._ledger.held_ids() - launched:
            if self._queue.granted(job_id) is None:
                self._ledger.release(job_id)  # ended, or taken over by another replica
        for entry_id in [job_id for job_id in self._queue.ids() if job_id not in waiting]:
            self._queue.remove(entry_id)
        return self._queue.grant(self._clock.now())

    def _sync_jobs(self, jobs: Sequence[Job], owns: Callable[[str], bool]) -> tuple[set[str], set[str]]:
        """Record launched jobs' holdings and queue the waiting; (waiting ids, launched ids)."""
        assert self._ledger is not None and self._queue is not None
        waiting: set[str] = set()
        launched: set[str] = set()
        for job in jobs:
            if job.spec.executor != capacity.LOCAL_EXECUTOR:
                continue
            if job.handle is not None:
                allocation = Allocation.from_ref(job.handle.ref)
                if allocation is not None and owns(job.id):
                    self._ledger.record(job.id, job.tenant, allocation)
                    launched.add(job.id)
            elif self._is_waiting(job):
                waiting.add(job.id)
                if self._queue.granted(job.id) is None:
                    self._enqueue(job)
        return waiting, launched

    def admit(self, job: Job) -> Allocation | str | None:
        """For a job with no handle: its allocation (None: not limited), or WAIT while it queues."""
        settings, ledger, queue = self._settings, self._ledger, self._queue
        if settings is None or job.stop is not None or job.spec.executor != capacity.LOCAL_EXECUTOR:
            if queue is not None:
                queue.remove(job.id)  # stopped while waiting: it ends now, never spawned
            return None
        demand = capacity.demand_of(job.spec, settings)
        if demand is None:  # refused at create with the queue on; without it, it runs unlimited
            log.warning(
                "event=instance_type_unknown job=%s instance_type=%s limits=none",
                job.id,
                job.spec.instance_type,
            )
            return None
        if ledger is None or queue is None:  # no queue: every job starts at once, within its limits
            return Allocation(min(demand.cpus, settings.host.cpus), demand.memory_mib, None)
        held = ledger.allocation_of(job.id)
        if held is not None:
            queue.take_grant(job.id)
            return held
        is_new = job.id not in queue
        self._enqueue(job)
        queue.grant(self._clock.now())
        granted = queue.take_grant(job.id)
        if granted is not None:
            return granted
        if is_new:  # a queued job's message is refreshed by the sweep (write_messages), not per look
            self._write_message(job)
        return WAIT

    def release(self, job_id: str) -> list[str]:
        """The job ended (or never launched): free what it held; the ids now granted."""
        if self._ledger is None or self._queue is None:
            return []
        self._queue.remove(job_id)
        self._written.pop(job_id, None)
        if not self._ledger.release(job_id):
            return []
        return self._queue.grant(self._clock.now())

    def write_messages(self, jobs: Sequence[Job]) -> None:
        """Bring each waiting job's status message up to date (only those that changed are saved)."""
        if self._queue is None:
            return
        by_id = {job.id: job for job in jobs}
        for job_id, message in self._queue.messages():
            job = by_id.get(job_id)
            if job is not None and self._written.get(job_id) != message:
                self._save_message(job, message)

    def _write_message(self, job: Job) -> None:
        assert self._queue is not None
        message = self._queue.message_of(job.id)
        if message is not None and self._written.get(job.id) != message:
            self._save_message(job, message)

    def _save_message(self, job: Job, message: str) -> None:
        last = job.history[-1]
        if last.message == message or not self._is_waiting(job):
            self._written[job.id] = message
            return
        history = (*job.history[:-1], dataclasses.replace(last, message=message))
        try:
            self._store.save(job.touched(history=history), expected_version=job.version)
        except errors.StaleWrite:
            return  # a stop or a launch moved it: the next sweep looks again
        self._written[job.id] = message
        log.info("event=job_waiting job=%s message=%r", job.id, message)

    def _enqueue(self, job: Job) -> None:
        assert self._queue is not None and self._settings is not None
        if job.id in self._queue:
            return
        demand = capacity.demand_of(job.spec, self._settings)
        if demand is None:
            return
        try:
            priority = capacity.parse_priority(self._store.get_tags(job.id).get(capacity.PRIORITY_TAG))
        except errors.Invalid:
            priority = 0  # checked at create; a tag set before that check existed counts as 0
        self._queue.add(Entry(job.created_at, job.id, job.tenant, priority, demand))

    @staticmethod
    def _is_waiting(job: Job) -> bool:
        return job.status is Secondary.STARTING and job.handle is None and job.stop is None
