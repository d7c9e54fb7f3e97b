"""What the Baseten end-to-end tests share: a server whose image map runs `python:3.11-slim` with this
Python, Baseten API keys from a real credentials file, SDK clients and CreateTrainingJob bodies."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from baseten.client import ManagementClient
from baseten.client import managementapi as api

from tests.support.server import ServerProcess

HERE = Path(__file__).resolve().parent
TRAIN_SCRIPT = HERE / "train.py"
BASE_IMAGE = "python:3.11-slim"
CREDENTIALS_ADD = (sys.executable, "-m", "trainplane.cli.main", "credentials", "add")
ACTIVE = ["TRAINING_JOB_PENDING", "TRAINING_JOB_CREATED", "TRAINING_JOB_DEPLOYING", "TRAINING_JOB_RUNNING"]


def image_map() -> str:
    """`python:3.11-slim` runs start_commands with this environment's Python (what an operator sets)."""
    bin_dir = str(Path(sys.executable).parent)
    path = f"{bin_dir}:{os.environ.get('PATH', os.defpath)}"
    return json.dumps({BASE_IMAGE: {"command": [], "environment": {"PATH": path}}})


def server(data_dir: Path, *extra_args: str) -> ServerProcess:
    return ServerProcess(data_dir, "--images", image_map(), "--stop-grace-seconds", "30", *extra_args)


def add_credential(path: Path, tenant: str, kind: str) -> dict[str, str]:
    """`trainplane credentials add`: the new secret, printed once as JSON."""
    completed = subprocess.run(
        [*CREDENTIALS_ADD, "--file", str(path), "--tenant", tenant, "--kind", kind],
        check=True,
        capture_output=True,
        text=True,
    )
    parsed: dict[str, str] = json.loads(completed.stdout)
    return parsed


def client(url: str, api_key: str = "any-key") -> ManagementClient:
    return ManagementClient(api_key=api_key, base_url_override=url)


def job_request(
    *commands: str, name: str | None = "job-one", **environment: str
) -> api.CreateTrainingJobRequest:
    """A CreateTrainingJob as the SDK sends it."""
    return api.CreateTrainingJobRequest(
        training_job=api.CreateTrainingJob(
            image=api.CreateTrainingJobImage(base_image=BASE_IMAGE),
            compute=api.CreateTrainingJobCompute(cpu_count=1, memory="1Gi"),
            runtime=api.CreateTrainingJobRuntime(
                start_commands=list(commands) or [f"python {TRAIN_SCRIPT}"],
                environment_variables=dict(environment),
                checkpointing_config=api.CreateTrainingJobCheckpointingConfig(enabled=True),
            ),
            name=name,
        )
    )


def upsert(client: ManagementClient, name: str) -> api.TrainingProject:
    request = api.UpsertTrainingProjectRequest(training_project=api.UpsertTrainingProject(name=name))
    return client.api.post_training_projects(request=request).training_project


def status(client: ManagementClient, project_id: str, job_id: str) -> str:
    return client.api.get_training_projects_jobs_training_job_id(
        training_project_id=project_id, training_job_id=job_id
    ).training_job.current_status


def raw_json(response: Any) -> Any:
    return json.loads(response.content)
