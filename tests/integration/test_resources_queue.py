"""Issue 10 on the real service, reconciler, SQLite file and processes: one slot (the host's 2 CPUs, a
2-vCPU type) and the order the queue gives it: priority first, then fair between tenants."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.config import Settings
from trainplane.domain import errors
from trainplane.domain.status import JobKind, Secondary
from trainplane.server import ControlPlane, build
from trainplane.service.capacity import PRIORITY_TAG
from trainplane.service.jobs import NewJob

CPUS = len(os.sched_getaffinity(0))
# Records when it started (its marker file), then runs until SIGTERM.
STARTS_THEN_WAITS = (
    "import os, pathlib, signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "pathlib.Path(os.environ['MARKER']).write_text(repr(time.time()))\n"
    "while True: time.sleep(0.05)\n"
)


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    # The whole host is one slot: a type with all of its CPUs.
    types = {
        "ml.m5.large": {"vcpus": CPUS, "memory_gib": 0.25},
        "ml.c5.xlarge": {"vcpus": CPUS + 1, "memory_gib": 1},
    }
    settings = Settings(
        data_dir=tmp_path / "data",
        allowed_roots=(tmp_path,),
        reconcile_interval_seconds=1,
        stop_grace_seconds=10,
        queue=True,
        instance_types=json.dumps(types),
        reserve_memory_mib=0,
    )
    built = build(settings)
    built.reconciler.recover()
    built.reconciler.start()
    yield built
    built.close()
    local_jobs.kill_leftovers(settings.runs_dir)


def _create(plane: ControlPlane, tmp_path: Path, tenant: str, name: str, **tags: str) -> None:
    plane.service.create(
        tenant,
        NewJob(
            name=name,
            kind=JobKind.TRAINING,
            dialect="test",
            image="trainplane/python",
            request={"TrainingJobName": name},
            entrypoint=("python", "-c", STARTS_THEN_WAITS),
            output_uri=f"file://{tmp_path / 'out'}",
            environment={"MARKER": str(tmp_path / f"started-{name}")},
            tags=tags,
        ),
    )


def _started(tmp_path: Path) -> list[str]:
    marks = sorted(tmp_path.glob("started-*"), key=lambda mark: float(mark.read_text() or "inf"))
    return [mark.name.removeprefix("started-") for mark in marks]


def _run_one_at_a_time(plane: ControlPlane, tmp_path: Path, tenants: dict[str, str], count: int) -> list[str]:
    """Stop whichever job holds the slot until `count` jobs have run; their names in start order."""
    for ran in range(1, count + 1):
        wait_until(lambda n=ran: len(_started(tmp_path)) >= n, 60, message=f"{ran} jobs started")  # type: ignore[misc]
        assert len(_started(tmp_path)) == ran  # one slot: never two at once
        holder = _started(tmp_path)[-1]
        plane.service.stop(tenants[holder], JobKind.TRAINING, holder)
        wait_until(
            lambda h=holder: (
                plane.service.describe(tenants[h], JobKind.TRAINING, h).status  # type: ignore[misc]
                is Secondary.STOPPED
            ),
            30,
        )
    return _started(tmp_path)


def test_higher_priority_runs_first_whenever_it_came(plane: ControlPlane, tmp_path: Path) -> None:
    tenants = {name: "t" for name in ("blocker", "low-1", "low-2", "high")}
    _create(plane, tmp_path, "t", "blocker")
    wait_until(lambda: _started(tmp_path) == ["blocker"], 60)
    _create(plane, tmp_path, "t", "low-1")
    _create(plane, tmp_path, "t", "low-2")
    _create(plane, tmp_path, "t", "high", **{PRIORITY_TAG: "5"})
    wait_until(
        lambda: (
            plane.service.describe("t", JobKind.TRAINING, "low-2")
            .history[-1]
            .message.startswith(f"waiting for {CPUS} CPUs: 0 of {CPUS} free")
        ),
        30,
        message="the queued job says what it waits for",
    )
    assert plane.service.describe("t", JobKind.TRAINING, "low-2").status is Secondary.STARTING
    assert _run_one_at_a_time(plane, tmp_path, tenants, 4) == ["blocker", "high", "low-1", "low-2"]


def test_one_slot_is_shared_fairly_between_tenants(plane: ControlPlane, tmp_path: Path) -> None:
    tenants = {"a-0": "a", "a-1": "a", "a-2": "a", "b-1": "b"}
    _create(plane, tmp_path, "a", "a-0")
    wait_until(lambda: _started(tmp_path) == ["a-0"], 60)
    for name in ("a-1", "a-2", "b-1"):
        _create(plane, tmp_path, tenants[name], name)
    # b came last but a has just had the slot: b goes next, then a's in their order.
    assert _run_one_at_a_time(plane, tmp_path, tenants, 4) == ["a-0", "b-1", "a-1", "a-2"]


def test_a_type_larger_than_the_host_is_refused_at_create(plane: ControlPlane, tmp_path: Path) -> None:
    request = NewJob(
        name="too-big",
        kind=JobKind.TRAINING,
        dialect="test",
        image="trainplane/python",
        request={},
        entrypoint=("python", "-c", "pass"),
        output_uri=f"file://{tmp_path / 'out'}",
        instance_type="ml.c5.xlarge",
    )
    with pytest.raises(errors.Invalid) as refused:
        plane.service.create("t", request)
    assert refused.value.field == "instance_type"
    assert "can never run on this host" in refused.value.reason
    unknown = NewJob(**{**request.__dict__, "instance_type": "ml.g7e.2xlarge"})
    with pytest.raises(errors.Invalid, match="--instance-types"):
        plane.service.create("t", unknown)


WARNED_THEN_WAITS = (
    "import os, pathlib, signal, sys, time\n"
    "from trainplane import runtime\n"
    "runtime.watch_warning()\n"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))\n"
    "pathlib.Path(os.environ['MARKER']).write_text(repr(time.time()))\n"
    "while not runtime.warning_received(): time.sleep(0.02)\n"
    "pathlib.Path(os.environ['MARKER'] + '-warned').write_text(repr(runtime.time_left_seconds()))\n"
    "while True: time.sleep(0.05)\n"
)


def _request(tmp_path: Path, name: str, script: str, **changes: object) -> NewJob:
    request = NewJob(
        name=name,
        kind=JobKind.TRAINING,
        dialect="test",
        image="trainplane/python",
        request={"TrainingJobName": name},
        entrypoint=("python", "-c", script),
        output_uri=f"file://{tmp_path / 'out'}",
        environment={"MARKER": str(tmp_path / f"started-{name}")},
    )
    return NewJob(**{**request.__dict__, **changes})  # type: ignore[arg-type]


def test_job_is_warned_with_sigusr1_before_its_max_runtime(plane: ControlPlane, tmp_path: Path) -> None:
    tags = {"trainplane:max-runtime-warning-seconds": "2"}
    plane.service.create(
        "t", _request(tmp_path, "warned", WARNED_THEN_WAITS, max_runtime_seconds=4, tags=tags)
    )
    warned = tmp_path / "started-warned-warned"
    wait_until(warned.exists, 30, message="the job got SIGUSR1")
    assert 0.5 < float(warned.read_text()) <= 2.1  # runtime.time_left_seconds() when it came
    wait_until(
        lambda: (
            plane.service.describe("t", JobKind.TRAINING, "warned").status is Secondary.MAX_RUNTIME_EXCEEDED
        ),
        30,
    )
    history = plane.service.describe("t", JobKind.TRAINING, "warned").history
    assert any("Max runtime warning (SIGUSR1) sent at" in t.message for t in history)


def test_max_runtime_counts_from_the_start_not_from_queueing(plane: ControlPlane, tmp_path: Path) -> None:
    _create(plane, tmp_path, "t", "blocker")
    wait_until(lambda: _started(tmp_path) == ["blocker"], 60)
    plane.service.create("t", _request(tmp_path, "queued", STARTS_THEN_WAITS, max_runtime_seconds=2))
    created_at = plane.service.describe("t", JobKind.TRAINING, "queued").created_at
    # Let it wait in the queue longer than its whole max runtime (the quantity under test is time).
    wait_until(lambda: (datetime.now(UTC) - created_at).total_seconds() > 3, 10)
    assert plane.service.describe("t", JobKind.TRAINING, "queued").status is Secondary.STARTING
    plane.service.stop("t", JobKind.TRAINING, "blocker")
    wait_until(
        lambda: (
            plane.service.describe("t", JobKind.TRAINING, "queued").status is Secondary.MAX_RUNTIME_EXCEEDED
        ),
        60,
    )
    job = plane.service.describe("t", JobKind.TRAINING, "queued")
    assert job.started_at is not None and job.ended_at is not None
    assert (job.started_at - created_at).total_seconds() > 3
    assert (job.ended_at - job.started_at).total_seconds() >= 2  # its full 2 s, counted from its start
