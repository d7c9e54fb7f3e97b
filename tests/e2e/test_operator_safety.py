"""Hostile requests and operator mistakes against a real server: nothing escapes, nothing is lost."""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support.server import ServerProcess, serve_command
from tests.support.waiting import wait_until

FINISHED = ("Completed", "Failed", "Stopped")


def _status(sm: Any, name: str) -> str:
    status: str = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return status


def _refused_field(sm: Any, request: dict[str, Any]) -> str:
    with pytest.raises(sm.exceptions.ClientError) as caught:
        sm.create_training_job(**request)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException", error
    message: str = error["Message"]
    return message


@pytest.mark.parametrize(
    "output",
    [
        "/",
        "/etc",
        "file:///etc",
        "file:///../../etc",
        "file://localhost/etc",
        "file:///tmp/%2e%2e/etc",
        "file:///tmp/%2E%2E/%2e%2e/etc/cron.d",
    ],
)
def test_an_output_outside_the_allowed_roots_is_refused_at_create(
    sm: Any, job_request: Any, output: str
) -> None:
    request = job_request(OutputDataConfig={"S3OutputPath": output})
    assert "outputDataConfig.s3OutputPath" in _refused_field(sm, request)


@pytest.mark.parametrize("server", ["sqlite"], indirect=True)  # the database file is SQLite's
def test_the_servers_own_database_is_never_an_output_a_channel_or_a_local_path(
    sm: Any, server: ServerProcess, job_request: Any, tmp_path: Path
) -> None:
    database = server.data_dir / "trainplane.db"
    before = database.stat()
    output = job_request(OutputDataConfig={"S3OutputPath": f"file://{database}"})
    assert "outputDataConfig.s3OutputPath" in _refused_field(sm, output)
    runs = job_request(OutputDataConfig={"S3OutputPath": str(server.data_dir / "runs")})
    assert "outputDataConfig.s3OutputPath" in _refused_field(sm, runs)
    local_path = job_request(
        CheckpointConfig={"S3Uri": f"file://{tmp_path}/ckpt", "LocalPath": str(database)}
    )
    assert "checkpointConfig.localPath" in _refused_field(sm, local_path)
    relative = job_request(
        CheckpointConfig={"S3Uri": str(tmp_path / "ckpt"), "LocalPath": "/opt/ml/../.." + str(database)}
    )
    assert "checkpointConfig.localPath" in _refused_field(sm, relative)
    channel = {
        "ChannelName": "db",
        "DataSource": {"S3DataSource": {"S3Uri": str(database), "S3DataType": "S3Prefix"}},
    }
    assert "s3DataSource.s3Uri" in _refused_field(sm, job_request(InputDataConfig=[channel]))
    after = database.stat()
    assert (after.st_ino, after.st_dev) == (before.st_ino, before.st_dev) and not database.is_symlink()


@pytest.mark.parametrize(
    ("name", "source"), [("..", "/tmp"), ("train", "/etc/shadow"), ("train", "file:///etc")]
)
def test_a_channel_that_escapes_is_refused_at_create(
    sm: Any, job_request: Any, name: str, source: str
) -> None:
    channel = {
        "ChannelName": name,
        "DataSource": {"S3DataSource": {"S3Uri": source, "S3DataType": "S3Prefix"}},
    }
    message = _refused_field(sm, job_request(InputDataConfig=[channel]))
    assert "inputDataConfig.1.member" in message


