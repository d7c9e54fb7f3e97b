"""Baseten wire <-> service: statuses both ways, Job and JobGroup to wire dicts, a CreateTrainingJob to a
NewJob (pure)."""

from __future__ import annotations

import enum
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trainplane.api.baseten import schemas
from trainplane.domain import errors, instance_types
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind, Secondary
from trainplane.service.jobs import NewJob

DIALECT = "baseten"
SHELL = "/bin/sh"


class WireStatus(enum.StrEnum):
    """`current_status` values (§2.4); there is no stopping state on this wire."""

    PENDING = "TRAINING_JOB_PENDING"  # queued for capacity (never emitted: trainplane has no queue state)
    CREATED = "TRAINING_JOB_CREATED"  # accepted, nothing launched yet
    DEPLOYING = "TRAINING_JOB_DEPLOYING"  # staging inputs
    RUNNING = "TRAINING_JOB_RUNNING"  # running, or packaging, or stopping after it ran
    COMPLETED = "TRAINING_JOB_COMPLETED"
    DEPLOY_FAILED = "TRAINING_JOB_DEPLOY_FAILED"  # failed before the training process started
    FAILED = "TRAINING_JOB_FAILED"
    STOPPED = "TRAINING_JOB_STOPPED"  # stopped by a user, or by the max runtime
    PREEMPTED = "TRAINING_JOB_PREEMPTED"  # never emitted
    QUEUED = "TRAINING_JOB_QUEUED"  # legacy, never emitted


_OF_SECONDARY: Mapping[Secondary, WireStatus] = {
    Secondary.STARTING: WireStatus.CREATED,
    Secondary.DOWNLOADING: WireStatus.DEPLOYING,
    Secondary.TRAINING: WireStatus.RUNNING,
    Secondary.UPLOADING: WireStatus.RUNNING,
    Secondary.STOPPED: WireStatus.STOPPED,
    Secondary.MAX_RUNTIME_EXCEEDED: WireStatus.STOPPED,
    Secondary.COMPLETED: WireStatus.COMPLETED,
}
ACTIVE = frozenset({WireStatus.PENDING, WireStatus.CREATED, WireStatus.DEPLOYING, WireStatus.RUNNING})


def wire_status(job: Job) -> WireStatus:
    """A stopping job shows the status it had before the stop until the kill is done (§2.4)."""
    if job.status is Secondary.STOPPING:
        before = job.history[-2].status if len(job.history) >= 2 else Secondary.TRAINING
        return _OF_SECONDARY.get(before, WireStatus.RUNNING)
    if job.status is Secondary.FAILED:
        return WireStatus.DEPLOY_FAILED if job.started_at is None else WireStatus.FAILED
    return _OF_SECONDARY[job.status]


def secondaries_of(status: WireStatus) -> frozenset[Secondary]:
    """Every fine status a job showing `status` may be in (a superset: filter with wire_status after)."""
    found = {secondary for secondary, wire in _OF_SECONDARY.items() if wire is status}
    if status in (WireStatus.CREATED, WireStatus.DEPLOYING, WireStatus.RUNNING):
        found.add(Secondary.STOPPING)
    if status in (WireStatus.FAILED, WireStatus.DEPLOY_FAILED):
        found.add(Secondary.FAILED)
    return frozenset(found)


# --- wire documents --------------------------------------------------------------------------------


def iso(at: datetime) -> str:
    """ISO-8601 with the timezone (the SDK types these AwareDatetime: a naive one fails)."""
    return at.isoformat()


def project_id(group: JobGroup) -> str:
    return str(group.id)


def parse_project_id(text: str) -> int:
    """A project id from a path. Raises: errors.NotFound (it names no project) ."""
    if not re.fullmatch(r"[0-9]{1,18}", text):
        raise errors.NotFound("job group", text)
    return int(text)


_JOB_ID = re.compile(r"[A-Za-z0-9-]{1,64}")


def checked_job_id(text: str) -> str:
    """A job id from a path or a search. Raises: errors.NotFound for text no job id looks like (a NUL
    would reach the database, which refuses it rather than find nothing)."""
    if not _JOB_ID.fullmatch(text):
        raise errors.NotFound("job", text)
    return text


def project_doc(group: JobGroup, latest: Job | None) -> dict[str, Any]:
    return {
        "id": project_id(group),
        "name": group.name,
        "created_at": iso(group.created_at),
        "updated_at": iso(group.updated_at),
        "team_name": group.tenant,
        "latest_job": None if latest is None else job_doc(latest, group),
    }


