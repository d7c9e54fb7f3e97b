"""Neutral names of the request fields the core checks; each dialect maps them to its own paths.

The core raises `errors.Invalid(field, reason)` with these names, so that a ModelArts or Baseten client
is never told to fix `outputDataConfig.s3OutputPath` (ARCHITECTURE.md, "The core speaks no dialect").
Indexed fields are `<list>.<1-based index>.<member>`.
"""

from __future__ import annotations

IMAGE = "image"
ENTRYPOINT = "entrypoint"
OUTPUT_LOCATION = "output_location"
CHECKPOINT_LOCATION = "checkpoint_location"
CHECKPOINT_LOCAL_PATH = "checkpoint_local_path"
HYPERPARAMETERS = "hyperparameters"
ENVIRONMENT = "environment"
INSTANCE_TYPE = "instance_type"
INSTANCE_COUNT = "instance_count"
TAGS = "tags"
CHANNELS = "channels"
GROUP = "group"  # the job group a run joins (ModelArts job, Baseten project)


def channel_source(index: int) -> str:
    """The source location of channel `index` (1-based)."""
    return f"{CHANNELS}.{index}.source"


def channel_name(index: int) -> str:
    return f"{CHANNELS}.{index}.name"


def split_indexed(field: str) -> tuple[str, int, str] | None:
    """`channels.3.source` -> ("channels", 3, "source"); None for a plain field."""
    parts = field.split(".")
    if len(parts) != 3 or not parts[1].isdigit():
        return None
    return parts[0], int(parts[1]), parts[2]
