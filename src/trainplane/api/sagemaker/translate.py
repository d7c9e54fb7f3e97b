"""SageMaker wire <-> service: requests to NewJob/ListQuery, Job to Describe/List dicts (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from trainplane.api.sagemaker import shapes
from trainplane.domain import errors
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import Channel, Failure, FailureKind, Job, MetricDefinition
from trainplane.domain.status import JobKind, Primary
from trainplane.service.jobs import NewJob
from trainplane.service.ports import ListQuery, SortBy

DIALECT = "sagemaker"
DEFAULT_MAX_RUNTIME_SECONDS = 86_400  # SageMaker's documented default: one day
DEFAULT_LIST_LIMIT = 100


@lru_cache(maxsize=1)
def _describe_members() -> frozenset[str]:
    model = shapes.service_model()
    return frozenset(model.operation_model("DescribeTrainingJob").output_shape.members)


def _echoed(request: Mapping[str, Any]) -> dict[str, Any]:
    """Request members Describe shows as given (AlgorithmSpecification, RoleArn, VpcConfig, ...)."""
    members = _describe_members()
    return {key: value for key, value in request.items() if key in members and key != "Tags"}


# --- CreateTrainingJob ----------------------------------------------------------------------------


def new_training_job(body: Mapping[str, Any]) -> NewJob:
    """Raises: errors.Invalid for what the shape allows but trainplane cannot run."""
    algorithm = body.get("AlgorithmSpecification")
    if not algorithm:
        raise errors.Invalid("algorithmSpecification", "AlgorithmSpecification is required to run a job")
    if "TrainingImage" not in algorithm:
        raise errors.Invalid(
            "algorithmSpecification.trainingImage",
            "give TrainingImage; AlgorithmName (marketplace algorithms) is not supported",
        )
    resources = body.get("ResourceConfig") or {}
    checkpoint = body.get("CheckpointConfig") or {}
    stopping = body.get("StoppingCondition") or {}
    return NewJob(
        name=body["TrainingJobName"],
        kind=JobKind.TRAINING,
        dialect=DIALECT,
        image=algorithm["TrainingImage"],
        request=dict(body),
        entrypoint=tuple(algorithm.get("ContainerEntrypoint", ())),
        arguments=tuple(algorithm.get("ContainerArguments", ())),
        environment=dict(body.get("Environment") or {}),
        hyperparameters=dict(body.get("HyperParameters") or {}),
        channels=tuple(_channel(i, c) for i, c in enumerate(body.get("InputDataConfig") or (), start=1)),
        output_uri=body["OutputDataConfig"]["S3OutputPath"],
        checkpoint_uri=checkpoint.get("S3Uri"),
        checkpoint_local_path=checkpoint.get("LocalPath"),
        max_runtime_seconds=int(stopping.get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_SECONDS)),
        metric_definitions=tuple(
            MetricDefinition(m["Name"], m["Regex"]) for m in algorithm.get("MetricDefinitions", ())
        ),
        instance_type=resources.get("InstanceType", "ml.m5.large"),
        instance_count=int(resources.get("InstanceCount", 1)),  # the core says where several can run
        tags=tags_from_wire(body.get("Tags") or ()),
    )


def _channel(index: int, channel: Mapping[str, Any]) -> Channel:
    source = channel["DataSource"].get("S3DataSource")
    if source is None:
        raise errors.Invalid(
            f"inputDataConfig.{index}.member.dataSource",
            "only S3DataSource (with a file:// URI or an absolute path) is supported",
        )
    return Channel(channel["ChannelName"], source["S3Uri"], channel.get("ContentType"))


# --- Describe / List --------------------------------------------------------------------------------


def _epoch(at: datetime | None) -> float | None:
    return None if at is None else round(at.timestamp(), 3)


def _without_none(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in doc.items() if value is not None}


# SageMaker's FailureReason names who is to blame with these prefixes.
FAILURE_PREFIXES: Mapping[FailureKind, str] = {
    FailureKind.USER: "ClientError",
    FailureKind.ALGORITHM: "AlgorithmError",
    FailureKind.PLATFORM: "InternalServerError",
}
FAILURE_REASON_CHARS = 1024  # SageMaker's FailureReason maximum length


def failure_reason(failure: Failure) -> str:
    return f"{FAILURE_PREFIXES[failure.kind]}: {failure.message}"[:FAILURE_REASON_CHARS]


# Members SageMaker returns with empty values when the request left them out; the SageMaker SDK
# indexes them without .get() (Estimator.attach: OutputDataConfig.KmsKeyId; training_job_analytics:
# AlgorithmSpecification.MetricDefinitions).
_OUTPUT_DEFAULTS: Mapping[str, Any] = {"KmsKeyId": ""}
_ALGORITHM_DEFAULTS: Mapping[str, Any] = {"MetricDefinitions": [], "EnableSageMakerMetricsTimeSeries": False}
_FLAG_DEFAULTS: Mapping[str, bool] = {
    "EnableNetworkIsolation": False,
    "EnableInterContainerTrafficEncryption": False,
    "EnableManagedSpotTraining": False,
}


def _echoed_with_defaults(request: Mapping[str, Any]) -> dict[str, Any]:
    echoed = {**_FLAG_DEFAULTS, **_echoed(request)}
    if "OutputDataConfig" in echoed:
        echoed["OutputDataConfig"] = {**_OUTPUT_DEFAULTS, **echoed["OutputDataConfig"]}
    if "AlgorithmSpecification" in echoed:
        echoed["AlgorithmSpecification"] = {**_ALGORITHM_DEFAULTS, **echoed["AlgorithmSpecification"]}
    return echoed


def model_location(output_path: str, job_name: str) -> str:
    """Where the job's model.tar.gz is (or will be): <S3OutputPath>/<name>/output/model.tar.gz.

    Spelled from the request's own S3OutputPath, so it is the same string from the first Describe to
    the last (botocore marks ModelArtifacts required; the SDK reads it while the job runs).
    """
    return f"{output_path.rstrip('/')}/{job_name}/output/model.tar.gz"


def describe_training_job(job: Job, now: datetime) -> dict[str, Any]:
    outcome = job.outcome
    runtime_seconds = max(1, round(job.runtime_seconds(now))) if job.started_at else None
    doc: dict[str, Any] = {
        **_echoed_with_defaults(job.request),
        "TrainingJobName": job.name,
        "TrainingJobArn": job.arn,
        "TrainingJobStatus": job.primary.value,
        "SecondaryStatus": job.status.value,
        "CreationTime": _epoch(job.created_at),
        "LastModifiedTime": _epoch(job.last_modified_at),
        "TrainingStartTime": _epoch(job.started_at),
        "TrainingEndTime": _epoch(job.ended_at) if job.started_at else None,
        "TrainingTimeInSeconds": runtime_seconds if job.is_terminal else None,
        "BillableTimeInSeconds": runtime_seconds if job.is_terminal else None,
        "StoppingCondition": job.request.get("StoppingCondition")
        or {"MaxRuntimeInSeconds": job.spec.max_runtime_seconds},
        "SecondaryStatusTransitions": [
            _without_none(
                {
                    "Status": t.status.value,
                    "StartTime": _epoch(t.started_at),
                    "EndTime": _epoch(t.ended_at),
                    "StatusMessage": t.message,
                }
            )
            for t in job.history
        ],
        "ModelArtifacts": {"S3ModelArtifacts": model_location(job.spec.output_uri, job.name)},
        "FailureReason": failure_reason(outcome.failure) if outcome and outcome.failure else None,
        "FinalMetricDataList": [
            {"MetricName": m.name, "Value": m.value, "Timestamp": _epoch(m.at)} for m in outcome.metrics
        ]
        if outcome and outcome.metrics
        else None,
        "TrainplaneDetails": _details(job),
    }
    return _without_none(doc)


def _details(job: Job) -> dict[str, Any]:
    """trainplane's extension: why and how the job stopped (boto3 ignores unknown members)."""
    outcome, stop = job.outcome, job.stop
    report = outcome.stop_report if outcome else None
    return _without_none(
        {
            "StopReason": stop.reason.value if stop else None,
            "StopRequestedTime": _epoch(stop.requested_at) if stop else None,
            "KillDeadline": _epoch(stop.deadline_at) if stop else None,
            "StopGraceSeconds": stop.grace_seconds if stop else job.spec.grace_seconds,
            "ExitCode": outcome.exit_code if outcome else None,
            # ModelArtifacts names the location from the start; this says whether the archive is there.
            "ModelPackaged": bool(outcome and outcome.model_uri),
            "ModelFromStop": bool(stop and outcome and outcome.model_uri),
            "CompleteCheckpoint": outcome.has_complete_checkpoint if outcome else None,
            "Signals": _without_none(
                {
                    "SigtermTime": _epoch(report.term_sent_at),
                    "SigtermProcesses": report.term_pids,
                    "SigkillTime": _epoch(report.kill_sent_at),
                    "SigkillProcesses": report.kill_pids,
                    "Survivors": list(report.survivors),
                }
            )
            if report
            else None,
            "Resources": _resources(job),
        }
    )


