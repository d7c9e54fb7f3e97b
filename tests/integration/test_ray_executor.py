"""The Ray executor on a real Ray head: our stop protocol inside a Ray job, and Ray's view of it.

The contract suite (tests/contract/test_executor.py) runs on Ray too; these are what only Ray has:
Ray's own status beside ours, a stop from Ray's side, a control plane restarted mid-stop, a job Ray lost.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import local_jobs, ray_cluster
from tests.support.waiting import wait_until
from trainplane.domain.job import ExecutorHandle, Job
from trainplane.domain.status import StopReason
from trainplane.executors.ray.executor import SUBMISSION_FILE, RayExecutor
from trainplane.executors.ray.submission import RayJobs
from trainplane.service.ports import Phase

SAVE_ON_TERM = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    test_dir = pathlib.Path(os.environ["TEST_DIR"])
    def on_term(signum, frame):
        pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("saved on SIGTERM")
        with open(test_dir / "sigterms", "a") as log:
            log.write("1\\n")
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    (test_dir / "ready").write_text(str(os.getpid()))
    while True:  # short sleeps: a SIGTERM landing just before a long one would be slept through
        time.sleep(0.05)
    """
)
# Ignores SIGTERM and leaves a forked child and a double-forked (setsid) daemon behind.
STUBBORN = 'trap "" TERM; ( setsid sleep 1000 & ); bash -c "sleep 1001; true" & touch "$TEST_DIR/ready"; wait'


@pytest.fixture
def ray_jobs() -> Iterator[RayJobs]:
    jobs = RayJobs(ray_cluster.address())
    yield jobs
    jobs.close()


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[RayExecutor]:
    made = ray_cluster.make_executor(tmp_path / "runs")
    yield made
    made.close()
    ray_cluster.cleanup(tmp_path / "runs")


def _python_job(tmp_path: Path, code: str) -> Job:
    job = local_jobs.make_job(tmp_path, "")
    return dataclasses.replace(job, spec=dataclasses.replace(job.spec, command=(sys.executable, "-c", code)))


def _ray_status(ray_jobs: RayJobs, handle: ExecutorHandle) -> str:
    state = ray_jobs.state(handle.ref["submission_id"])
    assert state is not None
    return state.status


