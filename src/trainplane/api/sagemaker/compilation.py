"""SageMaker compilation jobs (Neo): Create/Describe/List/Stop/Delete on the shared job record.

A compilation job is a job of kind COMPILATION run by the `trainplane/compiler` image (the compiler
runner under the same supervisor and stop protocol as training); its model arrives as the channel
`model` (so the same location rules apply) and its result is published as one archive,
`<S3OutputLocation>/<model>-<target>.tar.gz`. Statuses are Neo's upper-case words.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

from trainplane.api.auth.port import Principal
from trainplane.api.sagemaker import translate
from trainplane.compilation import targets
from trainplane.domain import errors, fields
from trainplane.domain.job import Channel, Job
from trainplane.domain.status import JobKind, Secondary
from trainplane.service.jobs import JobService, NewJob, StopOutcome
from trainplane.service.ports import ListQuery

Body = Mapping[str, Any]
COMPILER_IMAGE = "trainplane/compiler"
MODEL_CHANNEL = "model"
PUBLISHED_ARCHIVE = "published_archive"  # artifacts.published.PUBLISHED_ARCHIVE (the payload key)
DEFAULT_MAX_RUNTIME_SECONDS = 900  # Neo's default for a compilation job: 15 minutes
# What a compilation holds of the host (its limits, and its place in the queue): SageMaker's request
# names no instance; compiling is CPU-bound and small, so the smallest compute-optimized type.
COMPILER_INSTANCE_TYPE = "ml.c7i.large"  # 2 vCPUs, 4 GiB
DEFAULT_GRACE_SECONDS = 30.0  # a compiler saves nothing on SIGTERM: a short window (the tag overrides it)

STATUS: Mapping[Secondary, str] = {
    Secondary.STARTING: "STARTING",
    Secondary.DOWNLOADING: "INPROGRESS",
    Secondary.TRAINING: "INPROGRESS",
    Secondary.UPLOADING: "INPROGRESS",
    Secondary.STOPPING: "STOPPING",
    Secondary.STOPPED: "STOPPED",
    Secondary.MAX_RUNTIME_EXCEEDED: "STOPPED",
    Secondary.COMPLETED: "COMPLETED",
    Secondary.FAILED: "FAILED",
}


def statuses_of(word: str) -> frozenset[Secondary]:
    """The fine statuses a job shows as `word` (INPROGRESS: Downloading, Training, Uploading)."""
    return frozenset(status for status, shown in STATUS.items() if shown == word)


# The core's neutral fields as this operation's wire paths.
_FIELDS: Mapping[str, str] = {
    fields.OUTPUT_LOCATION: "outputConfig.s3OutputLocation",
    fields.channel_source(1): "inputConfig.s3Uri",
}


def new_compilation_job(body: Body) -> NewJob:
    """Raises: errors.Invalid for a framework or target not compiled here (naming those that are)."""
    if body.get("ModelPackageVersionArn") or "InputConfig" not in body:
        raise errors.Invalid(
            "inputConfig", "give InputConfig (S3Uri and Framework); model packages are not supported"
        )
    input_config, output_config = body["InputConfig"], body["OutputConfig"]
    framework = targets.check_framework(input_config["Framework"])
    target = targets.target_for(output_config)
    data_input_config = input_config.get("DataInputConfig")
    targets.input_shapes(data_input_config)  # refused now if malformed, not in a failed job
    config = {
        "framework": framework,
        "framework_version": input_config.get("FrameworkVersion"),
        "data_input_config": data_input_config,
        "target": target.to_dict(),
    }
    stopping = body.get("StoppingCondition") or {}
    return NewJob(
        name=body["CompilationJobName"],
        kind=JobKind.COMPILATION,
        dialect=translate.DIALECT,
        image=COMPILER_IMAGE,
        request=dict(body),
        arguments=("--config", json.dumps(config, sort_keys=True)),
        channels=(Channel(MODEL_CHANNEL, input_config["S3Uri"]),),
        output_uri=output_config["S3OutputLocation"],
        max_runtime_seconds=int(stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)),
        instance_type=COMPILER_INSTANCE_TYPE,
        tags=translate.tags_from_wire(body.get("Tags") or ()),
        default_grace_seconds=DEFAULT_GRACE_SECONDS,
        payload={
            PUBLISHED_ARCHIVE: targets.artifact_name(input_config["S3Uri"], target),
            "job_kind": JobKind.COMPILATION.value,  # written into the artifact's manifest
        },
    )


def create(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    request = new_compilation_job(body)
    try:
        job = service.create(principal.tenant, request, account=principal.aws_account_id)
    except errors.Invalid as exc:
        if exc.field not in _FIELDS:
            raise
        raise errors.Invalid(_FIELDS[exc.field], exc.reason) from None
    return {"CompilationJobArn": job.arn}


def artifact_location(job: Job) -> str:
    """Where the compiled archive is published (named from the start, as training's ModelArtifacts)."""
    return f"{job.spec.output_uri.rstrip('/')}/{job.spec.payload[PUBLISHED_ARCHIVE]}"


def describe_document(job: Job) -> dict[str, Any]:
    outcome = job.outcome
    is_published = job.status is Secondary.COMPLETED and outcome is not None and outcome.model_uri is not None
    request = job.request
    doc: dict[str, Any] = {
        "CompilationJobName": job.name,
        "CompilationJobArn": job.arn,
        "CompilationJobStatus": STATUS[job.status],
        "CompilationStartTime": translate.epoch(job.started_at),
        "CompilationEndTime": translate.epoch(job.ended_at) if job.started_at else None,
        "StoppingCondition": request.get("StoppingCondition")
        or {"MaxRuntimeInSeconds": job.spec.max_runtime_seconds},
        "CreationTime": translate.epoch(job.created_at),
        "LastModifiedTime": translate.epoch(job.last_modified_at),
        # botocore marks both required: empty until there is something to say.
        "FailureReason": translate.failure_reason(outcome.failure) if outcome and outcome.failure else "",
        "ModelArtifacts": {"S3ModelArtifacts": artifact_location(job) if is_published else ""},
        "ModelDigests": {"ArtifactDigest": f"sha256:{outcome.model_digest}"}
        if outcome and outcome.model_digest
        else None,
        "RoleArn": request.get("RoleArn"),
        "InputConfig": request.get("InputConfig"),
        "OutputConfig": request.get("OutputConfig"),
        "VpcConfig": request.get("VpcConfig"),
        "TrainplaneDetails": translate.details(job),
    }
    return translate.without_none(doc)


def describe(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    return describe_document(
        service.describe(principal.tenant, JobKind.COMPILATION, body["CompilationJobName"])
    )


def summary(job: Job) -> dict[str, Any]:
    output = job.request.get("OutputConfig") or {}
    platform = output.get("TargetPlatform") or {}
    return translate.without_none(
        {
            "CompilationJobName": job.name,
            "CompilationJobArn": job.arn,
            "CreationTime": translate.epoch(job.created_at),
            "CompilationStartTime": translate.epoch(job.started_at),
            "CompilationEndTime": translate.epoch(job.ended_at) if job.started_at else None,
            "CompilationTargetDevice": output.get("TargetDevice"),
            "CompilationTargetPlatformOs": platform.get("Os"),
            "CompilationTargetPlatformArch": platform.get("Arch"),
            "CompilationTargetPlatformAccelerator": platform.get("Accelerator"),
            "LastModifiedTime": translate.epoch(job.last_modified_at),
            "CompilationJobStatus": STATUS[job.status],
        }
    )


def list_query(body: Body) -> ListQuery:
    """ListCompilationJobs' filters as the core's query; StatusEquals is Neo's word."""
    word = body.get("StatusEquals")
    query = translate.list_query({key: value for key, value in body.items() if key != "StatusEquals"})
    if word is None:
        return query
    return dataclasses.replace(query, statuses=statuses_of(word))


def list_jobs(service: JobService, principal: Principal, body: Body) -> dict[str, Any]:
    page = service.list(principal.tenant, JobKind.COMPILATION, list_query(body))
    response: dict[str, Any] = {"CompilationJobSummaries": [summary(job) for job in page.jobs]}
    if page.next_token:
        response["NextToken"] = page.next_token
    return response


def stop(service: JobService, principal: Principal, body: Body) -> None:
    outcome, job = service.stop(principal.tenant, JobKind.COMPILATION, body["CompilationJobName"])
    if outcome is StopOutcome.ALREADY_FINISHED:
        raise errors.InvalidState("stop", STATUS[job.status])
    return None


def delete(service: JobService, principal: Principal, body: Body) -> None:
    service.delete(principal.tenant, JobKind.COMPILATION, body["CompilationJobName"])
    return None
