"""SageMaker models: CreateModel/DescribeModel/ListModels/DeleteModel over the ModelService.

A model names a training job's model.tar.gz or a compilation job's archive (PrimaryContainer's
ModelDataUrl, or the first of Containers with one); Describe echoes the request and adds where the
artifact came from as trainplane's own member.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainplane.api.auth.port import Principal
from trainplane.api.sagemaker import shapes, translate
from trainplane.domain import errors
from trainplane.domain.models import Model
from trainplane.service.models import ModelQuery, ModelService, ModelSortBy

Body = Mapping[str, Any]
_ECHOED = (
    "PrimaryContainer",
    "Containers",
    "InferenceExecutionConfig",
    "ExecutionRoleArn",
    "VpcConfig",
    "EnableNetworkIsolation",
)


def model_data_url(body: Body) -> str:
    """Raises: errors.Invalid when no container names an artifact."""
    containers = [body.get("PrimaryContainer") or {}, *(body.get("Containers") or ())]
    for container in containers:
        if container.get("ModelDataUrl"):
            return str(container["ModelDataUrl"])
    raise errors.Invalid(
        "primaryContainer.modelDataUrl",
        "give the artifact of a training or compilation job as PrimaryContainer.ModelDataUrl",
    )


def create(models: ModelService, principal: Principal, body: Body) -> dict[str, Any]:
    request = {key: body[key] for key in _ECHOED if key in body}
    model = models.create(
        principal.tenant, body["ModelName"], model_data_url(body), request, account=principal.aws_account_id
    )
    return {"ModelArn": model.arn}


def describe_document(model: Model) -> dict[str, Any]:
    source = model.source
    return {
        **model.request,
        "ModelName": model.name,
        "ModelArn": model.arn,
        "CreationTime": translate.epoch(model.created_at),
        "EnableNetworkIsolation": bool(model.request.get("EnableNetworkIsolation", False)),
        "TrainplaneDetails": translate.without_none(
            {
                "ArtifactUri": source.artifact_uri,
                "SourceJobKind": None if source.job_kind is None else source.job_kind.value,
                "SourceJobName": source.job_name,
                "SourceJobId": source.job_id,
                "SourceJobEnd": source.reason,
                "CompleteCheckpoint": source.has_complete_checkpoint,
            }
        ),
    }


def describe(models: ModelService, principal: Principal, body: Body) -> dict[str, Any]:
    return describe_document(models.describe(principal.tenant, body["ModelName"]))


def list_query(body: Body) -> ModelQuery:
    def instant(key: str) -> Any:
        value = body.get(key)
        return None if value is None else shapes.parse_timestamp(value, key[0].lower() + key[1:])

    return ModelQuery(
        name_contains=body.get("NameContains") or None,
        created_after=instant("CreationTimeAfter"),
        created_before=instant("CreationTimeBefore"),
        sort_by=ModelSortBy(body.get("SortBy", ModelSortBy.CREATION_TIME.value)),
        ascending=body.get("SortOrder", "Descending") == "Ascending",
        limit=int(body.get("MaxResults", 10)),
        page_token=body.get("NextToken") or None,
    )


def list_models(models: ModelService, principal: Principal, body: Body) -> dict[str, Any]:
    page = models.list(principal.tenant, list_query(body))
    response: dict[str, Any] = {
        "Models": [
            {"ModelName": m.name, "ModelArn": m.arn, "CreationTime": translate.epoch(m.created_at)}
            for m in page.models
        ]
    }
    if page.next_token:
        response["NextToken"] = page.next_token
    return response


def delete(models: ModelService, principal: Principal, body: Body) -> None:
    models.delete(principal.tenant, body["ModelName"])
    return None
