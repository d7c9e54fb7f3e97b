"""The stop protocol end to end: races, deadlines, and a server that crashes mid-stop."""

from __future__ import annotations

import concurrent.futures
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support import local_jobs
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _raw_describe(url: str, name: str) -> dict[str, Any]:
    response = httpx.post(
        url,
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
        json={"TrainingJobName": name},
    )
    response.raise_for_status()
    return response.json()


def test_fifty_concurrent_stops_deliver_one_sigterm(sm: Any, job_request: Any, tmp_path: Path) -> None:
    request = job_request("count_sigterms.py")
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20, message="job started")

    def stop() -> str:
        try:
            sm.stop_training_job(TrainingJobName=name)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(lambda _: stop(), range(50)))
    assert results.count("ok") == 50, results
    wait_until(lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 20)
    assert len((tmp_path / "markers" / "sigterms").read_text().splitlines()) == 1


def test_server_sigkilled_mid_stop_finishes_at_the_original_deadline(
    tmp_path: Path, job_request: Any
) -> None:
    """reference/peers.md pain 6 and 12: the deadline survives a crash and is never extended."""
    first = ServerProcess(tmp_path / "data")
    url = first.start()
    sm = sagemaker_client(url)
    request = job_request("stubborn.sh", Tags=[{"Key": "trainplane:stop-grace-seconds", "Value": "3"}])
    name, marker = request["TrainingJobName"], request["Environment"]["TEST_MARKER"]
    sm.create_training_job(**request)
    wait_until(lambda: len(_processes_with(marker)) == 2, 20, message="job and its daemon running")

    sm.stop_training_job(TrainingJobName=name)
    details = _raw_describe(url, name)["TrainplaneDetails"]
    assert details["StopGraceSeconds"] == 3
    deadline = details["KillDeadline"]
    first.kill()
    assert len(_processes_with(marker)) == 2, "a dead control plane never kills a job"

    second = ServerProcess(tmp_path / "data")
    url = second.start()
    try:
        sm = sagemaker_client(url)
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 20
        )
        details = _raw_describe(url, name)["TrainplaneDetails"]
        assert details["KillDeadline"] == deadline
        signals = details["Signals"]
        assert deadline <= signals["SigkillTime"] <= deadline + 0.25
        assert signals["SigkillProcesses"] >= 2 and signals["Survivors"] == []
        assert _processes_with(marker) == []
    finally:
        stop_every_job(sm)
        second.kill()


def test_restarted_server_reattaches_to_a_running_job(tmp_path: Path, job_request: Any) -> None:
    first = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(first.start())
    request = job_request()
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20)
    first.kill()
    started = list((tmp_path / "markers").glob("started-*"))
    pid = int(started[0].name.split("-")[1])
    assert os.path.exists(f"/proc/{pid}"), "the job outlived the control plane"

    second = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(second.start())
    try:
        assert sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training"
        sm.stop_training_job(TrainingJobName=name)
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 20
        )
        assert list((tmp_path / "markers").glob("sigterm-*")), "the reattached job got its SIGTERM"
    finally:
        stop_every_job(sm)
        second.kill()


def test_max_runtime_ends_the_job_through_the_stop_protocol(
    sm: Any, job_request: Any, tmp_path: Path
) -> None:
    request = job_request(StoppingCondition={"MaxRuntimeInSeconds": 1})
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 20)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
    assert "ModelArtifacts" in job
    assert list((tmp_path / "markers").glob("sigterm-*")), "max runtime sends SIGTERM first"
    started = time.time()
    assert started - job["TrainingStartTime"].timestamp() >= 1


def test_max_runtime_is_enforced_while_the_server_is_down(tmp_path: Path, job_request: Any) -> None:
    """The supervisor owns the max-runtime deadline: a dead control plane does not extend the job."""
    first = ServerProcess(tmp_path / "data")
    sm = sagemaker_client(first.start())
    request = job_request(StoppingCondition={"MaxRuntimeInSeconds": 2})
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20, message="job started")
    first.kill()

    sigterms = wait_until(lambda: list((tmp_path / "markers").glob("sigterm-*")), 20, message="SIGTERM")
    sigterm_at = float(sigterms[0].read_text())

    second = ServerProcess(tmp_path / "data")
    second_started_at = time.time()
    sm = sagemaker_client(second.start())
    try:
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped", 20
        )
        job = sm.describe_training_job(TrainingJobName=name)
        assert job["SecondaryStatus"] == "MaxRuntimeExceeded"
        assert "ModelArtifacts" in job
        details = _raw_describe(second.url, name)["TrainplaneDetails"]
        assert details["StopReason"] == "max_runtime"
        # SIGTERM came from the supervisor, on time, while no server ran.
        assert 2 <= sigterm_at - job["TrainingStartTime"].timestamp() <= 2.5
        assert details["StopRequestedTime"] < second_started_at
    finally:
        stop_every_job(sm)
        second.kill()


