"""Handlers of training projects (a tenant's job groups) and of the jobs in them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from trainplane.api.baseten import schemas, translate, uploads
from trainplane.api.baseten.context import Call
from trainplane.domain import errors
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind, Secondary
from trainplane.service.jobs import StopOutcome
from trainplane.service.ports import GroupQuery, ListQuery, SortBy

NAME_ATTEMPTS = 5
STOPPED_ON_PURPOSE = frozenset({Secondary.STOPPED, Secondary.MAX_RUNTIME_EXCEEDED})


def list_projects(call: Call) -> dict[str, Any]:
    page = call.services.groups.list(call.tenant, GroupQuery())
    return {"training_projects": [translate.project_doc(s.group, s.latest) for s in page.groups]}


def upsert_project(call: Call) -> dict[str, Any]:
    group = call.services.groups.upsert(call.tenant, schemas.project_name(call.json()))
    return {"training_project": translate.project_doc(group, call.latest(group))}


def upsert_team_project(call: Call) -> dict[str, Any]:
    """A team is a tenant: its id and name are the tenant's name; another team is not found."""
    if call.path["team_id"] != call.tenant:
        raise errors.NotFound("team", call.path["team_id"])
    return upsert_project(call)


def get_project(call: Call) -> dict[str, Any]:
    group = call.group()
    return {"training_project": translate.project_doc(group, call.latest(group))}


def delete_project(call: Call) -> dict[str, Any]:
    """Deletes the project and its jobs, stopping the running ones first."""
    group = call.group()
    call.services.groups.delete(call.tenant, group.id, stop_first=True)
    return {"id": translate.project_id(group), "deleted": True}


# --- jobs ----------------------------------------------------------------------------------------


def create_job(call: Call) -> dict[str, Any]:
    group = call.group()
    body = call.json()
    return {"training_job": translate.job_doc(_create(call, group, body), group)}


def _create(call: Call, group: JobGroup, body: Any) -> Job:
    """Raises: errors.Invalid (the request, the image map), errors.LimitExceeded."""
    request = schemas.create_job(body)
    data_dir = call.services.data_dir
    if data_dir is None:
        raise errors.Unavailable("this server has no data directory for Baseten jobs")
    for _ in range(NAME_ATTEMPTS):
        run_dir = data_dir / "baseten" / uuid.uuid4().hex
        job_files = translate.JobFiles(
            output_uri=(run_dir / "output").as_uri(),
            checkpoint_uri=(run_dir / "checkpoints").as_uri(),
            checkpoint_dir=str(run_dir / "checkpoints"),
            code_dir=_unpacked(call, request, run_dir / "code"),
        )
        name = translate.job_name_for(group.name, uuid.uuid4().hex[:10])
        try:
            return call.services.jobs.create(
                call.tenant, translate.new_job(request, body, group, name, job_files)
            )
        except errors.NameInUse:
            continue  # another dialect's job has that name: draw another
    raise errors.Unavailable("no free job name was found; try again")


def _unpacked(call: Call, request: schemas.CreateJob, code_dir: Path) -> str | None:
    """The job's code (what `truss train push` uploaded) unpacked into its run dir; None without any.

    Raises: errors.Invalid naming the artifact (never uploaded by this tenant, not a tarball).
    """
    if not request.artifacts:
        return None
    blobs = call.services.blobs
    for index, (bucket, key) in enumerate(request.artifacts):
        field = f"training_job.runtime.artifacts.{index}"
        try:
            blob = None if blobs is None else blobs.path(call.tenant, bucket, key)
        except errors.NotFound:
            blob = None
        if blob is None or not blob.is_file():
            raise errors.Invalid(field, f"s3://{bucket}/{key} was never uploaded here (truss train push)")
        uploads.unpack(blob, code_dir, field)
    return str(code_dir)


def list_jobs(call: Call) -> dict[str, Any]:
    group = call.group()
    runs = call.services.groups.runs(call.tenant, group.id)
    jobs = sorted(runs, key=lambda job: job.created_at, reverse=True)
    return {
        "training_project": translate.project_doc(group, call.latest(group)),
        "training_jobs": [translate.job_doc(job, group) for job in jobs],
    }


