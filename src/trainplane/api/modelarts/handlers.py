"""One handler per ModelArts v1 call: check and translate the request, call the services, translate
the result. A ModelArts job is a job group; a version is one run of it (its run number)."""

from __future__ import annotations

import dataclasses
import logging
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainplane.api.modelarts import catalog, logs, params, shapes, statuses, translate
from trainplane.domain import errors, images
from trainplane.domain.groups import JobGroup
from trainplane.domain.job import Job
from trainplane.service.admission import NewJob
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService, StopOutcome
from trainplane.service.ports import GroupQuery, GroupSortBy

log = logging.getLogger("trainplane.api.modelarts")
Document = dict[str, Any]
NAME_ATTEMPTS = 3
JOB_QUOTA = 10_000  # reported as `quotas`; trainplane's own limit is on active jobs (max-active-jobs)
SORT_BY: Mapping[str, GroupSortBy] = {
    "job_name": GroupSortBy.NAME,
    "job_desc": GroupSortBy.DESCRIPTION,
    "status": GroupSortBy.STATUS,
    "duration": GroupSortBy.DURATION,
    "version_count": GroupSortBy.RUN_COUNT,
    "create_time": GroupSortBy.CREATION_TIME,
}


@dataclass(frozen=True)
class Context:
    jobs: JobService
    groups: GroupService
    rules: Sequence[images.ImageRule]
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


@dataclass(frozen=True)
class Call:
    """One request, authenticated: the tenant, the numeric path ids, the query and the raw body."""

    tenant: str
    job_id: int = 0
    version_id: int = 0
    query: Mapping[str, str] = dataclasses.field(default_factory=dict)
    body: bytes = b""


def _run(ctx: Context, call: Call, group: JobGroup) -> Job:
    """The version `call.version_id` of `group`. Raises: errors.NotFound."""
    if group.latest_job_id is not None:  # the version most calls name: one read instead of a list
        try:
            latest = ctx.jobs.get_job(call.tenant, group.latest_job_id)
            if latest.run_number == call.version_id:
                return latest
        except errors.NotFound:
            pass
    for run in ctx.groups.runs(call.tenant, group.id):
        if run.run_number == call.version_id:
            return run
    name = f"{translate.version_name(call.version_id)} of training job {group.id}"
    raise errors.NotFound("version", name)


def _group_and_run(ctx: Context, call: Call) -> tuple[JobGroup, Job]:
    group = ctx.groups.get(call.tenant, call.job_id)
    return group, _run(ctx, call, group)


def _slug(job_name: str) -> str:
    return (re.sub(r"[^A-Za-z0-9]+", "-", job_name).strip("-") or "job")[:50]


def _create_run(ctx: Context, call: Call, request: NewJob, number: int) -> Job:
    """The run, named `<job>-v<n>` (the job name as a SageMaker name) or, if another dialect took that
    name, with a random suffix."""
    slug = _slug(request.request["job_name"])
    for attempt in range(NAME_ATTEMPTS):
        name = f"{slug}-v{number}" + (f"-{uuid.uuid4().hex[:8]}" if attempt else "")
        try:
            return ctx.jobs.create(call.tenant, dataclasses.replace(request, name=name))
        except errors.NameInUse:
            if attempt == NAME_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def _created(group: JobGroup, run: Job) -> Document:
    return {
        "job_id": group.id,
        "job_name": group.name,
        "status": statuses.status_code(run.status),
        "create_time": translate.epoch_ms(run.created_at),
        "version_id": run.run_number,
        "version_name": translate.version_name(run.run_number),
        "resource_id": run.id,
    }


def create_job(ctx: Context, call: Call) -> Document:
    body = shapes.create_job(shapes.decode(call.body))
    config = shapes.config(body.config)
    draft = translate.new_version(
        config,
        body.config,
        name="-",
        group_id=0,
        job_desc=body.job_desc,
        job_name=body.job_name,
        rules=ctx.rules,
    )  # every check the dialect can make, before the job exists
    group = ctx.groups.create(call.tenant, body.job_name, body.job_desc)
    try:
        run = _create_run(ctx, call, dataclasses.replace(draft, group_id=group.id), 1)
    except Exception:
        _forget(ctx, call.tenant, group)  # a job without its first version must not stay behind
        raise
    return _created(group, run)


def _forget(ctx: Context, tenant: str, group: JobGroup) -> None:
    try:
        ctx.groups.delete(tenant, group.id)
    except Exception:  # the create's own error is the one to answer with
        log.exception("event=modelarts_group_cleanup_failed group=%s", group.id)


