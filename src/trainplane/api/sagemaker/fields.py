"""The core's neutral field names as SageMaker's wire paths (the paths its validation errors name)."""

from __future__ import annotations

from collections.abc import Mapping

from trainplane.domain import fields

_PLAIN: Mapping[str, str] = {
    fields.IMAGE: "algorithmSpecification.trainingImage",
    fields.ENTRYPOINT: "algorithmSpecification.containerEntrypoint",
    fields.OUTPUT_LOCATION: "outputDataConfig.s3OutputPath",
    fields.CHECKPOINT_LOCATION: "checkpointConfig.s3Uri",
    fields.CHECKPOINT_LOCAL_PATH: "checkpointConfig.localPath",
    fields.HYPERPARAMETERS: "hyperParameters",
    fields.ENVIRONMENT: "environment",
    fields.INSTANCE_TYPE: "resourceConfig.instanceType",
    fields.INSTANCE_COUNT: "resourceConfig.instanceCount",
    fields.TAGS: "tags",
    fields.CHANNELS: "inputDataConfig",
}
_CHANNEL_MEMBERS: Mapping[str, str] = {
    "source": "dataSource.s3DataSource.s3Uri",
    "name": "channelName",
}


def wire_path(field: str) -> str:
    """SageMaker's path for a neutral field; a name it does not know is passed through unchanged."""
    plain = _PLAIN.get(field)
    if plain is not None:
        return plain
    indexed = fields.split_indexed(field)
    if indexed is not None and indexed[0] == fields.CHANNELS and indexed[2] in _CHANNEL_MEMBERS:
        return f"inputDataConfig.{indexed[1]}.member.{_CHANNEL_MEMBERS[indexed[2]]}"
    return field
