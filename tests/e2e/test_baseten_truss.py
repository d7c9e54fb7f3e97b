"""The real truss CLI (in its own .venv-truss) against a real server, through the URL-map shim
(tests/baseten/truss_local.py, reference §3.1): view, logs, checkpoints list, stop and recreate on a
job that runs, writes a checkpoint and is stopped with its checkpoints kept."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from baseten.client import ManagementClient

from tests.baseten import wire
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]
TRUSS_PYTHON = REPO / ".venv-truss" / "bin" / "python"
SHIM = REPO / "tests" / "baseten" / "truss_local.py"
API_KEY = "test-key-123"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = wire.server(tmp_path_factory.mktemp("baseten-truss"))
    process.start()
    yield process
    process.kill()


class Truss:
    def __init__(self, env: dict[str, str]) -> None:
        self.env = env

    def __call__(self, *args: str, exit_code: int = 0) -> str:
        completed = subprocess.run(
            [str(TRUSS_PYTHON), str(SHIM), "train", *args, "--remote", "local"],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        output = completed.stdout + completed.stderr
        assert completed.returncode == exit_code, output
        return output


@pytest.fixture(scope="module")
def truss(server: ServerProcess, tmp_path_factory: pytest.TempPathFactory) -> Truss:
    """`truss <args>` as a user runs it, with a ~/.trussrc naming the server; nothing outside tmp."""
    assert TRUSS_PYTHON.exists(), "truss is missing: scripts/install puts it in .venv-truss"
    home = tmp_path_factory.mktemp("truss-home")
    trussrc = home / "trussrc"
    trussrc.write_text(
        f"[local]\nremote_provider = baseten\napi_key = {API_KEY}\nremote_url = {server.url}\n"
    )
    env = {
        **os.environ,
        "USER_TRUSSRC_PATH": str(trussrc),
        "TRUSS_NO_UPDATE_CHECK": "1",
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "TRAINPLANE_BASETEN_URL": server.url,
        "COLUMNS": "250",
    }

    return Truss(env)


@pytest.fixture(scope="module")
def sdk(server: ServerProcess) -> Iterator[ManagementClient]:
    with wire.client(server.url) as client:
        yield client


def test_truss_views_logs_lists_checkpoints_stops_and_recreates_a_running_job(
    sdk: ManagementClient, truss: Truss
) -> None:
    run = truss
    project = wire.upsert(sdk, "truss-project")
    job = sdk.api.post_training_projects_jobs(
        training_project_id=project.id, request=wire.job_request(name="truss-job")
    ).training_job
    wait_until(lambda: wire.status(sdk, project.id, job.id) == "TRAINING_JOB_RUNNING", 60, 0.1)

    viewed = run("view", "--job-id", job.id)
    assert job.id in viewed and "TRAINING_JOB_RUNNING" in viewed and "checkpoint-1" in viewed
    listed = run("view")
    assert "truss-project" in listed

    logs = run("logs", "--project-id", project.id, "--job-id", job.id)
    assert "training truss-job started" in logs and "step=1" in logs

    checkpoints = run("checkpoints", "list", "--project-id", project.id, "--job-id", job.id)
    assert "checkpoint-1" in checkpoints

    stopped = run("stop", "--job-id", job.id, "--non-interactive")
    assert "stopped" in stopped.lower()
    wait_until(lambda: wire.status(sdk, project.id, job.id) == "TRAINING_JOB_STOPPED", 60, 0.1)
    kept = run("checkpoints", "list", "--project-id", project.id, "--job-id", job.id)
    assert "checkpoint-1" in kept and "checkpoint-final" in kept
    assert "No queued or running jobs" in run("stop", "--job-id", job.id, "--non-interactive", exit_code=2)

    recreated = run("recreate", "--job-id", job.id)
    jobs = sdk.api.get_training_projects_jobs(training_project_id=project.id).training_jobs
    assert len(jobs) == 2 and jobs[0].id != job.id and jobs[0].id in recreated
    run("stop", "--project-id", project.id, "--job-id", jobs[0].id, "--non-interactive")
    wait_until(lambda: wire.status(sdk, project.id, jobs[0].id) == "TRAINING_JOB_STOPPED", 60, 0.1)


PUSH_CONFIG = REPO / "tests" / "baseten" / "push_project" / "config.py"


def test_truss_push_uploads_the_code_and_runs_it_there(sdk: ManagementClient, truss: Truss) -> None:
    pushed = truss("push", str(PUSH_CONFIG), "--non-interactive")
    assert "successfully created" in pushed
    project = next(p for p in sdk.api.get_training_projects().training_projects if p.name == "pushed-project")
    assert project.latest_job is not None and project.latest_job.name == "pushed-job"
    job_id = project.latest_job.id

    def logs() -> str | None:
        text = truss("logs", "--project-id", project.id, "--job-id", job_id)
        return text if "next to config.py: True" in text else None

    text = wait_until(logs, 60, 0.5, message="the pushed code runs from its own directory")
    assert "pushed code running in code with EPOCHS=3" in text
    assert "checkpoint-1" in truss("checkpoints", "list", "--project-id", project.id, "--job-id", job_id)
    truss("stop", "--project-id", project.id, "--job-id", job_id, "--non-interactive")
    wait_until(lambda: wire.status(sdk, project.id, job_id) == "TRAINING_JOB_STOPPED", 60, 0.1)
