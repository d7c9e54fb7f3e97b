"""JobService: create · describe · list · stop · delete · tags, returning outcomes, never wire words."""

from __future__ import annotations

import enum
import logging
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from trainplane.domain import errors, images, names, transitions
from trainplane.domain.job import (
    Channel,
    Job,
    JobSpec,
    MetricDefinition,
    StopIntent,
    new_job,
)
from trainplane.domain.status import JobKind, StopReason
from trainplane.service.ports import Artifacts, Clock, Executor, ListQuery, Page, Store

log = logging.getLogger("trainplane.service")

GRACE_TAG = "trainplane:stop-grace-seconds"
MAX_GRACE_SECONDS = 28 * 24 * 3600  # SageMaker's longest runtime; a longer grace is surely a typo
STALE_WRITE_RETRIES = 20


class StopOutcome(enum.StrEnum):
    REQUESTED = "requested"  # this call persisted the stop intent
    ALREADY_STOPPING = "already_stopping"  # an earlier stop is in progress
    ALREADY_FINISHED = "already_finished"  # the job is terminal


@dataclass(frozen=True)
class NewJob:
    """A create request in dialect-neutral terms."""

    name: str
    kind: JobKind
    dialect: str
    image: str
    request: Mapping[str, Any]  # echoed back by the creating dialect
    entrypoint: Sequence[str] = ()
    arguments: Sequence[str] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: Sequence[Channel] = ()
    output_uri: str = ""
    checkpoint_uri: str | None = None
    checkpoint_local_path: str | None = None
    max_runtime_seconds: int | None = None
    metric_definitions: Sequence[MetricDefinition] = ()
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    tags: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ServiceSettings:
    default_grace_seconds: float
    image_rules: Sequence[images.ImageRule]
    region: str = names.DEFAULT_REGION
    account: str = names.DEFAULT_ACCOUNT
    max_active_jobs: int = 0  # 0: no limit


