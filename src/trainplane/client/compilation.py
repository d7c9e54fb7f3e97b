"""Compilation jobs as the client returns them (DescribeCompilationJob, ListCompilationJobs)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trainplane.client import wire

TERMINAL = frozenset({"COMPLETED", "FAILED", "STOPPED"})  # Neo's words


@dataclass(frozen=True)
class CompilationJob:
    """A DescribeCompilationJob answer."""

    name: str
    arn: str
    status: str  # CompilationJobStatus: STARTING, INPROGRESS, STOPPING, STOPPED, COMPLETED, FAILED
    created_at: datetime
    last_modified_at: datetime | None
    compilation_started_at: datetime | None
    compilation_ended_at: datetime | None
    failure_reason: str | None
    model_artifacts: str | None  # the compiled archive, once published
    artifact_digest: str | None
    raw: Mapping[str, Any]

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL

    @classmethod
    def from_wire(cls, body: Mapping[str, Any]) -> CompilationJob:
        return cls(
            name=str(body["CompilationJobName"]),
            arn=str(body["CompilationJobArn"]),
            status=str(body["CompilationJobStatus"]),
            created_at=wire.parse_timestamp(body["CreationTime"]),
            last_modified_at=_optional_time(body, "LastModifiedTime"),
            compilation_started_at=_optional_time(body, "CompilationStartTime"),
            compilation_ended_at=_optional_time(body, "CompilationEndTime"),
            failure_reason=body.get("FailureReason") or None,
            model_artifacts=(body.get("ModelArtifacts") or {}).get("S3ModelArtifacts") or None,
            artifact_digest=(body.get("ModelDigests") or {}).get("ArtifactDigest"),
            raw=body,
        )


@dataclass(frozen=True)
class CompilationJobSummary:
    """One ListCompilationJobs entry."""

    name: str
    arn: str
    status: str
    target: str  # the TargetDevice, or Os/Arch of the TargetPlatform
    created_at: datetime
    compilation_ended_at: datetime | None
    raw: Mapping[str, Any]

    @classmethod
    def from_wire(cls, entry: Mapping[str, Any]) -> CompilationJobSummary:
        platform = "/".join(
            str(entry[key])
            for key in ("CompilationTargetPlatformOs", "CompilationTargetPlatformArch")
            if key in entry
        )
        return cls(
            name=str(entry["CompilationJobName"]),
            arn=str(entry["CompilationJobArn"]),
            status=str(entry["CompilationJobStatus"]),
            target=str(entry.get("CompilationTargetDevice") or platform),
            created_at=wire.parse_timestamp(entry["CreationTime"]),
            compilation_ended_at=_optional_time(entry, "CompilationEndTime"),
            raw=entry,
        )


def _optional_time(body: Mapping[str, Any], key: str) -> datetime | None:
    value = body.get(key)
    return None if value is None else wire.parse_timestamp(value)
