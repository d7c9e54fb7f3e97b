"""What every Baseten handler is given: the services, the request's tenant and parts, and the lookups
of a project and a job in it that each path names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trainplane.api.baseten import files, schemas, translate, uploads
from trainplane.domain import errors
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService


@dataclass(frozen=True)
class Services:
    jobs: JobService
    groups: GroupService
    signer: files.Signer
    data_dir: Path | None  # where Baseten jobs' outputs and checkpoints go (<data dir>/baseten)
    upload_keys: uploads.UploadKeys
    blobs: uploads.Blobs | None  # where `truss train push` uploads (<data dir>/baseten/uploads)


@dataclass(frozen=True)
class Call:
    """One authenticated request."""

    services: Services
    tenant: str
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: bytes
    base_url: str  # scheme://host[:port] as the client reached us (for presigned URLs)

    def json(self) -> Any:
        """The body's JSON. Raises: errors.Invalid."""
        return schemas.parse_json(self.body)

    def group(self) -> JobGroup:
        """The project the path names. Raises: errors.NotFound."""
        group_id = translate.parse_project_id(self.path["project_id"])
        return self.services.groups.get(self.tenant, group_id)

    def job(self) -> tuple[JobGroup, Job]:
        """The project and the job of it the path names. Raises: errors.NotFound."""
        group = self.group()
        job_id = translate.checked_job_id(self.path["job_id"])
        job = self.services.jobs.get_job(self.tenant, job_id)
        if job.group_id != group.id or job.kind is not JobKind.TRAINING:
            raise errors.NotFound("job", job_id)
        return group, job

    def latest(self, group: JobGroup) -> Job | None:
        if group.latest_job_id is None:
            return None
        try:
            return self.services.jobs.get_job(self.tenant, group.latest_job_id)
        except errors.NotFound:
            return None
