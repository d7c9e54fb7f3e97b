"""What trainplane asks `sbatch` for: one batch job per trainplane job, whose script `exec`s our supervisor.

`exec`, so the batch script *is* the supervisor: `scancel --batch` reaches exactly it, and the job's
processes are its children (its cgroup v2 leaf, its subreaper), not the shell's.

`InstanceCount` N > 1: N nodes, one task each. The supervisor (on the allocation's first node) spawns
`srun`, which starts `node.py` on every node (one step, N tasks); the job's SIGTERM and SIGKILL go
through Slurm to every node (`launch_extras`, read by supervisor/delegated.py): `srun` itself must
never get SIGTERM, it would end the step abruptly (Slurm 22.05 turns it into a forced termination).
"""

from __future__ import annotations

import math
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainplane.domain import errors, fields, instance_types
from trainplane.domain.job import Job

SUPERVISOR_MODULE = "trainplane.executors.supervisor.supervisor"
NODE_MODULE = "trainplane.executors.slurm.node"
# Without --batch/--full a job signal reaches only the steps srun started: every node's task, not us.
TERM_COMMAND = 'scancel --signal=TERM "$SLURM_JOB_ID" && echo "${SLURM_NTASKS:-0}"'
# SIGKILL of a whole job is not immediate (slurmctld makes it a cancel, with KillWait), of a step it is:
# kill every step but the batch one (ours), then wait until Slurm says they are gone (exit 1 if not).
# It prints the tasks of the steps that were still running (a step whose srun has just ended, still
# being torn down, killed nothing of the job).
KILL_COMMAND = """
steps() {
    squeue -h -s -j "$SLURM_JOB_ID" -O StepId:64,StepState:24,NumTasks:12 \
        | grep -v -e '[.]batch ' -e '[.]extern '
}
found="$(steps)"
tasks="$(echo "$found" | awk '$2 == "RUNNING" { n += $3 } END { print n + 0 }')"
[ -z "$found" ] || scancel --signal=KILL $(echo "$found" | awk '{ print $1 }')
for _ in $(seq 250); do
    [ -z "$(steps)" ] && { echo "$tasks"; exit 0; }
    sleep 0.02
done
echo "$tasks"
exit 1
"""
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
        errors.Invalid: the job asks for no instance at all.
    """
    count = job.spec.instance_count
    if count < 1:
        raise errors.Invalid(fields.INSTANCE_COUNT, f"InstanceCount {count} must be at least 1")
    arguments = [
        f"--job-name={slurm_job_name(job.id)}",
        f"--comment=trainplane {job.name}",
        f"--chdir={run_dir}",
        f"--output={run_dir / 'supervisor.log'}",
        "--open-mode=append",
        f"--nodes={count}",
        f"--ntasks={count}",
    ]
    if count > 1:
        arguments.append("--ntasks-per-node=1")
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


def launch_extras(job: Job, run_dir: Path, settings: SlurmSettings) -> dict[str, Any]:
    """What launch.json tells the supervisor of a job on several nodes (supervisor/delegated.py)."""
    count = job.spec.instance_count
    if count == 1:
        return {}
    srun = ["srun", f"--nodes={count}", f"--ntasks={count}", "--ntasks-per-node=1", "--kill-on-bad-exit=1"]
    # Slurm 22.05's srun no longer inherits sbatch's --cpus-per-task: asked again, per node.
    srun += [
        argument for argument in resource_arguments(job.spec.instance_type, settings) if "cpus" in argument
    ]
    return {
        "command": [*srun, settings.python_executable, "-m", NODE_MODULE, str(run_dir)],
        "pass_environment": ["SLURM_"],  # srun runs inside the allocation, on the cluster we were given
        "signal_commands": {"TERM": ["sh", "-c", TERM_COMMAND], "KILL": ["sh", "-c", KILL_COMMAND]},
    }