def create_version(ctx: Context, call: Call) -> Document:
    desc, given, pre_version_id = shapes.create_version(shapes.decode(call.body))
    group = ctx.groups.get(call.tenant, call.job_id)
    previous = _run(ctx, dataclasses.replace(call, version_id=pre_version_id), group)
    merged = {**translate.merged_config(previous, given), "pre_version_id": pre_version_id}
    config = shapes.config(merged)
    job_desc = group.description if desc is None else desc
    request = translate.new_version(
        config, merged, name="-", group_id=group.id, job_desc=job_desc, job_name=group.name, rules=ctx.rules
    )
    numbers = [run.run_number or 0 for run in ctx.groups.runs(call.tenant, group.id)]
    run = _create_run(ctx, call, request, max(numbers, default=0) + 1)
    if desc is not None:
        group = ctx.groups.set_description(call.tenant, group.id, desc)
    created = _created(group, run)
    del created["resource_id"]
    return created


def list_jobs(ctx: Context, call: Call) -> Document:
    query = call.query
    per_page = params.integer(query, "per_page", 1, 1000, 10)
    page = params.integer(query, "page", 1, 65535, 1)
    sort_by = params.choice(query, "sortBy", tuple(SORT_BY), "job_name")
    order = params.choice(query, "order", ("asc", "desc"), "asc")
    search = params.text(query, "search_content", 64)
    status = params.integer(query, "status", 0, max(statuses.JobStat), -1)
    found = ctx.groups.list(
        call.tenant,
        GroupQuery(
            name_contains=search or None,
            latest_statuses=None if status < 0 else statuses.SECONDARIES_OF[statuses.JobStat(status)],
            sort_by=SORT_BY[sort_by],
            ascending=order == "asc",
            offset=(page - 1) * per_page,
            limit=per_page,
        ),
    )
    now = ctx.now()
    return {
        "job_total_count": found.total,
        "job_count_limit": max(0, JOB_QUOTA - found.total),
        "quotas": JOB_QUOTA,
        "jobs": [translate.job_summary(item.group, item.latest, now) for item in found.groups],
    }


def version_detail(ctx: Context, call: Call) -> Document:
    group, run = _group_and_run(ctx, call)
    return {**translate.job_header(group), **translate.version(run, ctx.now(), ctx.rules)}


def list_versions(ctx: Context, call: Call) -> Document:
    per_page = params.integer(call.query, "per_page", 1, 1000, 10)
    page = params.integer(call.query, "page", 0, 65535, 0)
    group = ctx.groups.get(call.tenant, call.job_id)
    runs = sorted(ctx.groups.runs(call.tenant, group.id), key=lambda run: -(run.run_number or 0))
    shown = runs if page == 0 else runs[(page - 1) * per_page : page * per_page]  # page 0: no paging
    now = ctx.now()
    return {
        **translate.job_header(group),
        "version_count": len(runs),
        "versions": [translate.version(run, now, ctx.rules, is_listed=True) for run in shown],
    }


def stop_version(ctx: Context, call: Call) -> Document:
    """Stopping or stopped: success with the state (idempotent); completed or failed: refused."""
    _, run = _group_and_run(ctx, call)
    outcome, job = ctx.jobs.stop_job(call.tenant, run.id)
    code = statuses.STATUS_OF[job.status]
    if outcome is StopOutcome.ALREADY_FINISHED and code is not statuses.JobStat.KILLED:
        raise errors.InvalidState(
            "stop", f"{code.name} ({int(code)}): only a waiting or running version stops"
        )
    return {"job_id": call.job_id, "version_id": call.version_id, "status": int(code)}


def delete_version(ctx: Context, call: Call) -> Document:
    """A running version is stopped first, and gone from now on."""
    _, run = _group_and_run(ctx, call)
    ctx.jobs.delete_job(call.tenant, run.id, stop_first=True)
    return {}


def delete_job(ctx: Context, call: Call) -> Document:
    ctx.groups.delete(call.tenant, call.job_id, stop_first=True)
    return {}


def edit_description(ctx: Context, call: Call) -> Document:
    description = shapes.description(shapes.decode(call.body), required=True)
    ctx.groups.set_description(call.tenant, call.job_id, description)
    return {}


def log_file_names(ctx: Context, call: Call) -> Document:
    _, run = _group_and_run(ctx, call)
    return {"log_file_list": logs.file_names(run)}


def aom_log(ctx: Context, call: Call) -> Document:
    _, run = _group_and_run(ctx, call)
    return logs.page(ctx.jobs, call.tenant, run, call.query)


def resource_specs(ctx: Context, call: Call) -> Document:
    specs = [catalog.spec_document(item) for item in catalog.specs().values()]
    return {"spec_total_count": len(specs), "specs": specs}


def ai_engines(ctx: Context, call: Call) -> Document:
    return {"engines": [catalog.engine_document(item) for item in catalog.engines(ctx.rules)]}