def job_doc(job: Job, group: JobGroup) -> dict[str, Any]:
    failure = None if job.outcome is None or job.outcome.failure is None else job.outcome.failure.message
    return {
        "id": job.id,
        "created_at": iso(job.created_at),
        "updated_at": iso(job.last_modified_at),
        "current_status": wire_status(job).value,
        "error_message": failure,
        "instance_type": instance_type_doc(job.spec.instance_type),
        "node_count": job.spec.instance_count,
        "training_project_id": project_id(group),
        "training_project": {"id": project_id(group), "name": group.name},
        "name": job_name(job),
        "priority": 0,
        "availability_model": "dedicated",
    }


def job_name(job: Job) -> str:
    """The name the Baseten client gave (a Baseten job name need not be unique), else the job's own."""
    given = job.request.get("training_job", {}).get("name") if job.dialect == DIALECT else None
    return given if isinstance(given, str) else job.name


def instance_type_doc(name: str) -> dict[str, Any]:
    resources = instance_types.resources_of(name)
    if resources is None:
        resources = instance_types.InstanceResources(0, 0)
    return {
        "id": name,
        "name": name,
        "memory_limit_mib": resources.memory_mib,
        "millicpu_limit": resources.vcpus * 1000,
        "gpu_count": resources.gpus,
        "gpu_type": resources.gpu_model or None,
        "gpu_memory_limit_mib": None,
    }


# --- create ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobFiles:
    """Where a Baseten job keeps what it leaves behind (chosen by the dialect, under the server's data)."""

    output_uri: str
    checkpoint_uri: str
    checkpoint_dir: str
    code_dir: str | None = None  # the uploaded code, unpacked: the commands start there


def new_job(
    request: schemas.CreateJob, body: Mapping[str, Any], group: JobGroup, name: str, files: JobFiles
) -> NewJob:
    """Raises: errors.Invalid (no instance type fits the compute)."""
    environment = {
        **request.environment,
        "BT_CHECKPOINT_DIR": files.checkpoint_dir,
        "BT_TRAINING_PROJECT_ID": project_id(group),
        "BT_TRAINING_PROJECT_NAME": group.name,
        "BT_TRAINING_JOB_NAME": request.name or name,
        "BT_NODE_RANK": "0",
        "BT_GROUP_SIZE": "1",
    }
    return NewJob(
        name=name,
        kind=JobKind.TRAINING,
        dialect=DIALECT,
        image=request.base_image,
        request=dict(body),
        entrypoint=_shell(request.start_commands, files.code_dir),
        environment=environment,
        output_uri=files.output_uri,
        checkpoint_uri=files.checkpoint_uri,
        instance_type=instance_type_for(request.compute),
        group_id=group.id,
    )


def _shell(commands: Sequence[str], code_dir: str | None) -> tuple[str, ...]:
    """Baseten runs start_commands one after another in a shell, stopping at the first that fails,
    in the directory the pushed code was unpacked to."""
    if not commands:
        return ()
    cd = [f"cd {shlex.quote(code_dir)}"] if code_dir else []
    return (SHELL, "-c", "\n".join(["set -e", *cd, *commands]))


def instance_type_for(compute: schemas.Compute) -> str:
    """The smallest published instance type with the CPUs, memory and accelerators asked for.

    Raises: errors.Invalid naming the compute.
    """
    fitting = [
        (resources.gpus, resources.vcpus, resources.memory_mib, name)
        for name, resources in instance_types.PUBLISHED.items()
        if resources.vcpus >= compute.cpu_count
        and resources.memory_mib >= compute.memory_mib
        and resources.accelerators == 0
        and _gpus_fit(resources, compute)
    ]
    if not fitting:
        asked = f"{compute.cpu_count} CPUs, {compute.memory_mib} MiB"
        if compute.accelerator:
            asked += f", {compute.accelerator_count} x {compute.accelerator}"
        raise errors.Invalid("training_job.compute", f"no instance type offers {asked}")
    return min(fitting)[3]


def _gpus_fit(resources: instance_types.InstanceResources, compute: schemas.Compute) -> bool:
    if not compute.accelerator or compute.accelerator_count == 0:
        return resources.gpus == 0
    words = resources.gpu_model.upper().split()
    return resources.gpus >= compute.accelerator_count and compute.accelerator.upper() in words


def job_name_for(project: str, suffix: str) -> str:
    """A trainplane job name (SageMaker's pattern, 63 characters) from the project's name."""
    slug = re.sub(r"[^a-zA-Z0-9]+", "-", project).strip("-")[:50].strip("-") or "job"
    return f"{slug}-{suffix}"
