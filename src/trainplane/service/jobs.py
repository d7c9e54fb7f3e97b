"""JobService: create · describe · list · stop · delete · tags, returning outcomes, never wire words."""

from __future__ import annotations

import enum
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from trainplane.domain import errors, images, messages, names, transitions
from trainplane.domain.groups import Placement
from trainplane.domain.job import Job, StopIntent, new_job
from trainplane.domain.status import JobKind, StopReason
from trainplane.service import admission, capacity, resumption
from trainplane.service.ports import (
    Artifacts,
    Clock,
    Executor,
    ListQuery,
    LogMarks,
    Page,
    Store,
    UsageSample,
)

log = logging.getLogger("trainplane.service")

STALE_WRITE_RETRIES = 20
# Re-exported: dialects and tests name them through the service.
GRACE_TAG = admission.GRACE_TAG
EXECUTOR_TAG = admission.EXECUTOR_TAG
NewJob = admission.NewJob


class StopOutcome(enum.StrEnum):
    REQUESTED = "requested"  # this call persisted the stop intent
    ALREADY_STOPPING = "already_stopping"  # an earlier stop is in progress
    ALREADY_FINISHED = "already_finished"  # the job is terminal


@dataclass(frozen=True)
class ServiceSettings:
    default_grace_seconds: float
    image_rules: Sequence[images.ImageRule]
    region: str = names.DEFAULT_REGION
    account: str = names.DEFAULT_ACCOUNT
    max_active_jobs: int = 0  # 0: no limit
    default_executor: str = "local"
    resources: capacity.ResourceSettings | None = None  # issue 10: instance types, host, queue


