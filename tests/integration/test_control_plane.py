"""JobService + reconciler + local executor on a real SQLite file and real processes."""

from __future__ import annotations

import json
import os
import signal
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.config import Settings
from trainplane.domain import errors
from trainplane.domain.status import JobKind, Primary, Secondary, StopReason
from trainplane.server import ControlPlane, build
from trainplane.service.jobs import GRACE_TAG, NewJob, StopOutcome

TENANT = "default"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        stop_grace_seconds=30,
        reconcile_interval_seconds=1,
        allowed_roots=(tmp_path,),
    )


@pytest.fixture
def plane(settings: Settings) -> Iterator[ControlPlane]:
    built = build(settings)
    yield built
    built.close()


def _job(tmp_path: Path, name: str, script: str, **changes: object) -> NewJob:
    request = NewJob(
        name=name,
        kind=JobKind.TRAINING,
        dialect="test",
        image="trainplane/python",
        request={"TrainingJobName": name},
        entrypoint=("python", "-c", script),
        output_uri=f"file://{tmp_path / 'out'}",
        environment={"MARKER": str(tmp_path / "marker")},
    )
    return NewJob(**{**request.__dict__, **changes})  # type: ignore[arg-type]


LOOP_UNTIL_TERM = (
    "import os,signal,sys,time,pathlib;"
    "signal.signal(signal.SIGTERM, lambda *a: sys.exit(0));"
    "pathlib.Path(os.environ['MARKER']).write_text('ran');"
    "[time.sleep(0.05) for _ in iter(int, 1)]"
)


def _status(plane: ControlPlane, name: str) -> Secondary:
    return plane.service.describe(TENANT, JobKind.TRAINING, name).status


def test_stop_during_starting_never_spawns(plane: ControlPlane, tmp_path: Path) -> None:
    """reference/peers.md pain 11: a cancel racing the start must win."""
    plane.service.create(TENANT, _job(tmp_path, "early", LOOP_UNTIL_TERM))
    outcome, job = plane.service.stop(TENANT, JobKind.TRAINING, "early")
    assert outcome is StopOutcome.REQUESTED and job.primary is Primary.STOPPING

    plane.reconciler.recover()
    plane.reconciler.start()
    wait_until(lambda: _status(plane, "early") is Secondary.STOPPED, 15)

    job = plane.service.describe(TENANT, JobKind.TRAINING, "early")
    assert [t.status for t in job.history] == [Secondary.STARTING, Secondary.STOPPING, Secondary.STOPPED]
    assert job.handle is None and not (tmp_path / "marker").exists()
    assert job.outcome is not None and job.outcome.model_uri is not None
    with tarfile.open(job.outcome.model_uri.removeprefix("file://")) as archive:
        manifest = json.load(archive.extractfile("trainplane-manifest.json"))  # type: ignore[arg-type]
    assert manifest["reason"] == "user"


