"""Two `trainplane serve` replicas on one PostgreSQL: one is SIGKILLed while 20 stops are in flight.

Issue 9: every job ends `Stopped` exactly once, and each job counts exactly one SIGTERM (its TERM
handler appends a line to a file): no stop lost, none repeated, no job launched twice.
"""

from __future__ import annotations

import concurrent.futures
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.e2e.conftest import sagemaker_client, stop_every_job
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

JOB_COUNT = 20
TIMEOUT_SECONDS = 60
STOPS_BEFORE_THE_KILL = 4  # the kill lands while the other stops are still being sent


def _replica(data_dir: Path, replica_id: str, database_url: str) -> ServerProcess:
    return ServerProcess(
        data_dir,
        "--stop-grace-seconds",
        "30",
        "--database-url",
        database_url,
        "--replica-id",
        replica_id,
        env={"TRAINPLANE_RECONCILE_INTERVAL_SECONDS": "1"},
    )


@pytest.fixture
def replicas(postgres_url: str, tmp_path: Path) -> Iterator[list[ServerProcess]]:
    started = [_replica(tmp_path / name, name, postgres_url) for name in ("replica-a", "replica-b")]
    for process in started:
        process.start()
    yield started
    try:
        stop_every_job(sagemaker_client(started[1].url))
    finally:
        for process in started:
            process.kill()


def _request(job_request: Any, tmp_path: Path, index: int) -> dict[str, Any]:
    request: dict[str, Any] = job_request(
        "count_sigterms.py", name=f"replicas-{index}-{uuid.uuid4().hex[:6]}"
    )
    request["Environment"] = {
        "TEST_MARKER_DIR": str(tmp_path / "markers" / str(index)),
        "LINGER_SECONDS": "0.5",
    }
    return request


def _count(tmp_path: Path, index: int) -> tuple[int, int]:
    """(starts, SIGTERMs) the job with this index recorded."""
    directory = tmp_path / "markers" / str(index)
    sigterms = directory / "sigterms"
    return len(list(directory.glob("started-*"))), (
        len(sigterms.read_text().splitlines()) if sigterms.exists() else 0
    )


def test_killing_a_replica_while_twenty_stops_are_in_flight_loses_and_repeats_none(
    replicas: list[ServerProcess], postgres_url: str, job_request: Any, tmp_path: Path
) -> None:
    clients = [sagemaker_client(process.url) for process in replicas]
    names = []
    for index in range(JOB_COUNT):
        request = _request(job_request, tmp_path, index)
        clients[index % 2].create_training_job(**request)
        names.append(request["TrainingJobName"])
    for index in range(JOB_COUNT):
        wait_until(
            lambda index=index: _count(tmp_path, index)[0] >= 1, TIMEOUT_SECONDS, message=f"{index} ran"
        )

    answered = threading.Semaphore(0)

    def stop(index: int) -> str:
        try:
            clients[index % 2].stop_training_job(TrainingJobName=names[index])
            answered.release()
            return "first"
        except (BotoCoreError, ClientError):  # replica A was killed under this request: ask B
            clients[1].stop_training_job(TrainingJobName=names[index])
            answered.release()
            return "retried"

    with concurrent.futures.ThreadPoolExecutor(JOB_COUNT) as pool:
        futures = [pool.submit(stop, index) for index in range(JOB_COUNT)]
        for _ in range(STOPS_BEFORE_THE_KILL):
            assert answered.acquire(timeout=TIMEOUT_SECONDS)
        replicas[0].kill()  # SIGKILL: no shutdown, its requests cut off mid-flight
        outcomes = [future.result() for future in futures]
    assert len(outcomes) == JOB_COUNT

    # The killed replica comes back on its data dir, as the same replica, and finishes its jobs' stops.
    replicas[0] = _replica(replicas[0].data_dir, "replica-a", postgres_url)
    replicas[0].start()

    def stopped() -> bool:
        return all(
            clients[1].describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
            for name in names
        )

    wait_until(stopped, TIMEOUT_SECONDS, 0.2, message="every job Stopped")
    for index, name in enumerate(names):
        described = sagemaker_client(replicas[index % 2].url).describe_training_job(TrainingJobName=name)
        secondary = [step["Status"] for step in described["SecondaryStatusTransitions"]]
        assert secondary.count("Stopped") == 1, (name, secondary)
        assert _count(tmp_path, index) == (1, 1), (name, replicas[0].logs()[-3000:])


def test_any_replica_answers_for_a_job_another_one_runs(
    replicas: list[ServerProcess], job_request: Any, tmp_path: Path
) -> None:
    """Create on one replica; describe, list, tag and stop on the other; both tell the same story."""
    first, second = (sagemaker_client(process.url) for process in replicas)
    request = job_request("count_sigterms.py", Tags=[{"Key": "team", "Value": "vision"}])
    request["Environment"]["LINGER_SECONDS"] = "0.2"
    name = request["TrainingJobName"]
    arn = first.create_training_job(**request)["TrainingJobArn"]
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), TIMEOUT_SECONDS, message="job ran")
    assert second.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "InProgress"
    listed = second.list_training_jobs(NameContains=name)["TrainingJobSummaries"]
    assert [summary["TrainingJobName"] for summary in listed] == [name]
    second.add_tags(ResourceArn=arn, Tags=[{"Key": "stage", "Value": "dev"}])
    assert {tag["Key"] for tag in first.list_tags(ResourceArn=arn)["Tags"]} == {"team", "stage"}

    second.stop_training_job(TrainingJobName=name)  # persisted here; the claimant delivers it
    wait_until(
        lambda: first.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped",
        TIMEOUT_SECONDS,
        message="Stopped",
    )
    assert second.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    sigterms = tmp_path / "markers" / "sigterms"
    assert len(sigterms.read_text().splitlines()) == 1


def test_fifty_concurrent_stops_over_both_replicas_deliver_one_sigterm(
    replicas: list[ServerProcess], job_request: Any, tmp_path: Path
) -> None:
    """The compare-and-swap on PostgreSQL, raced from two servers: one intent, one SIGTERM."""
    clients = [sagemaker_client(process.url) for process in replicas]
    request = job_request("count_sigterms.py")
    request["Environment"]["LINGER_SECONDS"] = "0.5"
    name = request["TrainingJobName"]
    clients[0].create_training_job(**request)
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), TIMEOUT_SECONDS, message="job ran")
    barrier = threading.Barrier(50)

    def stop(index: int) -> None:
        barrier.wait()
        clients[index % 2].stop_training_job(TrainingJobName=name)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        list(pool.map(stop, range(50)))  # every call succeeds: one requested, the rest already stopping
    wait_until(
        lambda: clients[1].describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped",
        TIMEOUT_SECONDS,
        message="Stopped",
    )
    described = clients[0].describe_training_job(TrainingJobName=name)
    secondary = [step["Status"] for step in described["SecondaryStatusTransitions"]]
    assert secondary.count("Stopping") == 1 and secondary.count("Stopped") == 1, secondary
    assert len((tmp_path / "markers" / "sigterms").read_text().splitlines()) == 1
