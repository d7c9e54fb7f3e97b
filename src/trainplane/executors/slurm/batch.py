"""What trainplane asks `sbatch` for: one batch job per trainplane job, whose script `exec`s our supervisor.

`exec`, so the batch script *is* the supervisor: `scancel --batch` reaches exactly it, and the job's
processes are its children (its cgroup v2 leaf, its subreaper), not the shell's.
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from trainplane.domain import errors, fields, instance_types
from trainplane.domain.job import Job

SUPERVISOR_MODULE = "trainplane.executors.supervisor.supervisor"
NAME_PREFIX = "tp-"  # Slurm job name: tp-<trainplane job id>, found again by name after a crash
TIME_LIMIT_MARGIN_SECONDS = 60  # Slurm's own limit only backs ours up: max runtime + grace + this


@dataclass(frozen=True)
class SlurmSettings:
    """Server settings for the Slurm executor (`--slurm-*`)."""

    partition: str = ""  # empty: the cluster's default partition
    account: str = ""
    sbatch_options: Sequence[str] = ()  # extra sbatch options, each one argument (e.g. "--qos=high")
    python_executable: str = field(default=sys.executable)  # must exist at this path on the nodes
    own_instance_types: Mapping[str, instance_types.InstanceResources] = field(default_factory=dict)


def resource_arguments(instance_type: str, settings: SlurmSettings) -> list[str]:
    """CPUs, memory and GPUs of the instance type, from the one instance-type table.

    An unknown type asks for nothing (Slurm's defaults): its figures are not guessed.
    """
    resources = instance_types.resources_of(instance_type, settings.own_instance_types)
    if resources is None:
        return []
    arguments = [f"--cpus-per-task={resources.vcpus}", f"--mem={resources.memory_mib}M"]
    if resources.gpus:
        arguments.append(f"--gres=gpu:{resources.gpus}")
    return arguments


def slurm_job_name(job_id: str) -> str:
    return f"{NAME_PREFIX}{job_id}"


def time_limit_minutes(job: Job) -> int | None:
    """Slurm's time limit: after our own max runtime and grace, so it never decides the stop."""
    if job.spec.max_runtime_seconds is None:
        return None
    seconds = job.spec.max_runtime_seconds + job.spec.grace_seconds + TIME_LIMIT_MARGIN_SECONDS
    return max(1, math.ceil(seconds / 60))


def sbatch_arguments(job: Job, run_dir: Path, settings: SlurmSettings) -> list[str]:
    """Everything after `sbatch --parsable`.

    Raises:
        errors.Invalid: the job needs what this executor cannot give (several instances).
    """
    if job.spec.instance_count != 1:
        # One node's supervisor cannot start and end processes on other nodes yet.
        raise errors.Invalid(
            fields.INSTANCE_COUNT,
            f"the Slurm executor runs a job on one node; "
            f"InstanceCount {job.spec.instance_count} is not supported",
        )
    arguments = [
        f"--job-name={slurm_job_name(job.id)}",
        f"--comment=trainplane {job.name}",
        f"--chdir={run_dir}",
        f"--output={run_dir / 'supervisor.log'}",
        "--open-mode=append",
        "--nodes=1",
        "--ntasks=1",
    ]
    if settings.partition:
        arguments.append(f"--partition={settings.partition}")
    if settings.account:
        arguments.append(f"--account={settings.account}")
    arguments.extend(resource_arguments(job.spec.instance_type, settings))
    minutes = time_limit_minutes(job)
    if minutes is not None:
        arguments.append(f"--time={minutes}")
    arguments.extend(settings.sbatch_options)  # last: the operator's options win
    command = [settings.python_executable, "-m", SUPERVISOR_MODULE, str(run_dir)]
    arguments.append("--wrap=exec " + shlex.join(command))
    return arguments