def test_the_largest_valid_hyperparameters_run_to_completed(
    sm: Any, job_request: Any, tmp_path: Path
) -> None:
    """SageMaker allows 100 hyperparameters of 2,500 characters: more than one env var may hold."""
    hyperparameters = {f"param_{index:03d}": f"{index:03d}" + "v" * 2497 for index in range(100)}
    script = tmp_path / "check_hps.py"
    script.write_text(
        "import json, os, pathlib\n"
        "hps = json.load(open(os.environ['SM_INPUT_CONFIG_DIR'] + '/hyperparameters.json'))\n"
        "assert len(hps) == 100 and all(len(v) == 2500 for v in hps.values())\n"
        "assert os.environ['SM_HP_PARAM_099'].startswith('099')\n"
        "omitted = os.environ['TRAINPLANE_OMITTED_ENV']\n"
        "pathlib.Path(os.environ['SM_MODEL_DIR'], 'seen.txt').write_text(omitted)\n"
    )
    request = job_request(HyperParameters=hyperparameters)
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["python", str(script)]
    sm.create_training_job(**request)
    name = request["TrainingJobName"]
    status = wait_until(lambda: (s := _status(sm, name)) in FINISHED and s, 60, 0.1)
    described = sm.describe_training_job(TrainingJobName=name)
    assert status == "Completed", described.get("FailureReason")
    with tarfile.open(tmp_path / "output" / name / "output" / "model.tar.gz") as archive:
        seen = archive.extractfile("seen.txt")
        assert seen is not None and "SM_HPS" in seen.read().decode()