def _resources(job: Job) -> dict[str, Any] | None:
    """What the job holds on its host (issue 10): CPUs, memory and the GPUs assigned to it alone."""
    allocation = None if job.handle is None else Allocation.from_ref(job.handle.ref)
    if allocation is None:
        return None
    gpus = None if allocation.gpu_ids is None else list(allocation.gpu_ids)
    return _without_none({"Cpus": allocation.cpus, "MemoryMiB": allocation.memory_mib, "Gpus": gpus})


def training_job_summary(job: Job) -> dict[str, Any]:
    return _without_none(
        {
            "TrainingJobName": job.name,
            "TrainingJobArn": job.arn,
            "CreationTime": _epoch(job.created_at),
            "TrainingEndTime": _epoch(job.ended_at),
            "LastModifiedTime": _epoch(job.last_modified_at),
            "TrainingJobStatus": job.primary.value,
            "SecondaryStatus": job.status.value,
        }
    )


def list_query(body: Mapping[str, Any]) -> ListQuery:
    def instant(key: str) -> datetime | None:
        value = body.get(key)
        return None if value is None else shapes.parse_timestamp(value, key[0].lower() + key[1:])

    status = body.get("StatusEquals")
    return ListQuery(
        name_contains=body.get("NameContains") or None,
        status=Primary(status) if status else None,
        created_after=instant("CreationTimeAfter"),
        created_before=instant("CreationTimeBefore"),
        modified_after=instant("LastModifiedTimeAfter"),
        modified_before=instant("LastModifiedTimeBefore"),
        sort_by=SortBy(body.get("SortBy", SortBy.CREATION_TIME.value)),
        ascending=body.get("SortOrder", "Ascending") == "Ascending",
        limit=int(body.get("MaxResults", DEFAULT_LIST_LIMIT)),
        page_token=body.get("NextToken") or None,
    )


def tags_to_wire(tags: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


RESERVED_TAG_PREFIX = "aws:"  # AWS keeps these keys for itself; a request may not set them


def tags_from_wire(items: Any) -> dict[str, str]:
    """The request's tags as a map. Raises: errors.Invalid for a reserved or repeated key."""
    tags: dict[str, str] = {}
    for index, tag in enumerate(items, start=1):
        key = tag["Key"]
        if key.lower().startswith(RESERVED_TAG_PREFIX):
            raise errors.Invalid(
                f"tags.{index}.member.key",
                f"tag keys starting with {RESERVED_TAG_PREFIX!r} are reserved for AWS use",
            )
        if key in tags:
            raise errors.Invalid(f"tags.{index}.member.key", "duplicate tag keys: each key may appear once")
        tags[key] = tag["Value"]
    return tags


# Shared with the dialect's other resources (compilation jobs, models).
epoch = _epoch
without_none = _without_none
details = _details
