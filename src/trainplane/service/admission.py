"""What a create request must satisfy before a job exists, and the spec it turns into (one place).

Every check names a neutral field (`domain.fields`); the dialect that received the request words it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from trainplane.domain import errors, fields, images
from trainplane.domain.groups import Placement, check_name
from trainplane.domain.job import Channel, JobSpec, MetricDefinition
from trainplane.domain.status import JobKind
from trainplane.service import capacity
from trainplane.service.ports import Artifacts

GRACE_TAG = "trainplane:stop-grace-seconds"  # this job's SIGTERM -> SIGKILL window, fixed at create
EXECUTOR_TAG = "trainplane:executor"  # which executor runs this job (local, and later slurm, ray)
# Read once, at create, into the job's spec: changing them afterwards would leave the spec (which the
# supervisor already holds) and the tags telling two stories, so AddTags/DeleteTags refuse them.
SPEC_TAGS = frozenset({GRACE_TAG, EXECUTOR_TAG, capacity.PRIORITY_TAG, capacity.WARNING_TAG})
MAX_GRACE_SECONDS = 28 * 24 * 3600  # SageMaker's longest runtime; a longer grace is surely a typo


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
    payload: Mapping[str, Any] = field(default_factory=dict)  # what only this job kind needs
    group: str | None = None  # the job group (by name, created if missing) this run joins
    group_id: int | None = None  # or an existing job group of the tenant
    default_grace_seconds: float | None = None  # this kind's grace when no tag gives one; None: the server's


@dataclass(frozen=True)
class AdmissionSettings:
    default_grace_seconds: float
    image_rules: Sequence[images.ImageRule]
    executors: frozenset[str]  # the executors this server runs
    default_executor: str
    executors_spanning_hosts: frozenset[str] = frozenset()  # those that run one job on several hosts


_DECIMAL_SECONDS = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,6})?")


def parse_grace_tag(value: str) -> float:
    """Raises: errors.Invalid when the tag is not a number of seconds in [0, 28 days]."""
    # Plain decimals only: float() would also take "1_0" (10), " 5", "1e2" and "inf".
    seconds = float(value) if _DECIMAL_SECONDS.fullmatch(value) else math.nan
    if not (0 <= seconds <= MAX_GRACE_SECONDS):
        raise errors.Invalid(
            fields.TAGS, f"tag {GRACE_TAG} must be a number of seconds from 0 to {MAX_GRACE_SECONDS}"
        )
    return seconds


def usable_grace_seconds(seconds: float, default_seconds: float) -> float:
    """A grace that a stop can use: a stored NaN, infinity or negative (an older version's) is not."""
    if math.isfinite(seconds) and 0 <= seconds <= MAX_GRACE_SECONDS:
        return seconds
    return default_seconds if math.isfinite(default_seconds) else 0.0


def check_tag_change(keys: Sequence[str]) -> None:
    """Raises: errors.Invalid when a change touches a tag that was read into the spec at create."""
    fixed = sorted(SPEC_TAGS.intersection(keys))
    if fixed:
        raise errors.Invalid(
            fields.TAGS,
            f"tag {fixed[0]} is read once, when the job is created, and cannot be changed afterwards",
        )


def spec_for(request: NewJob, settings: AdmissionSettings, artifacts: Artifacts) -> JobSpec:
    """The job's spec: every setting resolved now, so nothing is read from tags later.

    Raises:
        errors.Invalid: unknown image or executor, unusable location, tag or channel list.
    """
    runtime = images.resolve(settings.image_rules, request.image)
    _check_runnable(request)
    _check_channels(request.channels)
    _check_locations(request, artifacts)
    command = images.build_command(runtime, request.entrypoint, request.arguments)
    if not command:
        raise errors.Invalid(fields.ENTRYPOINT, f"image {request.image!r} has no command: give an entrypoint")
    grace_tag = request.tags.get(GRACE_TAG)
    executor = _executor(request.tags.get(EXECUTOR_TAG), settings)
    _check_instance_count(request.instance_count, executor, settings)
    return JobSpec(
        image=request.image,
        command=command,
        environment={**runtime.environment, **request.environment},
        hyperparameters=dict(request.hyperparameters),
        channels=tuple(request.channels),
        output_uri=request.output_uri,
        checkpoint_uri=request.checkpoint_uri,
        checkpoint_local_path=request.checkpoint_local_path,
        max_runtime_seconds=request.max_runtime_seconds,
        max_runtime_warning_seconds=capacity.parse_warning_seconds(request.tags.get(capacity.WARNING_TAG)),
        grace_seconds=_default_grace(request, settings) if grace_tag is None else parse_grace_tag(grace_tag),
        metric_definitions=tuple(request.metric_definitions),
        instance_type=request.instance_type,
        instance_count=request.instance_count,
        executor=executor,
        payload=dict(request.payload),
    )


def _default_grace(request: NewJob, settings: AdmissionSettings) -> float:
    if request.default_grace_seconds is None:
        return settings.default_grace_seconds
    return request.default_grace_seconds


def _executor(tag: str | None, settings: AdmissionSettings) -> str:
    if tag is None:
        return settings.default_executor
    if tag not in settings.executors:
        known = ", ".join(sorted(settings.executors))
        raise errors.Invalid(fields.TAGS, f"tag {EXECUTOR_TAG}: no executor {tag!r} here (known: {known})")
    return tag


def _check_instance_count(count: int, executor: str, settings: AdmissionSettings) -> None:
    """One instance runs anywhere; several only on an executor that spans hosts (Slurm: N nodes)."""
    if count < 1:
        raise errors.Invalid(fields.INSTANCE_COUNT, f"instance count {count} must be at least 1")
    if count > 1 and executor not in settings.executors_spanning_hosts:
        spanning = sorted(settings.executors_spanning_hosts)
        how = (
            f"tag the job {EXECUTOR_TAG}={spanning[0]}"
            if spanning
            else "this server runs no such executor (its operator can configure Slurm: "
            "trainplane's docs/slurm.md)"
        )
        raise errors.Invalid(
            fields.INSTANCE_COUNT,
            f"instance count {count} needs an executor that runs a job on several hosts, and {executor!r} "
            f"runs it on one. Give 1, or {how}.",
        )


def _check_runnable(request: NewJob) -> None:
    """A NUL fits in no process argument or environment variable: refuse it now, not as a failed start."""
    checks = (
        (fields.ENTRYPOINT, (*request.entrypoint, *request.arguments)),
        (fields.ENVIRONMENT, (*request.environment, *request.environment.values())),
        (fields.HYPERPARAMETERS, (*request.hyperparameters, *request.hyperparameters.values())),
    )
    for name, texts in checks:
        if any("\x00" in text for text in texts):
            raise errors.Invalid(
                name, "contains a NUL character, which no process argument or variable can hold"
            )


def _check_channels(channels: Sequence[Channel]) -> None:
    seen: set[str] = set()
    for index, channel in enumerate(channels, start=1):
        if channel.name in seen:
            raise errors.Invalid(fields.channel_name(index), f"channel {channel.name!r} is named twice")
        seen.add(channel.name)


def _check_locations(request: NewJob, artifacts: Artifacts) -> None:
    artifacts.check_location(fields.OUTPUT_LOCATION, request.output_uri)
    for index, channel in enumerate(request.channels, start=1):
        artifacts.check_channel_name(fields.channel_name(index), channel.name)
        artifacts.check_location(fields.channel_source(index), channel.source)
    if request.checkpoint_uri is not None:
        artifacts.check_location(fields.CHECKPOINT_LOCATION, request.checkpoint_uri)
    if request.checkpoint_local_path is not None:
        artifacts.check_job_path(fields.CHECKPOINT_LOCAL_PATH, request.checkpoint_local_path)


def placement_for(request: NewJob) -> Placement | None:
    """The job group a new job joins: training jobs always join one, by default the one named after
    the job (so every dialect that speaks of groups sees it); other kinds join none.

    Raises:
        errors.Invalid: both a group name and a group id, or a group for a kind that has none.
    """
    if request.group is not None and request.group_id is not None:
        raise errors.Invalid(fields.GROUP, "give a job group's name or its id, not both")
    if request.kind is not JobKind.TRAINING:
        if request.group is not None or request.group_id is not None:
            raise errors.Invalid(fields.GROUP, f"{request.kind.value} jobs do not belong to job groups")
        return None
    if request.group_id is not None:
        return Placement(group_id=request.group_id)
    return Placement(name=check_name(request.group or request.name))
