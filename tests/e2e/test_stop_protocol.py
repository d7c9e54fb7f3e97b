"""The stop protocol end to end: races, deadlines, and a server that crashes mid-stop."""

from __future__ import annotations

import concurrent.futures
import os
import time
from pathlib import Path
from typing import Any

import httpx
from botocore.exceptions import ClientError

from tests.e2e.conftest import sagemaker_client, stop_every_job
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