def get_job(call: Call) -> dict[str, Any]:
    group, job = call.job()
    return {
        "training_project": translate.project_doc(group, call.latest(group)),
        "training_job": translate.job_doc(job, group),
    }


def update_job(call: Call) -> dict[str, Any]:
    """Priority and availability change only while a job waits for capacity, which never shows here."""
    _, job = call.job()
    doc = schemas.obj(call.json(), "body")
    schemas.integer(doc, "priority", "", -(2**31), 2**31 - 1)
    schemas.string(doc, "availability_model", "")
    raise errors.InvalidState("update", f"{translate.wire_status(job).value}, not TRAINING_JOB_PENDING")


def delete_job(call: Call) -> dict[str, Any]:
    """Stops the job first if it still runs; it is gone from lists at once."""
    group, job = call.job()
    call.services.jobs.delete_job(call.tenant, job.id, stop_first=True)
    return {"id": job.id, "deleted": True, "training_project_id": translate.project_id(group)}


def stop_job(call: Call) -> dict[str, Any]:
    """The job as it stands after the request: RUNNING until the kill is done, then STOPPED. A stopped
    job stops again (idempotent); a completed or failed one is a conflict."""
    group, job = call.job()
    outcome, stopped = call.services.jobs.stop_job(call.tenant, job.id)
    if outcome is StopOutcome.ALREADY_FINISHED and stopped.status not in STOPPED_ON_PURPOSE:
        raise errors.InvalidState("stop", f"{translate.wire_status(stopped).value}: it has already ended")
    return {"training_job": translate.job_doc(stopped, group)}


def recreate_job(call: Call) -> dict[str, Any]:
    """A new job of the same project from the same request."""
    group, job = call.job()
    if job.dialect != translate.DIALECT:
        raise errors.Invalid("training_job", "only a job created through the Baseten API can be recreated")
    return {"training_job": translate.job_doc(_create(call, group, job.request), group)}


# --- search --------------------------------------------------------------------------------------

SEARCH_PAGE = 1000


def search_jobs(call: Call) -> dict[str, Any]:
    query = schemas.search(call.json(), [status.value for status in translate.WireStatus])
    wanted = None if query.statuses is None else {translate.WireStatus(s) for s in query.statuses}
    groups: dict[int, JobGroup | None] = {}
    found = []
    for job in _candidates(call, query, wanted):
        group = _group_of(call, job, groups)
        if group is None or (wanted is not None and translate.wire_status(job) not in wanted):
            continue
        found.append(translate.job_doc(job, group))
    return {"training_jobs": found}


def _candidates(call: Call, query: schemas.Search, wanted: set[translate.WireStatus] | None) -> list[Job]:
    group_id = None
    if query.project_id is not None:
        try:
            group_id = translate.parse_project_id(query.project_id)
        except errors.NotFound:
            return []
    if query.job_id is not None:
        try:
            job = call.services.jobs.get_job(call.tenant, translate.checked_job_id(query.job_id))
        except errors.NotFound:
            return []
        is_match = job.kind is JobKind.TRAINING and group_id in (None, job.group_id)
        return [job] if is_match else []
    statuses = None if wanted is None else frozenset().union(*map(translate.secondaries_of, wanted))
    if statuses is not None and not statuses:
        return []  # only statuses trainplane never shows (PENDING, PREEMPTED, QUEUED)
    jobs: list[Job] = []
    token = None
    while True:
        list_query = ListQuery(
            group_id=group_id,
            statuses=statuses,
            sort_by=SortBy.CREATION_TIME,
            ascending=query.ascending,
            limit=SEARCH_PAGE,
            page_token=token,
        )
        page = call.services.jobs.list(call.tenant, JobKind.TRAINING, list_query)
        jobs.extend(page.jobs)
        if page.next_token is None:
            return jobs
        token = page.next_token


def _group_of(call: Call, job: Job, seen: dict[int, JobGroup | None]) -> JobGroup | None:
    if job.group_id is None:
        return None
    if job.group_id not in seen:
        try:
            seen[job.group_id] = call.services.groups.get(call.tenant, job.group_id)
        except errors.NotFound:
            seen[job.group_id] = None  # being deleted
    return seen[job.group_id]
