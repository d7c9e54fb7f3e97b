"""Frozen values the client returns, parsed from SageMaker wire dicts; `raw` keeps the full wire dict."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from trainplane.client import wire
from trainplane.domain import transitions

SummaryT = TypeVar("SummaryT")


@dataclass(frozen=True)
class StatusTransition:
    """One `SecondaryStatusTransitions` entry."""

    status: str
    started_at: datetime
    ended_at: datetime | None
    message: str

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> StatusTransition:
        return cls(
            status=str(entry["Status"]),
            started_at=wire.parse_timestamp(entry["StartTime"]),
            ended_at=_optional_time(entry, "EndTime"),
            message=str(entry.get("StatusMessage", "")),
        )


@dataclass(frozen=True)
class MetricValue:
    """One `FinalMetricDataList` entry."""

    name: str
    value: float
    at: datetime | None

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> MetricValue:
        return cls(
            name=str(entry.get("MetricName", "")),
            value=float(entry.get("Value", 0.0)),
            at=_optional_time(entry, "Timestamp"),
        )


@dataclass(frozen=True)
class TrainingJob:
    """A DescribeTrainingJob answer."""

    name: str
    arn: str
    status: str  # TrainingJobStatus; a str because a newer server may send values we don't know
    secondary_status: str
    created_at: datetime
    last_modified_at: datetime | None
    training_started_at: datetime | None
    training_ended_at: datetime | None
    failure_reason: str | None
    model_artifacts: str | None  # ModelArtifacts.S3ModelArtifacts, once the archive is there
    transitions: tuple[StatusTransition, ...]
    final_metrics: tuple[MetricValue, ...]
    raw: Mapping[str, Any]

    @property
    def is_terminal(self) -> bool:
        return self.status in transitions.TERMINAL_PRIMARY

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> TrainingJob:
        artifacts = body.get("ModelArtifacts") or {}
        # ModelArtifacts names where the model will be from the first Describe; whether it is there yet
        # is trainplane's ModelPackaged (an older server sent ModelArtifacts only once it was).
        is_packaged = (body.get("TrainplaneDetails") or {}).get("ModelPackaged", True)
        return cls(
            name=str(body["TrainingJobName"]),
            arn=str(body["TrainingJobArn"]),
            status=str(body["TrainingJobStatus"]),
            secondary_status=str(body.get("SecondaryStatus", "")),
            created_at=wire.parse_timestamp(body["CreationTime"]),
            last_modified_at=_optional_time(body, "LastModifiedTime"),
            training_started_at=_optional_time(body, "TrainingStartTime"),
            training_ended_at=_optional_time(body, "TrainingEndTime"),
            failure_reason=body.get("FailureReason"),
            model_artifacts=(artifacts.get("S3ModelArtifacts") or None) if is_packaged else None,
            transitions=tuple(
                StatusTransition.from_wire(entry) for entry in body.get("SecondaryStatusTransitions", ())
            ),
            final_metrics=tuple(
                MetricValue.from_wire(entry) for entry in body.get("FinalMetricDataList", ())
            ),
            raw=body,
        )


@dataclass(frozen=True)
class TrainingJobSummary:
    """One ListTrainingJobs entry."""

    name: str
    arn: str
    status: str
    secondary_status: str | None
    created_at: datetime
    last_modified_at: datetime | None
    training_ended_at: datetime | None
    raw: Mapping[str, Any]

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> TrainingJobSummary:
        return cls(
            name=str(entry["TrainingJobName"]),
            arn=str(entry["TrainingJobArn"]),
            status=str(entry["TrainingJobStatus"]),
            secondary_status=entry.get("SecondaryStatus"),
            created_at=wire.parse_timestamp(entry["CreationTime"]),
            last_modified_at=_optional_time(entry, "LastModifiedTime"),
            training_ended_at=_optional_time(entry, "TrainingEndTime"),
            raw=entry,
        )


@dataclass(frozen=True)
class JobPage(Generic[SummaryT]):
    """One List*Jobs response; `next_token` is None on the last page."""

    summaries: tuple[SummaryT, ...]
    next_token: str | None


@dataclass(frozen=True)
class TrainingJobPage(JobPage[TrainingJobSummary]):
    """One ListTrainingJobs response."""


@dataclass(frozen=True)
class LogChunk:
    """Log bytes from an offset, and the offset to ask for next."""

    data: bytes
    next_offset: int


def _optional_time(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    return None if value is None else wire.parse_timestamp(value)
