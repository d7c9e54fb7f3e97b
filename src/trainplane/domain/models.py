"""Models: a name for a job's artifact that can be deployed, and where that artifact came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trainplane.domain.status import JobKind

STOP_REASONS = frozenset({"user", "max_runtime", "preempted"})  # the packaging reasons of a stop


@dataclass(frozen=True)
class ArtifactManifest:
    """What an artifact's own `trainplane-manifest.json` says (artifacts/packaging.py, published.py)."""

    job_name: str | None
    job_kind: JobKind  # training unless the manifest says otherwise (compiled artifacts do)
    reason: str  # completed, failed, user, max_runtime, preempted
    has_complete_checkpoint: bool
    file_count: int  # files of the model in the archive, the manifest itself not counted

    @property
    def is_stop_without_model(self) -> bool:
        """A stopped job's archive that holds nothing: nothing was saved in the grace window."""
        return self.reason in STOP_REASONS and self.file_count == 0


@dataclass(frozen=True)
class ModelSource:
    """Where a model's artifact came from, recorded when the model is created."""

    artifact_uri: str
    job_kind: JobKind | None  # None: not made by a trainplane job of this tenant (or since deleted)
    job_name: str | None
    job_id: str | None
    reason: str | None  # how the job ended, as its manifest says (a stop reason, or completed)
    has_complete_checkpoint: bool


@dataclass(frozen=True)
class Model:
    tenant: str
    name: str
    arn: str
    created_at: datetime
    request: Mapping[str, Any]  # the creating request, echoed by Describe (containers, role, VPC)
    source: ModelSource


def manifest_from_dict(document: Mapping[str, Any]) -> ArtifactManifest:
    """Raises: KeyError or ValueError for a document that is not an artifact manifest."""
    files = document.get("files")
    return ArtifactManifest(
        job_name=document.get("job_name"),
        job_kind=JobKind(document.get("job_kind", JobKind.TRAINING.value)),
        reason=str(document["reason"]),
        has_complete_checkpoint=bool(document.get("has_complete_checkpoint", False)),
        file_count=len(files) if isinstance(files, list) else int(document.get("file_count", 1)),
    )
