"""What a job is told it got (issue 10): SM_NUM_CPUS, SM_NUM_GPUS, the visible GPUs, resourceconfig.json,
and the cgroup limits its supervisor sets, all from one Allocation. Shared by every launcher."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the supervisor imports this module: instance_types (the whole table) only on use
    from trainplane.domain.instance_types import Allocation

_log = logging.getLogger(__name__)
MIB = 1 << 20
NO_GPU = "void"  # NVIDIA_VISIBLE_DEVICES for no device (the container toolkit's word for it)


def environment(allocation: Allocation | None) -> dict[str, str]:
    """The variables that tell the job its share; none without an allocation (nothing managed)."""
    if allocation is None:
        return {}
    values = {"SM_NUM_CPUS": str(max(1, round(allocation.cpus)))}
    if allocation.gpu_ids is not None:  # GPUs are managed here: the job sees its own devices only
        devices = ",".join(allocation.gpu_ids)
        values.update(
            SM_NUM_GPUS=str(len(allocation.gpu_ids)),
            CUDA_VISIBLE_DEVICES=devices,
            NVIDIA_VISIBLE_DEVICES=devices or NO_GPU,
        )
    return values


def limits(allocation: Allocation | None) -> dict[str, Any] | None:
    """launch.json's "limits" member (executors/supervisor/limits.py reads it)."""
    if allocation is None:
        return None
    return {"cpus": allocation.cpus, "memory_bytes": allocation.memory_mib * MIB}


def annotate_resource_config(path: Path, allocation_ref: dict[str, str] | None) -> None:
    """Add what the job got to resourceconfig.json (SageMaker's file has no such member)."""
    if allocation_ref is None:
        return
    # Here, not at the top: the supervisor imports this module on every job's start path.
    from trainplane.domain.instance_types import Allocation

    allocation = Allocation.from_ref(allocation_ref)
    if allocation is None:
        return
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        _log.warning("event=resource_config_unreadable path=%s error=%s", path, exc)
        return
    config["current_instance_resources"] = {
        "cpus": allocation.cpus,
        "memory_mib": allocation.memory_mib,
        "gpus": None if allocation.gpu_ids is None else list(allocation.gpu_ids),
    }
    path.write_text(json.dumps(config, indent=2))
