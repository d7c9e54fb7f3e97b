"""What a job asks Ray for: CPUs, GPUs and memory of its instance type (SageMaker's published figures).

Ray receives them as `entrypoint_num_cpus`, `entrypoint_num_gpus` and `entrypoint_memory`; Ray starts
the job only where they are free, so a job never runs on less than its instance type promises.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

_log = logging.getLogger(__name__)
GIB = 1 << 30


@dataclass(frozen=True)
class Resources:
    num_cpus: float
    num_gpus: float
    memory_bytes: int  # 0: no memory reservation


# vCPUs, memory (GiB), GPUs, as SageMaker publishes them for its training instances.
INSTANCE_TYPES: dict[str, tuple[int, float, int]] = {
    "ml.t3.medium": (2, 4, 0),
    "ml.t3.large": (2, 8, 0),
    "ml.t3.xlarge": (4, 16, 0),
    "ml.m5.large": (2, 8, 0),
    "ml.m5.xlarge": (4, 16, 0),
    "ml.m5.2xlarge": (8, 32, 0),
    "ml.m5.4xlarge": (16, 64, 0),
    "ml.m5.12xlarge": (48, 192, 0),
    "ml.m5.24xlarge": (96, 384, 0),
    "ml.c5.xlarge": (4, 8, 0),
    "ml.c5.2xlarge": (8, 16, 0),
    "ml.c5.4xlarge": (16, 32, 0),
    "ml.c5.9xlarge": (36, 72, 0),
    "ml.c5.18xlarge": (72, 144, 0),
    "ml.r5.large": (2, 16, 0),
    "ml.r5.xlarge": (4, 32, 0),
    "ml.r5.2xlarge": (8, 64, 0),
    "ml.g4dn.xlarge": (4, 16, 1),
    "ml.g4dn.2xlarge": (8, 32, 1),
    "ml.g4dn.12xlarge": (48, 192, 4),
    "ml.g5.xlarge": (4, 16, 1),
    "ml.g5.2xlarge": (8, 32, 1),
    "ml.g5.12xlarge": (48, 192, 4),
    "ml.g5.48xlarge": (192, 768, 8),
    "ml.p3.2xlarge": (8, 61, 1),
    "ml.p3.8xlarge": (32, 244, 4),
    "ml.p3.16xlarge": (64, 488, 8),
    "ml.p4d.24xlarge": (96, 1152, 8),
}
UNKNOWN = Resources(num_cpus=1, num_gpus=0, memory_bytes=0)


def of_instance_type(instance_type: str) -> Resources:
    """The Ray resources of `instance_type`; one CPU and no reservation for a type not in the table."""
    figures = INSTANCE_TYPES.get(instance_type)
    if figures is None:
        _log.warning("event=instance_type_unknown instance_type=%s resources=1cpu", instance_type)
        return UNKNOWN
    cpus, memory_gib, gpus = figures
    return Resources(num_cpus=cpus, num_gpus=gpus, memory_bytes=int(memory_gib * GIB))
