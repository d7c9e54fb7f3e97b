"""The job record: one frozen value per job, whatever API created it and whatever engine runs it."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from trainplane.domain import messages, transitions
from trainplane.domain.status import JobKind, Primary, Secondary, StopReason

DEFAULT_GRACE_SECONDS = 120.0


def check_aware(at: datetime) -> datetime:
    """Reject naive datetimes: every instant in trainplane is timezone-aware UTC."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"naive datetime {at!r}: use timezone-aware UTC")
    return at


@dataclass(frozen=True)
class Channel:
    """One input channel: `source` is a local path or file:// URI staged as SM_CHANNEL_<NAME>."""

    name: str
    source: str
    content_type: str | None = None


@dataclass(frozen=True)
class MetricDefinition:
    name: str
    regex: str


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    at: datetime


@dataclass(frozen=True)
class JobSpec:
    """What to run, in dialect-neutral terms. The runtime is resolved from the image at create time."""

    image: str
    command: tuple[str, ...]  # the resolved runtime command followed by entrypoint and arguments
    environment: Mapping[str, str]  # the image's runtime environment merged with the request's
    hyperparameters: Mapping[str, str] = field(default_factory=dict)
    channels: tuple[Channel, ...] = ()
    output_uri: str = ""  # where <job>/output/model.tar.gz goes
    checkpoint_uri: str | None = None  # durable checkpoint location (resume source)
    checkpoint_local_path: str | None = None  # where the job writes checkpoints (SM LocalPath)
    max_runtime_seconds: int | None = None
    max_runtime_warning_seconds: float | None = None  # SIGUSR1 this long before max runtime (issue 10)
    grace_seconds: float = DEFAULT_GRACE_SECONDS
    signal_policy: str = "group"  # "group": every process of the job; "main": the entrypoint only
    metric_definitions: tuple[MetricDefinition, ...] = ()
    instance_type: str = "ml.m5.large"
    instance_count: int = 1
    executor: str = "local"  # the name of the executor that runs the job (chosen at create)
    payload: Mapping[str, Any] = field(default_factory=dict)  # what only this job kind needs


@dataclass(frozen=True)
class Transition:
    """One entry of the status history (SageMaker `SecondaryStatusTransitions`)."""

    status: Secondary
    started_at: datetime
    message: str
    ended_at: datetime | None = None


@dataclass(frozen=True)
class StopIntent:
    """A persisted stop request. `deadline_at` is absolute: a restart never extends it."""

    requested_at: datetime
    deadline_at: datetime
    reason: StopReason
    grace_seconds: float


@dataclass(frozen=True)
class ExecutorHandle:
    """How an executor finds a launched job again after a control-plane restart."""

    executor: str
    ref: Mapping[str, str]


@dataclass(frozen=True)
class StopReport:
    """Evidence of how a stop went (reference/peers.md, 'a guarantee that nothing survives')."""

    term_sent_at: datetime | None = None
    term_pids: int = 0
    kill_sent_at: datetime | None = None
    kill_pids: int = 0
    survivors: tuple[int, ...] = ()


class FailureKind(enum.StrEnum):
    """Who is to blame for a failed job; each dialect words it (SageMaker: ClientError, ...)."""

    USER = "user_error"  # the request or its inputs are wrong: fix the request
    ALGORITHM = "algorithm_error"  # the job's own code failed (its exit, its output/failure text)
    PLATFORM = "platform_error"  # trainplane or the machine failed: not the user's doing


@dataclass(frozen=True)
class Failure:
    """Why a job failed, in neutral terms."""

    kind: FailureKind
    message: str


@dataclass(frozen=True)
class Outcome:
    """What the executor reported once the job's processes were gone."""

    exit_code: int | None = None
    failure: Failure | None = None
    model_uri: str | None = None
    output_uri: str | None = None
    has_complete_checkpoint: bool = False
    model_digest: str | None = None  # the published artifact's sha256 (hex), where the packager took it
    metrics: tuple[Metric, ...] = ()
    stop_report: StopReport | None = None


@dataclass(frozen=True)
class Job:
    """One job. `advance` is the only way its status changes."""

    id: str
    tenant: str
    kind: JobKind
    name: str
    arn: str
    spec: JobSpec
    request: Mapping[str, Any]  # the creating dialect's request, echoed back by Describe
    dialect: str
    status: Secondary
    version: int
    created_at: datetime
    last_modified_at: datetime
    history: tuple[Transition, ...]
    started_at: datetime | None = None  # the training process started
    ended_at: datetime | None = None  # terminal, after packaging
    stop: StopIntent | None = None
    handle: ExecutorHandle | None = None
    outcome: Outcome | None = None
    group_id: int | None = None  # its job group (domain/groups.py); kinds that are not grouped: None
    run_number: int | None = None  # 1, 2, 3 ... within the group, never reused
    delete_when_ended: bool = False  # a delete that had to stop it first: gone once it has ended

    @property
    def primary(self) -> Primary:
        return transitions.PRIMARY[self.status]

    @property
    def is_terminal(self) -> bool:
        return self.status in transitions.TERMINAL

    def advance(self, event: transitions.Event, at: datetime, message: str) -> Job:
        """A copy moved along the table by `event`, with the history entry and version bump.

        Raises:
            errors.IllegalTransition: the table has no such move.
        """
        check_aware(at)
        new_status = transitions.next_status(self.status, event)
        history = self.history
        if history and history[-1].ended_at is None:
            history = (*history[:-1], dataclasses.replace(history[-1], ended_at=at))
        entry = Transition(status=new_status, started_at=at, message=message)
        return dataclasses.replace(
            self,
            status=new_status,
            version=self.version + 1,
            last_modified_at=at,
            history=(*history, entry),
            ended_at=at if new_status in transitions.TERMINAL else self.ended_at,
        )

    def with_stop(self, intent: StopIntent) -> Job:
        return dataclasses.replace(self, stop=intent)

    def touched(self, **changes: Any) -> Job:
        """A copy with non-status fields changed and the version bumped (for compare-and-swap)."""
        if "status" in changes:
            raise ValueError("status changes only through advance()")
        return dataclasses.replace(self, version=self.version + 1, **changes)

    def runtime_seconds(self, now: datetime) -> float:
        if self.started_at is None:
            return 0.0
        return ((self.ended_at or now) - self.started_at) / timedelta(seconds=1)


def new_job(
    *,
    job_id: str,
    tenant: str,
    kind: JobKind,
    name: str,
    arn: str,
    spec: JobSpec,
    request: Mapping[str, Any],
    dialect: str,
    at: datetime,
) -> Job:
    """A freshly accepted job in `Starting`."""
    check_aware(at)
    return Job(
        id=job_id,
        tenant=tenant,
        kind=kind,
        name=name,
        arn=arn,
        spec=spec,
        request=request,
        dialect=dialect,
        status=Secondary.STARTING,
        version=1,
        created_at=at,
        last_modified_at=at,
        history=(Transition(Secondary.STARTING, at, messages.status_message(kind, messages.Step.STARTING)),),
    )
