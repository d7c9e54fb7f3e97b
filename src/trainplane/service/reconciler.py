"""The one loop: launch jobs, deliver stops, enforce max runtime, turn executor reports into events.

It runs in one thread. Anything can wake it (a create, a stop, a supervisor's report); a full sweep of
every active job also runs every `sweep_interval_seconds`, so a lost wake-up only costs latency.
With several replicas on one store it drives only the jobs it has claimed (service/claims.py), and a
poll of the claims every second or less notices the stops other replicas persisted for them.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TypeVar

from trainplane.domain import errors, transitions
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import ExecutorHandle, Failure, FailureKind, Job, StopIntent
from trainplane.domain.status import StopReason
from trainplane.service import observing, scheduler
from trainplane.service.capacity import ResourceSettings
from trainplane.service.claims import Claims, ReplicaSettings
from trainplane.service.jobs import JobService
from trainplane.service.ports import Artifacts, Clock, Executor, Phase, Store
from trainplane.service.scheduler import Scheduler

log = logging.getLogger("trainplane.reconciler")
HANDLE_RETRIES = 20
T = TypeVar("T")


class Reconciler:
    def __init__(
        self,
        store: Store,
        service: JobService,
        executors: Mapping[str, Executor],
        artifacts: Artifacts,
        clock: Clock,
        sweep_interval_seconds: float = 5.0,
        replica: ReplicaSettings | None = None,
        resources: ResourceSettings | None = None,
    ) -> None:
        self._store = store
        self._scheduler = Scheduler(store, clock, resources)  # issue 10: limits and the queue
        self._service = service
        self._executors = executors
        self._artifacts = artifacts
        self._clock = clock
        self._sweep_interval_seconds = sweep_interval_seconds
        replica = replica or ReplicaSettings()
        self._claims = Claims(store, clock, replica)
        self._poll_interval = timedelta(seconds=replica.poll_seconds)
        self._pending: set[str] = set()
        self._wakeup = threading.Condition()
        self._delivered: dict[str, datetime] = {}  # job id -> deadline already handed to the executor
        self._max_runtime_deadlines: list[datetime] = []
        self._is_running = False
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def wake(self, job_id: str) -> None:
        """Thread-safe: reconcile `job_id` soon."""
        with self._wakeup:
            self._pending.add(job_id)
            self._wakeup.notify()

    def owns(self, job_id: str) -> bool:
        """Thread-safe: whether this replica drives the job (a hint, as last seen)."""
        return self._claims.owns(job_id)

    def recover(self) -> None:
        """Reattach to every non-terminal job this replica owns before new work is accepted."""
        self._claims.renew(is_forced=True)  # a lease before the first claim: claims need a live owner
        self._store.watch_stops(self.wake)  # a stop another replica persists, heard at once
        for executor in self._executors.values():
            executor.watch(self.wake)
        for job in self._store.ended_deletes():  # a crash came between their end and their delete
            self._delete_ended(job)
        self.sweep()

    def start(self) -> None:
        self._is_running = True
        self._thread = threading.Thread(target=self._run, name="reconciler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the loop. Jobs keep running; a restarted server reattaches to them."""
        with self._wakeup:
            self._is_running = False
            self._wakeup.notify()
        if self._thread is not None:
            self._thread.join()
            self._guarded(lambda _: self._claims.resign(), None)
        for executor in self._executors.values():
            executor.close()

    def _run(self) -> None:
        next_sweep_at = next_poll_at = self._clock.now()
        while True:
            with self._wakeup:
                timeout = max(0.0, (min(next_sweep_at, next_poll_at) - self._clock.now()).total_seconds())
                if not self._pending and self._is_running:
                    self._wakeup.wait(timeout)
                if not self._is_running:
                    return
                batch, self._pending = self._pending, set()
            for job_id in batch:
                self._guarded(self.reconcile_id, job_id)
            if self._clock.now() >= next_sweep_at:
                self._guarded(lambda _: self.sweep(), None)  # a sweep polls the claims too
                next_sweep_at = self._clock.now() + self._next_sweep_delay()
                next_poll_at = self._clock.now() + self._poll_interval
            elif self._clock.now() >= next_poll_at:
                self._guarded(lambda _: self._poll(), None)
                next_poll_at = self._clock.now() + self._poll_interval

    def _poll(self) -> None:
        for job_id in self._claims.poll():
            self._guarded(self.reconcile_id, job_id)

    def _guarded(self, action: Callable[[T], object], argument: T) -> None:
        try:
            action(argument)
        except Exception:  # the loop must outlive any one job's bug
            log.exception("event=reconcile_error argument=%s", argument)

    def _next_sweep_delay(self) -> timedelta:
        # Wake up in time for the earliest max-runtime deadline; otherwise sweep periodically.
        delay = timedelta(seconds=self._sweep_interval_seconds)
        now = self._clock.now()
        for deadline in self._max_runtime_deadlines:
            delay = min(delay, max(deadline - now, timedelta(0)))
        return delay

    # --- one pass ------------------------------------------------------------------------------

    def sweep(self) -> None:
        self._claims.poll()  # renews the lease and learns which jobs are whose
        deadlines = []
        jobs = self._store.active_jobs()
        self._wake_all(self._scheduler.sync(jobs, self._claims.owns))  # holdings first, then grants
        for job in jobs:
            self._guarded(self.reconcile, job)  # just read: no need to read it again by id
            deadline = _max_runtime_deadline(job)
            if deadline is not None and job.stop is None and self._claims.owns(job.id):
                deadlines.append(deadline)
        self._max_runtime_deadlines = deadlines
        self._scheduler.write_messages(jobs)

    def reconcile_id(self, job_id: str) -> None:
        try:
            job = self._store.get_by_id(job_id)
        except errors.NotFound:
            return
        self.reconcile(job)

    def reconcile(self, job: Job) -> None:
        if job.is_terminal:
            self._delivered.pop(job.id, None)
            self._claims.forget(job.id)
            self._wake_all(self._scheduler.release(job.id))
            return
        if job.handle is None:
            allocation = self._scheduler.admit(job)
            if allocation == scheduler.WAIT:
                return  # queued for capacity (service/queue.py)
            if self._claims.acquire(job):  # in the store, every time: a launch happens once
                self._start(job, None if isinstance(allocation, str) else allocation)
            else:
                self._wake_all(self._scheduler.release(job.id))
            return
        if not (self._claims.owns(job.id) or self._claims.acquire(job)):
            return  # another replica drives it
        executor = self._executor(job.handle)
        if job.stop is not None and self._delivered.get(job.id) != job.stop.deadline_at:
            if not self._claims.acquire(job):  # confirmed in the store: the owner delivers, once
                return
            executor.request_stop(job.handle, job.stop)
            self._delivered[job.id] = job.stop.deadline_at
        self._observe(job, executor)

    def _executor(self, handle: ExecutorHandle) -> Executor:
        return self._executors[handle.executor]

    # --- starting ------------------------------------------------------------------------------

    def _wake_all(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self.wake(job_id)

    def _start(self, job: Job, allocation: Allocation | None = None) -> None:
        if job.stop is not None:
            self._finish_unstarted(job, job.stop)
            return
        executor = self._executors.get(job.spec.executor)
        if executor is None:  # checked at create; a server restarted without that executor lands here
            known = ", ".join(sorted(self._executors))
            reason = f"the job's executor {job.spec.executor!r} is not configured on this server ({known})"
            self._fail(job, Failure(FailureKind.PLATFORM, reason))
            return
        try:
            handle = executor.launch(job, allocation) if allocation is not None else executor.launch(job)
        except errors.TrainplaneError as exc:
            self._fail(job, Failure(FailureKind.USER, f"the job could not be launched: {exc.message}"))
            return
        log.info("event=job_launched job=%s executor=%s", job.id, executor.name)
        self._save_handle(job, handle)
        self.wake(job.id)  # a stop may have raced the launch: deliver it at once

    def _save_handle(self, job: Job, handle: ExecutorHandle) -> None:
        # The handle is a fact, not a decision: merge it into whatever the job is now.
        for _ in range(HANDLE_RETRIES):
            try:
                self._store.save(job.touched(handle=handle), expected_version=job.version)
                return
            except errors.StaleWrite:
                job = self._store.get_by_id(job.id)
        raise errors.Unavailable(f"could not record the handle of job {job.id}")

    def _finish_unstarted(self, job: Job, intent: StopIntent) -> None:
        """A stop during Starting: nothing was spawned; package the empty model and end."""
        packaged = self._artifacts.package_unstarted(job, intent)
        event, message = observing.stop_finished_event(job.kind, intent.reason, spawned=False)
        done = observing.with_packaged(job, packaged, exit_code=None).advance(
            event, self._clock.now(), message
        )
        self._save(job, done)

    # --- observing -----------------------------------------------------------------------------

    def _observe(self, job: Job, executor: Executor) -> None:
        assert job.handle is not None
        observation = executor.observe(job.handle)
        if observation.phase is Phase.LOST:
            if not self._claims.acquire(job):
                return  # taken over meanwhile: the new owner kills what is left
            # Nothing supervises the job any more: kill what it left before saying it failed.
            report = executor.kill_all(job.handle)
            outcome = dataclasses.replace(observation.outcome, stop_report=report)
            observation = dataclasses.replace(observation, outcome=outcome)
        updated = observing.apply(job, observation, self._clock.now())
        if updated is not job:
            self._save(job, updated)
            job = updated
        self._enforce_max_runtime(job)

    def _enforce_max_runtime(self, job: Job) -> None:
        deadline = _max_runtime_deadline(job)
        if deadline is None or job.stop is not None or job.is_terminal:
            return
        if self._clock.now() >= deadline:
            self._service.stop_by_id(job.id, StopReason.MAX_RUNTIME)

    def _fail(self, job: Job, failure: Failure) -> None:
        failed = observing.with_failure(job, failure).advance(
            transitions.Event.FAILED, self._clock.now(), failure.message
        )
        self._save(job, failed)

    def _save(self, job: Job, updated: Job) -> None:
        try:
            stored = self._store.save(updated, expected_version=job.version)
        except errors.StaleWrite:
            self.wake(job.id)  # a stop raced us: look again with fresh state
            return
        log.info("event=status_changed job=%s status=%s", job.id, updated.status.value)
        if updated.is_terminal:
            self._wake_all(self._scheduler.release(job.id))  # its capacity goes to the next in line
        if stored.is_terminal and stored.delete_when_ended:
            self._delete_ended(stored)

    def _delete_ended(self, job: Job) -> None:
        """The delete a client asked for while the job ran (it had to stop first)."""
        try:
            self._store.delete(job)
        except (errors.StaleWrite, errors.NotFound):
            return  # changed or gone meanwhile: a restart's pass (recover) retries what is left
        log.info("event=job_deleted_when_ended job=%s", job.id)


def _max_runtime_deadline(job: Job) -> datetime | None:
    if job.spec.max_runtime_seconds is None or job.started_at is None:
        return None
    if job.status not in transitions.MAX_RUNTIME_APPLIES:
        return None
    return job.started_at + timedelta(seconds=job.spec.max_runtime_seconds)