class JobService:
    """The one service core every dialect and the reconciler go through."""

    def __init__(
        self,
        store: Store,
        artifacts: Artifacts,
        clock: Clock,
        settings: ServiceSettings,
        executors: Mapping[str, Executor],
        on_change: Callable[[str], None] = lambda job_id: None,
    ) -> None:
        self._store = store
        self._executors = executors
        self._artifacts = artifacts
        self._clock = clock
        self._settings = settings
        self._admission = admission.AdmissionSettings(
            default_grace_seconds=settings.default_grace_seconds,
            image_rules=settings.image_rules,
            executors=frozenset(executors),
            executors_spanning_hosts=frozenset(name for name, ex in executors.items() if ex.spans_hosts),
            default_executor=settings.default_executor,
        )
        self._on_change = on_change  # wakes the reconciler
        self._is_driven_here: Callable[[str], bool] = lambda job_id: True

    @property
    def image_rules(self) -> Sequence[images.ImageRule]:
        """The server's image map (dialects list its images: ModelArts' AI engines)."""
        return self._settings.image_rules

    def set_on_change(self, on_change: Callable[[str], None]) -> None:
        self._on_change = on_change

    def set_is_driven_here(self, is_driven_here: Callable[[str], bool]) -> None:
        """With several replicas, only the one driving a job hands its stop to the executor at once."""
        self._is_driven_here = is_driven_here

    def arn(self, kind: JobKind, name: str, account: str | None = None) -> str:
        """The job's ARN, in the tenant's account (the server's when the tenant has none)."""
        account = account or self._settings.account
        return names.job_arn(kind.value, name, region=self._settings.region, account=account)

    def create(self, tenant: str, request: NewJob, *, account: str | None = None) -> Job:
        """Accept a job in `Starting`, with its tags, in one transaction; the reconciler launches it.

        Raises:
            errors.Invalid: unknown image or executor, unusable location, tag or channel list.
            errors.NameInUse: a job of that kind and name exists.
            errors.LimitExceeded: the tenant has `max_active_jobs` jobs not yet finished.
        """
        spec = admission.spec_for(request, self._admission, self._artifacts)
        capacity.check_create(spec, request.tags, self._settings.resources)
        placement = admission.placement_for(request)
        self._check_active_limit(tenant)
        job = new_job(
            job_id=str(uuid.uuid4()),
            tenant=tenant,
            kind=request.kind,
            name=request.name,
            arn=self.arn(request.kind, request.name, account),
            spec=spec,
            request=request.request,
            dialect=request.dialect,
            at=self._clock.now(),
        )
        job = self._store.insert(job, request.tags, placement)
        log.info("event=job_created job=%s name=%s executor=%s", job.id, job.name, spec.executor)
        self._on_change(job.id)
        return job

    def resume(
        self,
        tenant: str,
        kind: JobKind,
        name: str,
        new_name: str | None = None,
        *,
        account: str | None = None,
    ) -> Job:
        """A new job with the finished job's full spec and tags, in its group, so it continues from the
        same checkpoint location; named `new_name` or `<name>-r<n>`.

        Raises:
            errors.NotFound: no such job.
            errors.InvalidState: the job has not finished.
            errors.Invalid: it has no checkpoint location, or a location no longer allowed.
            errors.NameInUse: `new_name` is taken.
        """
        old = self._store.get(tenant, kind, name)
        resumption.check_resumable(old, self._artifacts)
        self._check_active_limit(tenant)
        tags = self._store.get_tags(old.id)
        placement = None if old.group_id is None else Placement(group_id=old.group_id)
        for candidate in resumption.new_names(old.name, new_name):
            job = new_job(
                job_id=str(uuid.uuid4()),
                tenant=tenant,
                kind=kind,
                name=candidate,
                arn=self.arn(kind, candidate, account),
                spec=old.spec,
                request=old.request,
                dialect=old.dialect,
                at=self._clock.now(),
            )
            try:
                job = self._store.insert(job, tags, placement)
            except errors.NameInUse:
                if new_name is not None:
                    raise
                continue
            log.info("event=job_resumed job=%s name=%s from=%s", job.id, job.name, old.id)
            self._on_change(job.id)
            return job
        raise errors.NameInUse(kind.value, f"{name}-r*")

    def _check_active_limit(self, tenant: str) -> None:
        # Checked before the insert, not atomically with it: racing creates may overshoot by a few,
        # which a resource limit (unlike a name) tolerates.
        limit = self._settings.max_active_jobs
        if limit and self._store.count_active(tenant) >= limit:
            raise errors.LimitExceeded(
                f"{limit} jobs are active, the most this server allows (setting TRAINPLANE_MAX_ACTIVE_JOBS)",
                limit=limit,
                setting="TRAINPLANE_MAX_ACTIVE_JOBS",
            )

    def describe(self, tenant: str, kind: JobKind, name: str) -> Job:
        """Raises: errors.NotFound."""
        return _visible(self._store.get(tenant, kind, name))

    def get_job(self, tenant: str, job_id: str) -> Job:
        """The tenant's job by id. Raises: errors.NotFound (also for another tenant's job)."""
        job = self._store.get_by_id(job_id)
        if job.tenant != tenant:
            raise errors.NotFound("job", job_id)
        return _visible(job)

    def stop_job(
        self, tenant: str, job_id: str, reason: StopReason = StopReason.USER
    ) -> tuple[StopOutcome, Job]:
        """`stop` by id. Raises: errors.NotFound."""
        return self._stop_with_retries(lambda: self.get_job(tenant, job_id), reason)

    def delete_job(self, tenant: str, job_id: str, *, stop_first: bool = False) -> Job | None:
        """Delete the tenant's job now if it has ended (None); with `stop_first`, stop an active one and
        let the reconciler delete it once it has ended (returns it as it stands, hidden from now on).

        Raises:
            errors.NotFound: no such job.
            errors.InvalidState: the job is active and not `stop_first`.
        """
        for _ in range(STALE_WRITE_RETRIES):
            job = self.get_job(tenant, job_id)
            if job.is_terminal:
                try:
                    self._store.delete(job)
                except errors.StaleWrite:
                    continue
                return None
            if not stop_first:
                raise errors.InvalidState("delete", job.primary.value)
            self.stop_job(tenant, job_id)
            try:
                return self._mark_deleted_when_ended(self.get_job(tenant, job_id))
            except errors.StaleWrite:
                continue  # it ended (or moved) meanwhile: decide again
        raise errors.Unavailable("the job changed too often to delete it; try again")

    def _mark_deleted_when_ended(self, job: Job) -> Job:
        if job.is_terminal:
            raise errors.StaleWrite(job.id, job.version)
        marked = self._store.save(job.touched(delete_when_ended=True), expected_version=job.version)
        log.info("event=delete_when_ended job=%s", job.id)
        self._on_change(job.id)
        return marked

    def list(self, tenant: str, kind: JobKind, query: ListQuery) -> Page:
        return self._store.list_jobs(tenant, kind, query)

    def stop(
        self, tenant: str, kind: JobKind, name: str, reason: StopReason = StopReason.USER
    ) -> tuple[StopOutcome, Job]:
        """Persist a stop intent (once, whoever races); the reconciler carries it out.

        Raises:
            errors.NotFound: no such job.
        """
        return self._stop_with_retries(lambda: self.describe(tenant, kind, name), reason)

    def stop_by_id(self, job_id: str, reason: StopReason) -> tuple[StopOutcome, Job]:
        return self._stop_with_retries(lambda: self._store.get_by_id(job_id), reason)

    def _stop_with_retries(self, read: Callable[[], Job], reason: StopReason) -> tuple[StopOutcome, Job]:
        for _ in range(STALE_WRITE_RETRIES):
            job = read()
            if job.is_terminal:
                return StopOutcome.ALREADY_FINISHED, job
            if job.stop is not None:
                return StopOutcome.ALREADY_STOPPING, job
            try:
                stopping = self._store.save(self._request_stop(job, reason), expected_version=job.version)
            except errors.StaleWrite:
                continue  # the reconciler or another request moved it: read again, decide again
            log.info(
                "event=stop_requested job=%s reason=%s deadline_at=%s",
                job.id,
                reason.value,
                stopping.stop.deadline_at.isoformat() if stopping.stop else "",
            )
            self._deliver_stop(stopping)
            self._on_change(job.id)
            return StopOutcome.REQUESTED, stopping
        raise errors.Unavailable("the job changed too often to stop it; try again")

    def _deliver_stop(self, job: Job) -> None:
        """Hand the persisted intent to the executor at once; the reconciler re-delivers on failure."""
        if job.handle is None or job.stop is None or job.handle.executor not in self._executors:
            return
        if not self._is_driven_here(job.id):
            return  # another replica drives it: its reconciler delivers the persisted intent
        try:
            self._executors[job.handle.executor].request_stop(job.handle, job.stop)
        except Exception:  # the intent is durable: the reconciler's delivery is the fallback
            log.exception("event=stop_delivery_failed job=%s", job.id)

    def _request_stop(self, job: Job, reason: StopReason) -> Job:
        now = self._clock.now()
        grace_seconds = self._grace_seconds(job)
        intent = StopIntent(
            requested_at=now,
            deadline_at=now + timedelta(seconds=grace_seconds),
            reason=reason,
            grace_seconds=grace_seconds,
        )
        event = (
            transitions.Event.MAX_RUNTIME_REACHED
            if reason is StopReason.MAX_RUNTIME
            else transitions.Event.STOP_REQUESTED
        )
        message = messages.status_message(job.kind, _STOP_STEPS[reason], grace=_seconds_text(grace_seconds))
        return job.advance(event, now, message).with_stop(intent)

    def _grace_seconds(self, job: Job) -> float:
        # The spec is the one source (set from the tag at create). A value an older version stored
        # unchecked (NaN, infinity) must not make the job unstoppable.
        grace = admission.usable_grace_seconds(job.spec.grace_seconds, self._settings.default_grace_seconds)
        if grace != job.spec.grace_seconds:
            log.warning(
                "event=unusable_grace job=%s stored=%r used=%r", job.id, job.spec.grace_seconds, grace
            )
        return grace

    def delete(self, tenant: str, kind: JobKind, name: str) -> None:
        """Remove a terminal job so its name can be reused.

        Raises:
            errors.NotFound: no such job.
            errors.InvalidState: the job is not terminal.
        """
        job = self.describe(tenant, kind, name)
        if not job.is_terminal:
            raise errors.InvalidState("delete", job.primary.value)
        self._store.delete(job)

    def read_log(
        self, tenant: str, kind: JobKind, name: str, offset: int, max_bytes: int
    ) -> tuple[bytes, bool]:
        """Up to `max_bytes` of the job's log from `offset`, and whether the job was already terminal.

        Raises:
            errors.NotFound: no such job.
        """
        job = self.describe(tenant, kind, name)
        if job.handle is None:
            return b"", job.is_terminal
        return self._executors[job.handle.executor].read_log(job.handle, offset, max_bytes), job.is_terminal

    def read_log_marks(self, tenant: str, kind: JobKind, name: str) -> LogMarks:
        """When the job's log grew, for per-line timestamps. Raises: errors.NotFound: no such job."""
        job = self.describe(tenant, kind, name)
        if job.handle is None:
            return LogMarks(0, (), None)
        return self._executors[job.handle.executor].read_log_marks(job.handle)

    def read_usage(self, tenant: str, kind: JobKind, name: str) -> Sequence[UsageSample]:
        """The job's usage samples, oldest first (none before it started). Raises: errors.NotFound."""
        job = self._store.get(tenant, kind, name)
        if job.handle is None or job.handle.executor not in self._executors:
            return []
        return self._executors[job.handle.executor].read_usage(job.handle)

    def job_by_arn(self, tenant: str, arn: str) -> Job:
        """Raises: errors.NotFound."""
        parsed = names.parse_job_arn(arn)
        if parsed is None:
            raise errors.NotFound("resource", arn)
        kind, name = parsed
        job = self.describe(tenant, JobKind(kind), name)
        if job.arn != arn:
            raise errors.NotFound("resource", arn)
        return job

    def tags(self, tenant: str, arn: str) -> Mapping[str, str]:
        return self._store.get_tags(self.job_by_arn(tenant, arn).id)

    def add_tags(self, tenant: str, arn: str, tags: Mapping[str, str]) -> None:
        """Raises: errors.NotFound; errors.Invalid for a tag read into the spec at create."""
        job = self.job_by_arn(tenant, arn)
        admission.check_tag_change(list(tags))
        self._store.put_tags(job.id, tags)

    def delete_tags(self, tenant: str, arn: str, keys: Sequence[str]) -> None:
        """Raises: errors.NotFound; errors.Invalid for a tag read into the spec at create."""
        job = self.job_by_arn(tenant, arn)
        admission.check_tag_change(keys)
        self._store.remove_tags(job.id, keys)


_STOP_STEPS = {
    StopReason.USER: messages.Step.STOP_REQUESTED,
    StopReason.MAX_RUNTIME: messages.Step.MAX_RUNTIME_REACHED,
    StopReason.PREEMPTED: messages.Step.PREEMPTED,
}


def _visible(job: Job) -> Job:
    """Raises: errors.NotFound for a job deleted once it has ended (it only awaits that)."""
    if job.delete_when_ended:
        raise errors.NotFound(f"{job.kind.value} job", job.name)
    return job


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"