def parse_grace_tag(value: str, field_name: str = "tags") -> float:
    """Raises: errors.Invalid when the tag is not a number of seconds in [0, 28 days]."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not (0 <= seconds <= MAX_GRACE_SECONDS):
        raise errors.Invalid(
            field_name, f"tag {GRACE_TAG} must be a number of seconds from 0 to {MAX_GRACE_SECONDS}"
        )
    return seconds


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
        self._on_change = on_change  # wakes the reconciler

    def set_on_change(self, on_change: Callable[[str], None]) -> None:
        self._on_change = on_change

    def arn(self, kind: JobKind, name: str) -> str:
        return names.job_arn(kind.value, name, region=self._settings.region, account=self._settings.account)

    def create(self, tenant: str, request: NewJob) -> Job:
        """Accept a job in `Starting`; the reconciler launches it.

        Raises:
            errors.Invalid: unknown image, unusable location or tag.
            errors.NameInUse: a job of that kind and name exists.
            errors.LimitExceeded: the tenant has `max_active_jobs` jobs not yet finished.
        """
        runtime = images.resolve(self._settings.image_rules, request.image)
        self._check_active_limit(tenant)
        self._check_locations(request)
        if GRACE_TAG in request.tags:
            parse_grace_tag(request.tags[GRACE_TAG])
        spec = JobSpec(
            image=request.image,
            command=images.build_command(runtime, request.entrypoint, request.arguments),
            environment={**runtime.environment, **request.environment},
            hyperparameters=dict(request.hyperparameters),
            channels=tuple(request.channels),
            output_uri=request.output_uri,
            checkpoint_uri=request.checkpoint_uri,
            checkpoint_local_path=request.checkpoint_local_path,
            max_runtime_seconds=request.max_runtime_seconds,
            grace_seconds=self._settings.default_grace_seconds,
            metric_definitions=tuple(request.metric_definitions),
            instance_type=request.instance_type,
            instance_count=request.instance_count,
        )
        if not spec.command:
            raise errors.Invalid(
                "algorithmSpecification.containerEntrypoint",
                f"image {request.image!r} has no command: give ContainerEntrypoint",
            )
        job = new_job(
            job_id=str(uuid.uuid4()),
            tenant=tenant,
            kind=request.kind,
            name=request.name,
            arn=self.arn(request.kind, request.name),
            spec=spec,
            request=request.request,
            dialect=request.dialect,
            at=self._clock.now(),
        )
        self._store.insert(job)
        if request.tags:
            self._store.put_tags(job.id, request.tags)
        log.info("event=job_created job=%s name=%s", job.id, job.name)
        self._on_change(job.id)
        return job

    def _check_active_limit(self, tenant: str) -> None:
        # Checked before the insert, not atomically with it: racing creates may overshoot by a few,
        # which a resource limit (unlike a name) tolerates.
        limit = self._settings.max_active_jobs
        if limit and self._store.count_active(tenant) >= limit:
            raise errors.LimitExceeded(
                f"The account-level service limit of {limit} active training jobs has been reached "
                "(setting TRAINPLANE_MAX_ACTIVE_JOBS). Stop a job or wait for one to finish."
            )

    def _check_locations(self, request: NewJob) -> None:
        self._artifacts.check_location("outputDataConfig.s3OutputPath", request.output_uri)
        for index, channel in enumerate(request.channels, start=1):
            self._artifacts.check_channel_name(f"inputDataConfig.{index}.member.channelName", channel.name)
            self._artifacts.check_location(
                f"inputDataConfig.{index}.member.dataSource.s3DataSource.s3Uri", channel.source
            )
        if request.checkpoint_uri is not None:
            self._artifacts.check_location("checkpointConfig.s3Uri", request.checkpoint_uri)
        if request.checkpoint_local_path is not None:
            self._artifacts.check_job_path("checkpointConfig.localPath", request.checkpoint_local_path)

    def describe(self, tenant: str, kind: JobKind, name: str) -> Job:
        """Raises: errors.NotFound."""
        return self._store.get(tenant, kind, name)

    def list(self, tenant: str, kind: JobKind, query: ListQuery) -> Page:
        return self._store.list_jobs(tenant, kind, query)

    def stop(
        self, tenant: str, kind: JobKind, name: str, reason: StopReason = StopReason.USER
    ) -> tuple[StopOutcome, Job]:
        """Persist a stop intent (once, whoever races); the reconciler carries it out.

        Raises:
            errors.NotFound: no such job.
        """
        return self._stop_with_retries(lambda: self._store.get(tenant, kind, name), reason)

    def stop_by_id(self, job_id: str, reason: StopReason) -> tuple[StopOutcome, Job]:
        return self._stop_with_retries(lambda: self._store.get_by_id(job_id), reason)

    def _stop_with_retries(self, read: Callable[[], Job], reason: StopReason) -> tuple[StopOutcome, Job]:
        for _ in range(STALE_WRITE_RETRIES):
            job = read()
            if job.is_terminal:
                return StopOutcome.ALREADY_FINISHED, job
            if job.stop is not None:
                return StopOutcome.ALREADY_STOPPING, job
            stopping = self._request_stop(job, reason)
            try:
                self._store.save(stopping, expected_version=job.version)
            except errors.StaleWrite:
                continue  # the reconciler or another request moved it: read again, decide again
            log.info(
                "event=stop_requested job=%s reason=%s deadline_at=%s",
                job.id,
                reason.value,
                stopping.stop.deadline_at.isoformat() if stopping.stop else "",
            )
            self._on_change(job.id)
            return StopOutcome.REQUESTED, stopping
        raise errors.Unavailable("the job changed too often to stop it; try again")

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
        message = _STOP_MESSAGES[reason].format(grace=_seconds_text(grace_seconds))
        return job.advance(event, now, message).with_stop(intent)

    def _grace_seconds(self, job: Job) -> float:
        tag = self._store.get_tags(job.id).get(GRACE_TAG)
        stored = job.spec.grace_seconds
        if not 0 <= stored <= MAX_GRACE_SECONDS:  # nan/inf/negative stored by an older version
            stored = self._settings.default_grace_seconds
        if tag is None:
            return stored
        try:
            return parse_grace_tag(tag)
        except errors.Invalid:
            log.warning("event=bad_grace_tag job=%s value=%r", job.id, tag)
            return stored

    def delete(self, tenant: str, kind: JobKind, name: str) -> None:
        """Remove a terminal job so its name can be reused.

        Raises:
            errors.NotFound: no such job.
            errors.InvalidState: the job is not terminal.
        """
        job = self._store.get(tenant, kind, name)
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
        job = self._store.get(tenant, kind, name)
        if job.handle is None:
            return b"", job.is_terminal
        return self._executors[job.handle.executor].read_log(job.handle, offset, max_bytes), job.is_terminal

    def job_by_arn(self, tenant: str, arn: str) -> Job:
        """Raises: errors.NotFound."""
        parsed = names.parse_job_arn(arn)
        if parsed is None:
            raise errors.NotFound("resource", arn)
        kind, name = parsed
        job = self._store.get(tenant, JobKind(kind), name)
        if job.arn != arn:
            raise errors.NotFound("resource", arn)
        return job

    def tags(self, tenant: str, arn: str) -> Mapping[str, str]:
        return self._store.get_tags(self.job_by_arn(tenant, arn).id)

    def add_tags(self, tenant: str, arn: str, tags: Mapping[str, str]) -> None:
        if GRACE_TAG in tags:
            parse_grace_tag(tags[GRACE_TAG])
        self._store.put_tags(self.job_by_arn(tenant, arn).id, tags)

    def delete_tags(self, tenant: str, arn: str, keys: Sequence[str]) -> None:
        self._store.remove_tags(self.job_by_arn(tenant, arn).id, keys)


_STOP_MESSAGES = {
    StopReason.USER: "Stopping the training job: SIGTERM, then SIGKILL after {grace}",
    StopReason.MAX_RUNTIME: "MaxRuntimeInSeconds reached: stopping the job (grace {grace})",
    StopReason.PREEMPTED: "The engine preempted the job: stopping it (grace {grace})",
}


def _seconds_text(seconds: float) -> str:
    return f"{seconds:g} s"
