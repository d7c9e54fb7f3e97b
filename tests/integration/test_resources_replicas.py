"""Issue 10 with two replicas on one PostgreSQL: queued jobs are each launched exactly once.

Each replica places jobs on its own host's capacity (here both are this machine, one slot each): at
most one job per replica runs at a time, and every queued job starts once, on whichever replica's
claim won, as the slots free."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import replicas
from tests.support.waiting import wait_until
from trainplane.config import Settings
from trainplane.domain.status import JobKind, Secondary
from trainplane.server import ControlPlane
from trainplane.service.jobs import NewJob

JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
TYPES = json.dumps({"ml.m5.large": {"vcpus": len(os.sched_getaffinity(0)), "memory_gib": 0.25}})
JOB_COUNT = 4


@pytest.fixture
def planes(tmp_path: Path, postgres_url: str) -> Iterator[list[ControlPlane]]:
    yield from replicas.planes(
        tmp_path,
        lambda replica: Settings(
            data_dir=tmp_path / replica,
            database_url=postgres_url,
            stop_grace_seconds=10,
            reconcile_interval_seconds=1,
            allowed_roots=(tmp_path,),
            replica_id=replica,
            queue=True,
            instance_types=TYPES,
            reserve_memory_mib=0,
        ),
    )


def _starts(tmp_path: Path, name: str) -> int:
    return len(list((tmp_path / "markers" / name).glob("started-*")))


def test_queued_jobs_are_launched_exactly_once_across_replicas(
    planes: list[ControlPlane], tmp_path: Path
) -> None:
    names = [f"queued-{index}" for index in range(JOB_COUNT)]
    for name in names:
        planes[0].service.create(
            "t",
            NewJob(
                name=name,
                kind=JobKind.TRAINING,
                dialect="test",
                image="trainplane/python",
                request={"TrainingJobName": name},
                entrypoint=("python", str(JOBS_DIR / "count_sigterms.py")),
                output_uri=f"file://{tmp_path / 'out'}",
                environment={"TEST_MARKER_DIR": str(tmp_path / "markers" / name), "LINGER_SECONDS": "0"},
            ),
        )
    replicas.start_together(planes)

    service = planes[0].service
    finished: set[str] = set()
    while len(finished) < JOB_COUNT:
        running = wait_until(
            lambda: [n for n in names if n not in finished and _starts(tmp_path, n)] or None,
            60,
            message="a queued job started",
        )
        assert len(running) <= len(planes)  # one slot per replica
        for name in running:
            wait_until(
                lambda n=name: service.describe("t", JobKind.TRAINING, n).status is Secondary.TRAINING, 30
            )  # type: ignore[misc]
            service.stop("t", JobKind.TRAINING, name)
            wait_until(
                lambda n=name: service.describe("t", JobKind.TRAINING, n).status is Secondary.STOPPED, 30
            )  # type: ignore[misc]
            finished.add(name)
    assert {name: _starts(tmp_path, name) for name in names} == dict.fromkeys(names, 1)