def test_a_second_server_on_the_same_data_dir_is_refused(server: ServerProcess) -> None:
    socket_before = (server.data_dir / "notify.sock").stat().st_ino
    result = subprocess.run(
        serve_command(server.data_dir),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "in use by another trainplane server" in result.stderr, (
        result.stderr
    )
    assert (server.data_dir / "notify.sock").stat().st_ino == socket_before, (
        "the notify socket was taken over"
    )


def test_sigterm_shuts_the_server_down_cleanly_and_jobs_keep_running(
    tmp_path: Path, job_request: Any
) -> None:
    first = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(first.start())
    request = job_request()
    sm.create_training_job(**request)
    started = wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20)
    job_pid = int(started[0].name.split("-")[1])

    assert first.terminate() == 0, first.logs()
    assert "Traceback" not in first.logs()
    assert not (tmp_path / "data" / "notify.sock").exists()
    assert os.path.exists(f"/proc/{job_pid}"), "the job outlived the server"
    with open(tmp_path / "data" / "server.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released: this would raise if still held
        fcntl.flock(lock, fcntl.LOCK_UN)

    second = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(second.start())
    try:
        assert _status(sm, request["TrainingJobName"]) == "InProgress"
    finally:
        stop_every_job(sm)
        second.kill()


def _marker(data_dir: Path) -> dict[str, Any]:
    try:
        marker: dict[str, Any] = json.loads((data_dir / "store-id.json").read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return marker


@pytest.fixture
def server_with_jobs(tmp_path: Path, job_request: Any) -> Iterator[ServerProcess]:
    """A server that has created three quick jobs (finished) and recorded them in its marker."""
    process = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(process.start())
    for _ in range(3):
        request = job_request()
        request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["python", "-c", "print('done')"]
        sm.create_training_job(**request)
    wait_until(lambda: _marker(tmp_path / "data").get("jobs_created", 0) >= 3, 20, 0.05)
    yield process
    process.kill()


def _restart_refused(data_dir: Path, *words: str) -> None:
    result = subprocess.run(serve_command(data_dir), capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "listening" not in result.stdout
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "Traceback" not in result.stderr, result.stderr
    for word in words:
        assert word in error[0]


def test_a_database_replaced_by_an_empty_one_is_noticed_at_start(server_with_jobs: ServerProcess) -> None:
    data_dir = server_with_jobs.data_dir
    server_with_jobs.kill()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{data_dir / 'trainplane.db'}{suffix}").unlink(missing_ok=True)
    (data_dir / "trainplane.db").write_bytes(b"")
    _restart_refused(data_dir, "new or empty", "3 jobs")


def test_a_wal_deleted_under_the_running_server_is_noticed_at_the_next_start(
    server_with_jobs: ServerProcess,
) -> None:
    data_dir = server_with_jobs.data_dir
    Path(f"{data_dir / 'trainplane.db'}-wal").unlink()
    server_with_jobs.kill()
    _restart_refused(data_dir, "restore the database")


def test_a_damaged_database_is_noticed_at_start(server_with_jobs: ServerProcess) -> None:
    data_dir = server_with_jobs.data_dir
    server_with_jobs.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    server_with_jobs.process.wait(30)  # type: ignore[union-attr]
    with open(data_dir / "trainplane.db", "r+b") as database:
        database.write(b"not a database at all" * 10)
    _restart_refused(data_dir, "trainplane.db")


def test_a_restart_on_an_intact_database_serves_every_job(server_with_jobs: ServerProcess) -> None:
    data_dir = server_with_jobs.data_dir
    server_with_jobs.kill()
    again = ServerProcess(data_dir)
    sm = sagemaker_client(again.start())
    try:
        assert len(sm.list_training_jobs()["TrainingJobSummaries"]) == 3
    finally:
        again.kill()


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may traverse (pytest's own temp dirs are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="trainplane-run-as-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.skipif(os.getuid() != 0, reason="only a root server can run jobs as another user")
def test_jobs_run_as_the_configured_user_with_a_clean_environment(shared_dir: Path, job_request: Any) -> None:
    nobody = pwd.getpwnam("nobody")
    server = ServerProcess(
        shared_dir / "data",
        "--allowed-roots",
        str(shared_dir),
        "--run-as-user",
        "nobody",
        env={"TRAINPLANE_TEST_SECRET": "server-only", "AWS_SECRET_ACCESS_KEY": "server-only"},
    )
    sm = sagemaker_client(server.start())
    try:
        request = job_request(
            OutputDataConfig={"S3OutputPath": f"file://{shared_dir}/output"},
            CheckpointConfig={"S3Uri": f"file://{shared_dir}/checkpoints"},
        )
        script = (
            'id -u; id -G; env | sort > "$SM_MODEL_DIR/env.txt"; echo saved > "$SM_CHECKPOINT_DIR/step-1"'
        )
        request["AlgorithmSpecification"]["ContainerEntrypoint"] = ["/bin/sh", "-c", script]
        name = request["TrainingJobName"]
        sm.create_training_job(**request)
        status = wait_until(lambda: (s := _status(sm, name)) in FINISHED and s, 60, 0.1)
        assert status == "Completed", sm.describe_training_job(TrainingJobName=name).get("FailureReason")
        log = subprocess.run(
            [sys.executable, "-m", "trainplane.cli.main", "logs", name],
            capture_output=True,
            text=True,
            env={**os.environ, "TRAINPLANE_ENDPOINT_URL": server.url},
            check=True,
        ).stdout.split()
        assert log[:2] == [str(nobody.pw_uid), str(nobody.pw_gid)], log
        checkpoint = shared_dir / "checkpoints" / "step-1"
        assert checkpoint.read_text() == "saved\n" and checkpoint.stat().st_uid == nobody.pw_uid
        with tarfile.open(shared_dir / "output" / name / "output" / "model.tar.gz") as archive:
            member = archive.extractfile("env.txt")
            assert member is not None
            env = dict(line.split("=", 1) for line in member.read().decode().splitlines() if "=" in line)
        assert "TRAINPLANE_TEST_SECRET" not in env and "AWS_SECRET_ACCESS_KEY" not in env
        assert env["HOME"] == nobody.pw_dir and env["USER"] == "nobody"
    finally:
        stop_every_job(sm)
        server.kill()


def test_a_second_signal_exits_at_once_while_a_request_holds_the_graceful_shutdown(
    tmp_path: Path, job_request: Any
) -> None:
    first = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(first.start())
    request = job_request()
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20)
    follow = httpx.stream(
        "GET", f"{first.url}/trainplane/v1/training-jobs/{name}/logs?follow=true", timeout=30
    )
    response = follow.__enter__()  # a followed log of a running job: the graceful shutdown waits for it
    try:
        assert response.status_code == 200
        assert first.process is not None
        first.process.send_signal(signal.SIGTERM)
        wait_until(lambda: "event=server_stopping" in first.logs(), 10, message="first signal handled")
        assert first.process.poll() is None, "the graceful shutdown waits for the followed log"
        signalled_at = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(30) == 1
        assert time.monotonic() - signalled_at < 5, "the second signal did not exit at once"
    finally:
        follow.__exit__(None, None, None)
        first.kill()
    second = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(second.start())
    try:
        assert _status(sm, name) == "InProgress", "the job kept running through both signals"
    finally:
        stop_every_job(sm)
        second.kill()
