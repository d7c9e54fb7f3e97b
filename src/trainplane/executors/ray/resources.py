"""What a job asks Ray for: the CPUs, GPUs and memory of its instance type (domain.instance_types).

Ray receives them as `entrypoint_num_cpus`, `entrypoint_num_gpus` and `entrypoint_memory`, and starts
the job only where they are free, so a job never runs on less than its instance type promises.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from trainplane.domain.instance_types import InstanceResources, resources_of

_log = logging.getLogger(__name__)
MIB = 1 << 20


@dataclass(frozen=True)
class Resources:
    num_cpus: float
    num_gpus: float
    memory_bytes: int  # 0: no memory reservation


# A type without published figures (and no operator definition) is not guessed: it reserves one CPU.
UNKNOWN = Resources(num_cpus=1, num_gpus=0, memory_bytes=0)


def of_instance_type(instance_type: str, defined: Mapping[str, InstanceResources] | None = None) -> Resources:
    """The Ray resources of `instance_type`: the operator's definition, else AWS's figures."""
    figures = resources_of(instance_type, defined)
    if figures is None:
        _log.warning("event=instance_type_unknown instance_type=%s resources=1cpu", instance_type)
        return UNKNOWN
    return Resources(num_cpus=figures.vcpus, num_gpus=figures.gpus, memory_bytes=figures.memory_mib * MIB)
