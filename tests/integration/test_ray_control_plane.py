"""The control plane (service + reconciler) with the Ray executor configured, on a real Ray head."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_control_plane import LOOP_UNTIL_TERM, TENANT, _job, _status
from tests.support import local_jobs, ray_cluster
from tests.support.waiting import wait_until
from trainplane import server
from trainplane.config import Settings
from trainplane.domain import errors
from trainplane.domain.status import JobKind, Secondary, StopReason
from trainplane.service.jobs import EXECUTOR_TAG


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[server.ControlPlane]:
    built = server.build(
        Settings(
            data_dir=tmp_path / "data",
            stop_grace_seconds=30,
            reconcile_interval_seconds=1,
            allowed_roots=(tmp_path,),
            executor="ray",
            ray_address=ray_cluster.address(),
        )
    )
    built.reconciler.recover()
    built.reconciler.start()
    yield built
    built.close()
    ray_cluster.cleanup(tmp_path / "data" / "runs")


def test_ray_as_the_default_executor_needs_a_ray_address() -> None:
    with pytest.raises(errors.Invalid, match="--executor") as refused:
        server.check(Settings(executor="ray"))
    assert "--ray-address" in refused.value.message


def test_the_server_default_runs_untagged_jobs_on_ray_and_the_tag_still_chooses_local(
    plane: server.ControlPlane, tmp_path: Path
) -> None:
    on_ray = plane.service.create(TENANT, _job(tmp_path, "on-ray", LOOP_UNTIL_TERM))
    local = plane.service.create(
        TENANT, _job(tmp_path, "local", LOOP_UNTIL_TERM, tags={EXECUTOR_TAG: "local"})
    )
    assert on_ray.spec.executor == "ray" and local.spec.executor == "local"
    for name in ("on-ray", "local"):
        wait_until(lambda name=name: _status(plane, name) is Secondary.TRAINING, 30, message=name)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "on-ray")
    assert job.handle is not None and job.handle.executor == "ray"
    assert job.handle.ref["submission_id"] == f"trainplane-{job.id}"
    for name in ("on-ray", "local"):
        plane.service.stop(TENANT, JobKind.TRAINING, name)
    for name in ("on-ray", "local"):
        wait_until(lambda name=name: _status(plane, name) is Secondary.STOPPED, 20, message=name)


def test_a_ray_job_whose_supervisor_dies_fails_with_rays_status_never_in_progress_forever(
    plane: server.ControlPlane, tmp_path: Path
) -> None:
    plane.service.create(TENANT, _job(tmp_path, "doomed", LOOP_UNTIL_TERM))
    wait_until(lambda: _status(plane, "doomed") is Secondary.TRAINING, 30)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "doomed")
    assert job.handle is not None
    os.kill(local_jobs.supervisor_pid(job.handle), signal.SIGKILL)
    wait_until(lambda: _status(plane, "doomed") is Secondary.FAILED, 20)
    failed = plane.service.describe(TENANT, JobKind.TRAINING, "doomed")
    assert failed.outcome is not None and failed.outcome.failure is not None
    assert "Ray reports the job FAILED" in failed.outcome.failure.message
    report = failed.outcome.stop_report
    assert report is not None and report.kill_pids >= 1 and report.survivors == ()  # the orphan was killed


def test_ray_job_stop_from_outside_ends_the_job_stopped_with_its_model(
    plane: server.ControlPlane, tmp_path: Path
) -> None:
    save_on_term = (
        "import os,signal,sys,time,pathlib;"
        "signal.signal(signal.SIGTERM, lambda *a: (pathlib.Path(os.environ['SM_MODEL_DIR'], 'm.txt')"
        ".write_text('saved'), sys.exit(0)));"
        "pathlib.Path(os.environ['MARKER']).write_text('ran');"
        "[time.sleep(0.05) for _ in iter(int, 1)]"
    )
    plane.service.create(TENANT, _job(tmp_path, "preempted", save_on_term))
    wait_until(lambda: (tmp_path / "marker").exists(), 30, message="handler installed")
    job = plane.service.describe(TENANT, JobKind.TRAINING, "preempted")
    assert job.handle is not None
    ray = Path(sys.executable).parent / "ray"
    subprocess.run(
        [str(ray), "job", "stop", "--address", ray_cluster.address(), job.handle.ref["submission_id"]],
        check=True,
        capture_output=True,
        timeout=60,
    )
    wait_until(lambda: _status(plane, "preempted") is Secondary.STOPPED, 20)
    stopped = plane.service.describe(TENANT, JobKind.TRAINING, "preempted")
    assert stopped.stop is not None and stopped.stop.reason is StopReason.PREEMPTED
    assert stopped.outcome is not None and stopped.outcome.model_uri is not None
    assert local_jobs.model_members(stopped.outcome.model_uri)["m.txt"] == b"saved"