def test_a_cooperative_job_saves_its_model_on_stop_and_ray_sees_it_succeed(
    executor: RayExecutor, ray_jobs: RayJobs, tmp_path: Path
) -> None:
    handle = executor.launch(_python_job(tmp_path, SAVE_ON_TERM))
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    assert _ray_status(ray_jobs, handle) == "RUNNING"
    intent = local_jobs.stop_intent(grace_seconds=30.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and observation.was_stopped and observation.stop == intent
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is None  # it left within the window
    assert (tmp_path / "sigterms").read_text() == "1\n"  # our SIGTERM, once; Ray sent none
    assert observation.outcome.model_uri is not None
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved on SIGTERM"
    # Our supervisor was Ray's entrypoint and ended normally after packaging.
    wait_until(lambda: _ray_status(ray_jobs, handle) == "SUCCEEDED", 10, message="Ray says SUCCEEDED")


def test_a_job_ignoring_sigterm_is_killed_at_its_own_deadline_with_no_survivor(
    executor: RayExecutor, tmp_path: Path
) -> None:
    """The grace window is the job's (1 s here), not Ray's 3 s, and the setsid daemon dies too."""
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    intent = local_jobs.stop_intent(grace_seconds=1.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    report = observation.outcome.stop_report
    assert observation.was_stopped and report is not None and report.kill_sent_at is not None
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert report.term_pids >= 3 and report.kill_pids >= 3 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_ray_job_stop_from_the_cli_runs_our_protocol_and_reports_a_preemption(
    executor: RayExecutor, ray_jobs: RayJobs, tmp_path: Path
) -> None:
    job = _python_job(tmp_path, SAVE_ON_TERM)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    ray = Path(sys.executable).parent / "ray"
    subprocess.run(
        [str(ray), "job", "stop", "--address", ray_cluster.address(), handle.ref["submission_id"]],
        check=True,
        capture_output=True,
        timeout=60,
    )
    observation = local_jobs.wait_finished(executor, handle, 20)
    # Ray signals our supervisor and then the job itself: the job may save and exit on Ray's SIGTERM
    # before ours (was_stopped False then), but the supervisor always records Ray's stop first, and
    # the control plane ends the job Stopped either way (test_ray_control_plane.py).
    assert observation.phase is Phase.FINISHED
    assert observation.stop is not None and observation.stop.reason is StopReason.PREEMPTED
    assert observation.stop.grace_seconds == job.spec.grace_seconds  # the job's window, not Ray's
    assert observation.outcome.model_uri is not None and observation.outcome.failure is None
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved on SIGTERM"
    assert _ray_status(ray_jobs, handle) == "STOPPED"
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_restarted_control_plane_finishes_a_stop_in_progress_at_its_deadline(
    executor: RayExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    intent = local_jobs.stop_intent(grace_seconds=2.0)
    executor.request_stop(handle, intent)
    executor.close()  # the control plane goes away mid-stop
    # ... as if it crashed right after submitting: its record of the submission is lost too.
    (Path(handle.ref["run_dir"]) / SUBMISSION_FILE).unlink()
    restarted = RayExecutor(tmp_path / "runs", ray_cluster.address())
    try:
        # Ray already has the submission id: reattached, not submitted again (nor refused).
        assert restarted.launch(job) == handle
        assert restarted.observe(handle).phase is Phase.RUNNING
        restarted.request_stop(handle, local_jobs.stop_intent(grace_seconds=60.0))  # re-delivery
        observation = local_jobs.wait_finished(restarted, handle, 20)
    finally:
        restarted.close()
    report = observation.outcome.stop_report
    assert observation.stop == intent  # the first deadline stands
    assert report is not None and report.kill_sent_at is not None and report.survivors == ()
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_job_whose_supervisor_ray_lost_is_reported_with_rays_status(
    executor: RayExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    ray_cluster.lose(handle)
    observation = local_jobs.wait_for_phase(executor, handle, (Phase.LOST, Phase.FINISHED), 20)
    assert observation.phase is Phase.LOST
    assert observation.lost_reason is not None and "Ray reports the job FAILED" in observation.lost_reason
    report = executor.kill_all(handle)
    assert report.kill_pids >= 3 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_job_ray_no_longer_knows_is_lost_not_in_progress_forever(
    executor: RayExecutor, tmp_path: Path
) -> None:
    """As after a Ray head restart: the submission is gone from Ray and no supervisor runs."""
    job = local_jobs.make_job(tmp_path, "true")
    run_dir = tmp_path / "runs" / job.id
    run_dir.mkdir(parents=True)
    handle = ExecutorHandle("ray", {"run_dir": str(run_dir), "job_id": job.id, "submission_id": "tp-gone"})
    observation = executor.observe(handle)
    assert observation.phase is Phase.LOST
    assert (
        observation.lost_reason is not None
        and "Ray no longer knows the job tp-gone" in observation.lost_reason
    )


def test_a_job_waiting_for_resources_is_stopped_without_ever_running(
    executor: RayExecutor, ray_jobs: RayJobs, tmp_path: Path
) -> None:
    """Ray keeps a job PENDING while its instance type does not fit; a stop must still end it."""
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ran"', instance_type="ml.p4d.24xlarge")
    handle = executor.launch(job)
    assert _ray_status(ray_jobs, handle) == "PENDING"
    assert executor.observe(handle).phase is Phase.PENDING
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30.0))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    assert observation.started_at is None and observation.outcome.model_uri is not None
    assert not (tmp_path / "ran").exists()
    assert _ray_status(ray_jobs, handle) == "PENDING"  # Ray's own stop waits for the resources


def test_while_ray_does_not_answer_a_job_is_lost_only_once_its_supervisor_is_gone(tmp_path: Path) -> None:
    unreachable = RayExecutor(tmp_path / "runs", "http://127.0.0.1:9")  # nothing listens on port 9
    job = local_jobs.make_job(tmp_path, "true")
    run_dir = tmp_path / "runs" / job.id
    run_dir.mkdir(parents=True)
    handle = ExecutorHandle("ray", {"run_dir": str(run_dir), "job_id": job.id, "submission_id": "tp-x"})
    try:
        assert unreachable.observe(handle).phase is Phase.PENDING  # not started yet, as far as we know
        # Its supervisor is gone (no process has this pid) and left no final report.
        (run_dir / "supervisor.pid").write_text('{"pid": 999999999, "start_ticks": 1, "is_ready": true}')
        observation = unreachable.observe(handle)
    finally:
        unreachable.close()
    assert observation.phase is Phase.LOST
    assert observation.lost_reason is not None and "Ray at http://127.0.0.1:9" in observation.lost_reason


def test_ray_stop_of_a_job_ignoring_sigterm_kills_it_at_the_jobs_deadline_daemon_included(
    executor: RayExecutor, ray_jobs: RayJobs, tmp_path: Path
) -> None:
    """Ray alone would SIGKILL its snapshot after its own wait and miss the setsid daemon."""
    job = local_jobs.make_job(tmp_path, STUBBORN, grace_seconds=2.0)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    assert ray_jobs.stop(handle.ref["submission_id"])
    observation = local_jobs.wait_finished(executor, handle, 20)
    intent, report = observation.stop, observation.outcome.stop_report
    assert intent is not None and intent.reason is StopReason.PREEMPTED and intent.grace_seconds == 2.0
    assert report is not None and report.kill_sent_at is not None and report.survivors == ()
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []
    wait_until(lambda: _ray_status(ray_jobs, handle) == "STOPPED", 10, message="Ray says STOPPED")


def test_a_stop_reaches_a_supervisor_on_another_node_through_ray_simulated_by_a_foreign_pid_record(
    executor: RayExecutor, ray_jobs: RayJobs, tmp_path: Path
) -> None:
    """Fake (one machine here): the pid record names no process of this host, as for another node."""
    handle = executor.launch(_python_job(tmp_path, SAVE_ON_TERM))
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    record = Path(handle.ref["run_dir"]) / "supervisor.pid"
    foreign = {**json.loads(record.read_text()), "start_ticks": 1}  # the same pid, another process
    record.write_text(json.dumps(foreign))
    intent = local_jobs.stop_intent(grace_seconds=30.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    assert observation.stop == intent  # our reason and deadline (from stop.json), not a preemption
    assert observation.outcome.model_uri is not None
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved on SIGTERM"
    wait_until(lambda: _ray_status(ray_jobs, handle) == "STOPPED", 10, message="Ray says STOPPED")


def test_the_log_of_a_ray_job_pages_with_its_write_times(executor: RayExecutor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, "echo one; sleep 0.3; echo two"))
    local_jobs.wait_finished(executor, handle, 30)
    assert executor.read_log(handle, 0, 1 << 20) == b"one\ntwo\n"
    marks = executor.read_log_marks(handle)
    assert marks.size == 8 and marks.last_write_at is not None
    first, second = marks.written_at(4), marks.written_at(8)
    assert first is not None and second is not None and first <= second
