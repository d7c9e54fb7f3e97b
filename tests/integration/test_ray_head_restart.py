"""A Ray head that crashes and comes back has forgotten its jobs: trainplane must say so, and clean up.

It crashes the session's own head (started by scripts/ray-up), so it runs after the other Ray tests
(file order) and never against a cluster that ray-up did not start.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs, ray_cluster
from tests.support.waiting import wait_until
from trainplane.executors.ray.executor import RayExecutor
from trainplane.service.ports import Phase

# Ignores SIGTERM and leaves a double-forked (setsid) daemon: neither dies with the supervisor.
STUBBORN = 'trap "" TERM; ( setsid sleep 1000 & ); touch "$TEST_DIR/ready"; sleep 1000'


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[RayExecutor]:
    made = ray_cluster.make_executor(tmp_path / "runs")
    yield made
    made.close()
    ray_cluster.cleanup(tmp_path / "runs")


def test_a_job_of_a_crashed_and_restarted_ray_head_is_lost_and_nothing_of_it_survives(
    executor: RayExecutor, tmp_path: Path
) -> None:
    head_pid = ray_cluster.head_started_by_ray_up()
    if head_pid is None:
        pytest.skip(
            f"the Ray head at {ray_cluster.address()} was not started by scripts/ray-up: not crashing it"
        )
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    ray_cluster.crash_and_restart_head(head_pid)
    observation = local_jobs.wait_for_phase(executor, handle, (Phase.LOST, Phase.FINISHED), 20)
    assert observation.phase is Phase.LOST and observation.started_at is not None
    assert observation.lost_reason is not None and "Ray no longer knows the job" in observation.lost_reason
    report = executor.kill_all(handle)
    assert report.kill_pids >= 2 and report.survivors == ()  # the job and its daemon outlived the head
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []
