"""launch.json: what every launcher (local, Slurm, Ray) hands the supervisor it starts."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from trainplane.artifacts.environment import job_environment
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import pinned_output_root
from trainplane.domain import documents
from trainplane.domain.job import Job
from trainplane.executors.supervisor import run_dir, status_file


def write(
    job: Job,
    directory: run_dir.RunDir,
    notify_socket_path: str | None,
    run_as: Mapping[str, Any] | None,
    environment_overrides: Mapping[str, str] | None = None,
    **extra: Any,
) -> None:
    """What the supervisor runs: the job's spec and the environment the job gets (SM_* and the rest).

    `extra`: launcher-specific members (e.g. usage_interval_seconds), read by the supervisor with a default.
    """
    layout = JobLayout(directory.base_dir)
    base_env = dict(os.environ)  # job_environment keeps only its allow-list of it
    if run_as is not None:
        base_env.update(HOME=run_as["home"], USER=run_as["user"], LOGNAME=run_as["user"])
    environment = job_environment(
        job_name=job.name, job_arn=job.arn, spec=job.spec, layout=layout, base_env=base_env
    )
    environment.update(environment_overrides or {})  # what the job was given (SM_NUM_CPUS, GPUs)
    status_file.write_atomic(
        directory.launch_file,
        {
            "job_id": job.id,
            "job_name": job.name,
            "job_arn": job.arn,
            "spec": documents.spec_to_dict(job.spec),
            "environment": environment,
            "notify_socket_path": notify_socket_path,
            "run_as": None if run_as is None else dict(run_as),
            # Packaging walks this real path, following no link the job made (docs/hostile-input.md).
            "output_root_real": pinned_output_root(job.spec.output_uri),
            **extra,
        },
        # Not fsynced (on the create path): a power loss that could lose it also loses the launch,
        # and the job is then reported lost.
        is_durable=False,
    )