SAVES_THEN_HANGS = """#!/usr/bin/env bash
# Saves its model on SIGTERM, then keeps running with a double-forked daemon: only the kill ends it.
trap 'echo saved > "$SM_MODEL_DIR/model.txt"; touch "$TEST_MARKER_DIR/saved"' TERM
mkdir -p "$TEST_MARKER_DIR"
( setsid bash -c 'trap "" TERM; exec -a "tp-daemon-$TEST_MARKER" sleep 100000' & )
touch "$TEST_MARKER_DIR/started"
while true; do sleep 0.05; done
"""


def _run_dir_of(data_dir: Path, name: str) -> Path:
    for launch in (data_dir / "runs").glob("*/launch.json"):
        if f'"job_name": "{name}"' in launch.read_text():
            return launch.parent
    raise AssertionError(f"no run dir for {name}")


def test_supervisor_sigkilled_mid_stop_is_succeeded_at_the_same_deadline(
    tmp_path: Path, job_request: Any
) -> None:
    """Issue 6: the control plane takes over what a lost supervisor owned: deadline, kill, model, counts."""
    script = tmp_path / "saves_then_hangs.sh"
    script.write_text(SAVES_THEN_HANGS)
    script.chmod(0o755)
    server = ServerProcess(tmp_path / "data")
    url = server.start()
    sm = sagemaker_client(url)
    request = job_request(Tags=[{"Key": "trainplane:stop-grace-seconds", "Value": "3"}])
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = [str(script)]
    name, marker = request["TrainingJobName"], request["Environment"]["TEST_MARKER"]
    try:
        sm.create_training_job(**request)
        wait_until(lambda: (tmp_path / "markers" / "started").exists() and _processes_with(marker), 20)
        sm.stop_training_job(TrainingJobName=name)
        deadline = _raw_describe(url, name)["TrainplaneDetails"]["KillDeadline"]
        wait_until(lambda: (tmp_path / "markers" / "saved").exists(), 10, message="model saved on SIGTERM")
        run_dir = _run_dir_of(tmp_path / "data", name)
        os.kill(json.loads((run_dir / "supervisor.pid").read_text())["pid"], signal.SIGKILL)
        assert _processes_with(marker), "losing the supervisor kills nothing before the deadline"

        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] != "Stopping", 20
        )
        job = sm.describe_training_job(TrainingJobName=name)
        assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "Stopped")
        assert "FailureReason" not in job
        details = _raw_describe(url, name)["TrainplaneDetails"]
        signals = details["Signals"]
        assert details["KillDeadline"] == deadline
        assert deadline <= signals["SigkillTime"] <= deadline + 0.25
        assert signals["SigtermProcesses"] >= 2 and signals["SigkillProcesses"] >= 2
        assert signals["Survivors"] == [] and _processes_with(marker) == []
        model = local_jobs.model_members(job["ModelArtifacts"]["S3ModelArtifacts"])
        assert model["model.txt"] == b"saved\n"
    finally:
        stop_every_job(sm)
        server.kill()


def test_a_stop_whose_model_cannot_be_written_fails_and_says_why(
    sm: Any, job_request: Any, tmp_path: Path
) -> None:
    """Issue 6: status, message and FailureReason tell one story when the model cannot be written."""
    (tmp_path / "blocker").write_text("a file where the output directory should be")
    request = job_request(OutputDataConfig={"S3OutputPath": f"file://{tmp_path / 'blocker' / 'out'}"})
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 20, message="job started")
    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] != "Stopping", 20)
    job = sm.describe_training_job(TrainingJobName=name)
    assert list((tmp_path / "markers").glob("sigterm-*")), "the job was stopped and saved its model"
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    reason = job["FailureReason"]
    assert reason.startswith("ClientError: the job was stopped (user), but the model could not be written")
    assert "Not a directory" in reason
    assert job["SecondaryStatusTransitions"][-1]["StatusMessage"] == reason.removeprefix("ClientError: ")
    # As on SageMaker, ModelArtifacts still names where the model would be; nothing is there.
    assert not Path(job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("file://")).exists()