def test_concurrent_stops_persist_exactly_one_intent(plane: ControlPlane, tmp_path: Path) -> None:
    plane.service.create(TENANT, _job(tmp_path, "race", LOOP_UNTIL_TERM))
    barrier = threading.Barrier(50)
    outcomes: list[StopOutcome] = []

    def stop() -> None:
        barrier.wait()
        outcomes.append(plane.service.stop(TENANT, JobKind.TRAINING, "race")[0])

    threads = [threading.Thread(target=stop) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count(StopOutcome.REQUESTED) == 1
    assert outcomes.count(StopOutcome.ALREADY_STOPPING) == 49


def test_grace_tag_sets_the_persisted_deadline(plane: ControlPlane, tmp_path: Path) -> None:
    plane.service.create(TENANT, _job(tmp_path, "tagged", LOOP_UNTIL_TERM, tags={GRACE_TAG: "7.5"}))
    _, job = plane.service.stop(TENANT, JobKind.TRAINING, "tagged")
    assert job.stop is not None and job.stop.grace_seconds == 7.5
    assert (job.stop.deadline_at - job.stop.requested_at).total_seconds() == 7.5


def test_bad_grace_tag_is_rejected_at_create(plane: ControlPlane, tmp_path: Path) -> None:
    with pytest.raises(errors.Invalid, match=GRACE_TAG):
        plane.service.create(TENANT, _job(tmp_path, "bad", LOOP_UNTIL_TERM, tags={GRACE_TAG: "soon"}))


def test_stop_of_a_finished_job_is_already_finished(plane: ControlPlane, tmp_path: Path) -> None:
    plane.reconciler.recover()
    plane.reconciler.start()
    plane.service.create(TENANT, _job(tmp_path, "quick", "print('done')"))
    wait_until(lambda: _status(plane, "quick") is Secondary.COMPLETED, 15)
    outcome, job = plane.service.stop(TENANT, JobKind.TRAINING, "quick")
    assert outcome is StopOutcome.ALREADY_FINISHED and job.primary is Primary.COMPLETED


def test_a_relative_data_dir_runs_jobs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The README's `--data-dir ./tp-data`: supervisors run in their run dirs, so it must be absolute."""
    monkeypatch.chdir(tmp_path)
    plane = build(Settings(data_dir=Path("tp-data"), reconcile_interval_seconds=1, allowed_roots=(tmp_path,)))
    try:
        plane.reconciler.recover()
        plane.reconciler.start()
        plane.service.create(TENANT, _job(tmp_path, "relative", "print('done')"))
        wait_until(lambda: _status(plane, "relative") in (Secondary.COMPLETED, Secondary.FAILED), 15)
        assert _status(plane, "relative") is Secondary.COMPLETED
    finally:
        plane.close()


def test_a_new_control_plane_reattaches_and_stops_a_running_job(settings: Settings, tmp_path: Path) -> None:
    first = build(settings)
    first.reconciler.recover()
    first.reconciler.start()
    first.service.create(TENANT, _job(tmp_path, "survivor", LOOP_UNTIL_TERM))
    wait_until(lambda: _status(first, "survivor") is Secondary.TRAINING, 15)
    # Training means spawned; the stop below must find the job's handler installed (or exit 143 counts).
    wait_until(lambda: (tmp_path / "marker").exists(), 15, message="handler installed")
    first.close()  # the control plane goes away; the job must not

    second = build(settings)
    try:
        second.reconciler.recover()
        assert _status(second, "survivor") is Secondary.TRAINING
        second.reconciler.start()
        second.service.stop(TENANT, JobKind.TRAINING, "survivor")
        wait_until(lambda: _status(second, "survivor") is Secondary.STOPPED, 15)
        job = second.service.describe(TENANT, JobKind.TRAINING, "survivor")
        assert job.outcome is not None and job.outcome.exit_code == 0
    finally:
        second.close()


def test_python_image_puts_the_servers_python_first_on_path(plane: ControlPlane, tmp_path: Path) -> None:
    plane.reconciler.recover()
    plane.reconciler.start()
    script = "import os,sys,pathlib; pathlib.Path(os.environ['MARKER']).write_text(sys.executable)"
    plane.service.create(TENANT, _job(tmp_path, "which", script))
    wait_until(lambda: _status(plane, "which") is Secondary.COMPLETED, 15)
    assert Path((tmp_path / "marker").read_text()).parent == Path(sys.executable).parent


def test_configured_image_map_runs_its_command_with_its_environment(tmp_path: Path) -> None:
    images = '{"acme/trainer:*": {"command": ["python", "-c"], "environment": {"FROM_IMAGE": "yes"}}}'
    plane = build(
        Settings(
            data_dir=tmp_path / "data", images=images, reconcile_interval_seconds=1, allowed_roots=(tmp_path,)
        )
    )
    try:
        plane.reconciler.recover()
        plane.reconciler.start()
        script = "import os,pathlib; pathlib.Path(os.environ['MARKER']).write_text(os.environ['FROM_IMAGE'])"
        request = _job(tmp_path, "mapped", "", image="acme/trainer:1.2", entrypoint=(script,))
        plane.service.create(TENANT, request)
        wait_until(lambda: _status(plane, "mapped") is Secondary.COMPLETED, 15)
        assert (tmp_path / "marker").read_text() == "yes"
        with pytest.raises(errors.Invalid, match="TRAINPLANE_IMAGES"):
            plane.service.create(TENANT, _job(tmp_path, "unmapped", "", image="other/image:1"))
    finally:
        plane.close()


def _running(plane: ControlPlane, tmp_path: Path, name: str) -> tuple[int, int]:
    """Start a job that loops until SIGTERM; its (supervisor pid, job pid) once it runs."""
    plane.reconciler.recover()
    plane.reconciler.start()
    plane.service.create(TENANT, _job(tmp_path, name, LOOP_UNTIL_TERM))
    wait_until(lambda: (tmp_path / "marker").exists(), 15, message="handler installed")
    job = plane.service.describe(TENANT, JobKind.TRAINING, name)
    assert job.handle is not None
    run_dir = Path(job.handle.ref["run_dir"])
    status = json.loads((run_dir / "status.json").read_text())
    return local_jobs.supervisor_pid(job.handle), int(status["main_pid"])


def test_sigterm_from_outside_is_a_preemption_through_the_same_protocol(
    plane: ControlPlane, tmp_path: Path
) -> None:
    """reference/peers.md pain 15: an engine's SIGTERM runs our protocol and records why."""
    supervisor, _ = _running(plane, tmp_path, "preempted")
    os.kill(supervisor, signal.SIGTERM)
    wait_until(lambda: _status(plane, "preempted") is Secondary.STOPPED, 15)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "preempted")
    assert job.stop is not None and job.stop.reason is StopReason.PREEMPTED
    assert [t.status for t in job.history][-2:] == [Secondary.STOPPING, Secondary.STOPPED]
    assert job.outcome is not None and job.outcome.exit_code == 0 and job.outcome.model_uri


def test_a_lost_supervisor_is_succeeded_and_the_job_still_stops_cleanly(
    plane: ControlPlane, tmp_path: Path
) -> None:
    """Issue 6: a supervisor lost while the job runs costs no healthy training process."""
    supervisor, job_pid = _running(plane, tmp_path, "orphaned")
    os.kill(supervisor, signal.SIGKILL)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "orphaned")
    assert job.handle is not None
    handle = job.handle

    def succeeded() -> bool:
        try:
            return local_jobs.supervisor_pid(handle) != supervisor
        except FileNotFoundError:
            return False  # between the lost one's record and the successor's

    wait_until(succeeded, 15, message="a successor took over")
    assert _is_alive(job_pid) and _status(plane, "orphaned") is Secondary.TRAINING
    plane.service.stop(TENANT, JobKind.TRAINING, "orphaned")
    wait_until(lambda: _status(plane, "orphaned") is Secondary.STOPPED, 15)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "orphaned")
    assert job.outcome is not None and job.outcome.failure is None and job.outcome.model_uri
    report = job.outcome.stop_report
    assert report is not None and report.term_pids >= 1 and report.survivors == ()
    wait_until(lambda: not _is_alive(job_pid), 5, message="the job process is gone")


def _is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"
