"""Issue 10 end to end: a server with a declared inventory of 2 GPUs (`--gpus 0,1`: not real devices)
runs 1-GPU jobs two at a time with disjoint CUDA_VISIBLE_DEVICES; the third waits, saying why, and
starts on the freed device when one is stopped. Stop while queued, and a restart with a queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support.server import SETTINGS_WITH_THE_QUEUE, ServerProcess
from tests.support.waiting import wait_until

GPU_TYPE = "ml.g4dn.xlarge"  # redefined small: the SageMaker dialect accepts only its enum's names
TYPES = {GPU_TYPE: {"vcpus": 1, "memory_gib": 0.5, "gpus": 1}}


def _start(data_dir: Path) -> ServerProcess:
    process = ServerProcess(  # no --queue: it is on by default
        data_dir,
        "--gpus",
        "0,1",
        "--instance-types",
        json.dumps(TYPES),
        "--reserve-memory-mib",
        "0",
        "--stop-grace-seconds",
        "10",
        settings=SETTINGS_WITH_THE_QUEUE,
    )
    process.start()
    return process


@pytest.fixture
def queued_server(tmp_path: Path) -> Iterator[ServerProcess]:
    process = _start(tmp_path / "data")
    yield process
    try:
        stop_every_job(sagemaker_client(process.url))
    finally:
        process.kill()


@pytest.fixture
def gpu_job(job_request: Callable[..., dict[str, Any]], tmp_path: Path) -> Callable[..., dict[str, Any]]:
    def build(**overrides: Any) -> dict[str, Any]:
        request = job_request("report_devices.py", name=f"gpu-{uuid.uuid4().hex[:10]}", **overrides)
        request["ResourceConfig"]["InstanceType"] = GPU_TYPE
        return request

    return build


def _status(sm: Any, name: str) -> str:
    return str(sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"])


def _raw_details(server: ServerProcess, name: str) -> dict[str, Any]:
    import httpx

    response = httpx.post(
        server.url,
        headers={
            "X-Amz-Target": "SageMaker.DescribeTrainingJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
        json={"TrainingJobName": name},
    )
    details: dict[str, Any] = response.json()["TrainplaneDetails"]
    return details


def _devices_seen(request: dict[str, Any]) -> str | None:
    mark = Path(request["Environment"]["TEST_MARKER_DIR"]) / request["Environment"]["TEST_MARKER"]
    return mark.read_text() if mark.exists() else None


def test_declared_gpus_two_run_on_disjoint_devices_and_the_third_waits(
    queued_server: ServerProcess, gpu_job: Callable[..., dict[str, Any]]
) -> None:
    sm = sagemaker_client(queued_server.url)
    first, second, third = gpu_job(), gpu_job(), gpu_job()
    for request in (first, second):
        sm.create_training_job(**request)
        wait_until(lambda r=request: _devices_seen(r), 60, message="a GPU job ran")  # type: ignore[misc]
    sm.create_training_job(**third)
    assert {_devices_seen(first), _devices_seen(second)} == {"0", "1"}

    def waiting_message() -> str | None:  # written by the reconciler just after the create returns
        doc = sm.describe_training_job(TrainingJobName=third["TrainingJobName"])
        message = str(doc["SecondaryStatusTransitions"][-1]["StatusMessage"])
        return message if message.startswith("waiting for") else None

    assert wait_until(waiting_message, 30).startswith("waiting for 1 GPU: 0 of 2 free")
    waiting = sm.describe_training_job(TrainingJobName=third["TrainingJobName"])
    assert (waiting["TrainingJobStatus"], waiting["SecondaryStatus"]) == ("InProgress", "Starting")
    assert _raw_details(queued_server, first["TrainingJobName"])["Resources"]["Gpus"] == [
        _devices_seen(first)
    ]

    sm.stop_training_job(TrainingJobName=first["TrainingJobName"])
    wait_until(lambda: _devices_seen(third), 60, message="the third job started")
    assert _devices_seen(third) == _devices_seen(first)  # the freed device, and only it
    assert _raw_details(queued_server, third["TrainingJobName"])["Resources"]["Gpus"] == [
        _devices_seen(third)
    ]


def test_stop_while_queued_is_stopped_at_once_and_never_spawned(
    queued_server: ServerProcess, gpu_job: Callable[..., dict[str, Any]]
) -> None:
    sm = sagemaker_client(queued_server.url)
    running = [gpu_job(), gpu_job()]
    for request in running:
        sm.create_training_job(**request)
    for request in running:
        wait_until(lambda r=request: _devices_seen(r), 60, message="a GPU job ran")  # type: ignore[misc]
    queued = gpu_job()
    sm.create_training_job(**queued)
    sm.stop_training_job(TrainingJobName=queued["TrainingJobName"])
    wait_until(lambda: _status(sm, queued["TrainingJobName"]) == "Stopped", 15, message="Stopped at once")
    assert _devices_seen(queued) is None
    assert all(_status(sm, r["TrainingJobName"]) == "Training" for r in running)


def test_the_queue_survives_a_restart(tmp_path: Path, gpu_job: Callable[..., dict[str, Any]]) -> None:
    server = _start(tmp_path / "data")
    sm = sagemaker_client(server.url)
    requests = [gpu_job() for _ in range(3)]
    try:
        for request in requests:
            sm.create_training_job(**request)
        wait_until(lambda: sum(_devices_seen(r) is not None for r in requests) == 2, 60, message="two ran")
        waiting = next(r for r in requests if _devices_seen(r) is None)
        server.kill()
        server = _start(tmp_path / "data")  # the jobs ran on; the queue is read back from the store
        sm = sagemaker_client(server.url)
        assert _status(sm, waiting["TrainingJobName"]) == "Starting"
        assert _devices_seen(waiting) is None  # the two running jobs still hold both devices
        holder = next(r for r in requests if r is not waiting)
        sm.stop_training_job(TrainingJobName=holder["TrainingJobName"])
        wait_until(lambda: _devices_seen(waiting), 60, message="the queued job started after the restart")
        assert _devices_seen(waiting) == _devices_seen(holder)
    finally:
        try:
            stop_every_job(sm)
        finally:
            server.kill()
