"""Two control planes (replicas) on one PostgreSQL, built from real Settings, for the replica tests."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from tests.support import local_jobs
from trainplane.config import Settings
from trainplane.server import ControlPlane, build

REPLICAS = ("replica-a", "replica-b")


def planes(tmp_path: Path, settings_of: Callable[[str], Settings]) -> Iterator[list[ControlPlane]]:
    """A fixture's body: the replicas, built but not started (each with its data dir tmp_path/<replica>);
    afterwards what a failed test left running is killed, then the planes are closed."""
    built = [build(settings_of(replica)) for replica in REPLICAS]
    yield built
    for replica in REPLICAS:  # jobs outlive their control plane by design: a failed test's must not
        local_jobs.kill_leftovers(tmp_path / replica / "runs")
    for plane in built:
        plane.close()


def start_together(planes: list[ControlPlane]) -> None:
    """Every replica recovers (sweeps every active job) at the same instant, then runs."""
    barrier = threading.Barrier(len(planes))

    def start(plane: ControlPlane) -> None:
        barrier.wait()
        plane.reconciler.recover()
        plane.reconciler.start()

    threads = [threading.Thread(target=start, args=(plane,)) for plane in planes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
