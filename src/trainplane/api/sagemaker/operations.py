"""The X-Amz-Target -> handler table. Each handler: validate+translate, call the service, translate."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainplane.api.auth.port import Principal
from trainplane.api.memo import Memo
from trainplane.api.sagemaker import compilation, models, translate
from trainplane.domain import errors
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService, StopOutcome

Body = Mapping[str, Any]
Result = dict[str, Any] | bytes | None  # bytes: the JSON body, already encoded
Handler = Callable[[Any, Principal, Body], Result]  # given the JobService, or the ModelService
DESCRIBED_MEMO_ENTRIES = 256
# Describe's body is a pure function of the job (id, version) unless it reads the clock (translate).
_described: Memo[tuple[str, int], bytes] = Memo(DESCRIBED_MEMO_ENTRIES)


@dataclass(frozen=True)
class Operation:
    handler: Handler
    # Every handler runs off the event loop; reads and writes in separate pools (api.off_loop), so
    # slow reads never hold up a stop.
    is_read_only: bool
    uses_models: bool = False  # the handler takes the ModelService instead of the JobService


def create_training_job(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    job = service.create(principal.tenant, translate.new_training_job(body), account=principal.aws_account_id)
    return {"TrainingJobArn": job.arn}


def describe_training_job(service: JobService, principal: Principal, body: Body) -> bytes:
    job = service.describe(principal.tenant, JobKind.TRAINING, body["TrainingJobName"])
    if _reads_clock(job):
        return _json(translate.describe_training_job(job, datetime.now(UTC)))
    return _described.get(
        (job.id, job.version), lambda: _json(translate.describe_training_job(job, job.last_modified_at))
    )


def _reads_clock(job: Job) -> bool:
    """Whether translate.describe_training_job needs `now`: a finished job that never recorded an end."""
    return job.is_terminal and job.started_at is not None and job.ended_at is None


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def list_training_jobs(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    if body.get("StatusEquals") == "Deleting":
        return {"TrainingJobSummaries": []}  # deletes are immediate: nothing is ever Deleting
    page = service.list(principal.tenant, JobKind.TRAINING, translate.list_query(body))
    response: dict[str, Any] = {
        "TrainingJobSummaries": [translate.training_job_summary(job) for job in page.jobs]
    }
    if page.next_token:
        response["NextToken"] = page.next_token
    return response


def stop_training_job(service: JobService, principal: Principal, body: Body) -> None:
    outcome, job = service.stop(principal.tenant, JobKind.TRAINING, body["TrainingJobName"])
    if outcome is StopOutcome.ALREADY_FINISHED:
        # SageMaker refuses to stop a finished job; the native path treats it as success.
        raise errors.InvalidState("stop", job.primary.value)
    return None


def delete_training_job(service: JobService, principal: Principal, body: Body) -> None:
    service.delete(principal.tenant, JobKind.TRAINING, body["TrainingJobName"])
    return None


def add_tags(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    service.add_tags(principal.tenant, body["ResourceArn"], translate.tags_from_wire(body["Tags"]))
    return {"Tags": body["Tags"]}


def list_tags(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    return {"Tags": translate.tags_to_wire(service.tags(principal.tenant, body["ResourceArn"]))}


def delete_tags(service: JobService, principal: Principal, body: Body) -> None:
    service.delete_tags(principal.tenant, body["ResourceArn"], list(body["TagKeys"]))
    return None


OPERATIONS: Mapping[str, Operation] = {
    "CreateTrainingJob": Operation(create_training_job, is_read_only=False),
    "DescribeTrainingJob": Operation(describe_training_job, is_read_only=True),
    "ListTrainingJobs": Operation(list_training_jobs, is_read_only=True),
    "StopTrainingJob": Operation(stop_training_job, is_read_only=False),
    "DeleteTrainingJob": Operation(delete_training_job, is_read_only=False),
    "CreateCompilationJob": Operation(compilation.create, is_read_only=False),
    "DescribeCompilationJob": Operation(compilation.describe, is_read_only=True),
    "ListCompilationJobs": Operation(compilation.list_jobs, is_read_only=True),
    "StopCompilationJob": Operation(compilation.stop, is_read_only=False),
    "DeleteCompilationJob": Operation(compilation.delete, is_read_only=False),
    "CreateModel": Operation(models.create, is_read_only=False, uses_models=True),
    "DescribeModel": Operation(models.describe, is_read_only=True, uses_models=True),
    "ListModels": Operation(models.list_models, is_read_only=True, uses_models=True),
    "DeleteModel": Operation(models.delete, is_read_only=False, uses_models=True),
    "AddTags": Operation(add_tags, is_read_only=False),
    "ListTags": Operation(list_tags, is_read_only=True),
    "DeleteTags": Operation(delete_tags, is_read_only=False),
}
