"""What each SageMaker training instance type gives a job: vCPUs, memory, GPUs or other accelerators.

One table for every executor: the Ray executor asks Ray for these resources, the Slurm executor asks
Slurm, and the local executor's limits and queue (issue 10) read the same figures.

Source: AWS's published specifications of the EC2 instances behind each `ml.*` type
(https://aws.amazon.com/ec2/instance-types/ and https://aws.amazon.com/sagemaker/ai/pricing/, as of
2025). Standard families keep a fixed memory per vCPU, so they are written as a rule; GPU and
accelerator families are listed one by one. Types in botocore's `TrainingInstanceType` enum that are not
here (ml.g7*, ml.g7e*, ml.p6-b300*, ml.p6e-gb200*) had no published figures we could check: they are
unknown rather than guessed, and an operator defines them (or any type of their own) in the server's
configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

_SIZES_VCPUS: Mapping[str, int] = {
    "large": 2,
    "xlarge": 4,
    "2xlarge": 8,
    "4xlarge": 16,
    "8xlarge": 32,
    "9xlarge": 36,
    "10xlarge": 40,
    "12xlarge": 48,
    "16xlarge": 64,
    "18xlarge": 72,
    "24xlarge": 96,
    "32xlarge": 128,
    "48xlarge": 192,
    "96xlarge": 384,
}


@dataclass(frozen=True)
class InstanceResources:
    vcpus: int
    memory_mib: int
    gpus: int = 0
    gpu_model: str = ""
    accelerators: int = 0  # AWS Trainium chips (Neuron devices), which are not GPUs
    accelerator_model: str = ""


def _gib(value: float) -> int:
    return round(value * 1024)


def _family(family: str, gib_per_vcpu: float, sizes: tuple[str, ...]) -> dict[str, InstanceResources]:
    return {
        f"ml.{family}.{size}": InstanceResources(_SIZES_VCPUS[size], _gib(_SIZES_VCPUS[size] * gib_per_vcpu))
        for size in sizes
    }


def _gpus(model: str, rows: Mapping[str, tuple[int, float, int]]) -> dict[str, InstanceResources]:
    return {name: InstanceResources(cpus, _gib(gib), gpus, model) for name, (cpus, gib, gpus) in rows.items()}


_M5 = ("large", "xlarge", "2xlarge", "4xlarge", "12xlarge", "24xlarge")
_SIXTH = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge", "32xlarge")
_SEVENTH = (
    "large",
    "xlarge",
    "2xlarge",
    "4xlarge",
    "8xlarge",
    "12xlarge",
    "16xlarge",
    "24xlarge",
    "48xlarge",
)
_EIGHTH = (*_SIXTH, "48xlarge", "96xlarge")
_FLEX = ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge")

_TABLE: dict[str, InstanceResources] = {
    **_family("m4", 4, ("xlarge", "2xlarge", "4xlarge", "10xlarge", "16xlarge")),
    **_family("m5", 4, _M5),
    **_family("m6i", 4, _SIXTH),
    **_family("m7i", 4, _SEVENTH),
    **_family("m7i-flex", 4, _FLEX),
    **_family("m8i", 4, _EIGHTH),
    **_family("m8i-flex", 4, _FLEX),
    **_family("c4", 1.875, ("xlarge", "2xlarge", "4xlarge", "8xlarge")),
    **_family("c5", 2, ("xlarge", "2xlarge", "4xlarge", "9xlarge", "18xlarge")),
    **_family("c6i", 2, _SIXTH[1:]),
    **_family("c7i", 2, _SEVENTH),
    **_family("c7i-flex", 2, _FLEX[1:]),
    **_family("c8i", 2, _EIGHTH[1:]),
    **_family("c8i-flex", 2, _FLEX[1:]),
    **_family(
        "r5", 8, ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
    ),
    **_family(
        "r5d", 8, ("large", "xlarge", "2xlarge", "4xlarge", "8xlarge", "12xlarge", "16xlarge", "24xlarge")
    ),
    **_family("r6i", 8, _SIXTH),
    **_family("r7i", 8, _SEVENTH),
    **_family("r8i", 8, _EIGHTH),
    **_family("r8i-flex", 8, _FLEX),
    "ml.t3.medium": InstanceResources(2, _gib(4)),
    "ml.t3.large": InstanceResources(2, _gib(8)),
    "ml.t3.xlarge": InstanceResources(4, _gib(16)),
    "ml.t3.2xlarge": InstanceResources(8, _gib(32)),
    "ml.c5n.xlarge": InstanceResources(4, _gib(10.5)),
    "ml.c5n.2xlarge": InstanceResources(8, _gib(21)),
    "ml.c5n.4xlarge": InstanceResources(16, _gib(42)),
    "ml.c5n.9xlarge": InstanceResources(36, _gib(96)),
    "ml.c5n.18xlarge": InstanceResources(72, _gib(192)),
    # vCPUs, memory GiB, GPUs
    **_gpus(
        "NVIDIA K80",
        {"ml.p2.xlarge": (4, 61, 1), "ml.p2.8xlarge": (32, 488, 8), "ml.p2.16xlarge": (64, 732, 16)},
    ),
    **_gpus(
        "NVIDIA V100",
        {
            "ml.p3.2xlarge": (8, 61, 1),
            "ml.p3.8xlarge": (32, 244, 4),
            "ml.p3.16xlarge": (64, 488, 8),
            "ml.p3dn.24xlarge": (96, 768, 8),
        },
    ),
    **_gpus("NVIDIA A100 40GB", {"ml.p4d.24xlarge": (96, 1152, 8)}),
    **_gpus("NVIDIA A100 80GB", {"ml.p4de.24xlarge": (96, 1152, 8)}),
    **_gpus("NVIDIA H100", {"ml.p5.4xlarge": (16, 256, 1), "ml.p5.48xlarge": (192, 2048, 8)}),
    **_gpus("NVIDIA H200", {"ml.p5e.48xlarge": (192, 2048, 8), "ml.p5en.48xlarge": (192, 2048, 8)}),
    **_gpus("NVIDIA B200", {"ml.p6-b200.48xlarge": (192, 2048, 8)}),
    **_gpus(
        "NVIDIA T4",
        {
            "ml.g4dn.xlarge": (4, 16, 1),
            "ml.g4dn.2xlarge": (8, 32, 1),
            "ml.g4dn.4xlarge": (16, 64, 1),
            "ml.g4dn.8xlarge": (32, 128, 1),
            "ml.g4dn.12xlarge": (48, 192, 4),
            "ml.g4dn.16xlarge": (64, 256, 1),
        },
    ),
    **_gpus(
        "NVIDIA A10G",
        {
            f"ml.g5.{size}": row
            for size, row in (
                ("xlarge", (4, 16, 1)),
                ("2xlarge", (8, 32, 1)),
                ("4xlarge", (16, 64, 1)),
                ("8xlarge", (32, 128, 1)),
                ("16xlarge", (64, 256, 1)),
                ("12xlarge", (48, 192, 4)),
                ("24xlarge", (96, 384, 4)),
                ("48xlarge", (192, 768, 8)),
            )
        },
    ),
    **_gpus(
        "NVIDIA L4",
        {
            f"ml.g6.{size}": row
            for size, row in (
                ("xlarge", (4, 16, 1)),
                ("2xlarge", (8, 32, 1)),
                ("4xlarge", (16, 64, 1)),
                ("8xlarge", (32, 128, 1)),
                ("16xlarge", (64, 256, 1)),
                ("12xlarge", (48, 192, 4)),
                ("24xlarge", (96, 384, 4)),
                ("48xlarge", (192, 768, 8)),
            )
        },
    ),
    **_gpus(
        "NVIDIA L40S",
        {
            f"ml.g6e.{size}": row
            for size, row in (
                ("xlarge", (4, 32, 1)),
                ("2xlarge", (8, 64, 1)),
                ("4xlarge", (16, 128, 1)),
                ("8xlarge", (32, 256, 1)),
                ("16xlarge", (64, 512, 1)),
                ("12xlarge", (48, 384, 4)),
                ("24xlarge", (96, 768, 4)),
                ("48xlarge", (192, 1536, 8)),
            )
        },
    ),
    "ml.trn1.2xlarge": InstanceResources(8, _gib(32), accelerators=1, accelerator_model="AWS Trainium"),
    "ml.trn1.32xlarge": InstanceResources(128, _gib(512), accelerators=16, accelerator_model="AWS Trainium"),
    "ml.trn1n.32xlarge": InstanceResources(128, _gib(512), accelerators=16, accelerator_model="AWS Trainium"),
    "ml.trn2.48xlarge": InstanceResources(
        192, _gib(2048), accelerators=16, accelerator_model="AWS Trainium2"
    ),
}

PUBLISHED: Mapping[str, InstanceResources] = _TABLE


def resources_of(
    instance_type: str, defined: Mapping[str, InstanceResources] | None = None
) -> InstanceResources | None:
    """The resources of `instance_type`: an operator's own definition first, then AWS's figures."""
    if defined and instance_type in defined:
        return defined[instance_type]
    return _TABLE.get(instance_type)


@dataclass(frozen=True)
class Allocation:
    """What a job was given on its host: CPUs, memory and, where trainplane manages GPUs, which ones."""

    cpus: float
    memory_mib: int
    gpu_ids: tuple[str, ...] | None = None  # None: GPUs are not managed (the job sees the host's)

    def to_ref(self) -> dict[str, str]:
        """As executor-handle members (strings), so a restarted control plane knows what is held."""
        gpus = "-" if self.gpu_ids is None else ",".join(self.gpu_ids)
        return {"alloc_cpus": f"{self.cpus:g}", "alloc_memory_mib": str(self.memory_mib), "alloc_gpus": gpus}

    @staticmethod
    def from_ref(ref: Mapping[str, str]) -> Allocation | None:
        if "alloc_cpus" not in ref:
            return None
        gpus = ref.get("alloc_gpus", "-")
        ids = None if gpus == "-" else tuple(gpu for gpu in gpus.split(",") if gpu)
        return Allocation(float(ref["alloc_cpus"]), int(ref["alloc_memory_mib"]), ids)


def parse_defined(doc: Mapping[str, object]) -> dict[str, InstanceResources]:
    """Operator-defined types from {"name": {"vcpus": 4, "memory_gib": 16, "gpus": 1}} (or memory_mib).

    Raises:
        ValueError: a definition is malformed (the message names it).
    """
    defined: dict[str, InstanceResources] = {}
    for name, raw in doc.items():
        if not isinstance(raw, Mapping):
            raise ValueError(f"instance type {name!r}: must be an object like {_EXAMPLE}")
        try:
            memory_mib = int(raw["memory_mib"]) if "memory_mib" in raw else _gib(float(raw["memory_gib"]))
            resources = InstanceResources(
                vcpus=int(raw["vcpus"]),
                memory_mib=memory_mib,
                gpus=int(raw.get("gpus", 0)),
                gpu_model=str(raw.get("gpu_model", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"instance type {name!r}: {exc!s} (expected {_EXAMPLE})") from None
        if resources.vcpus < 1 or resources.memory_mib < 1 or resources.gpus < 0:
            raise ValueError(f"instance type {name!r}: vcpus and memory must be positive, gpus 0 or more")
        defined[str(name)] = resources
    return defined


_EXAMPLE = '{"vcpus": 4, "memory_gib": 16, "gpus": 1}'
