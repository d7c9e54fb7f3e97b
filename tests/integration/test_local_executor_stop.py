"""The local executor's stop protocol on real processes: SIGTERM, grace window, SIGKILL, packaging."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.domain.job import ExecutorHandle, FailureKind, Job
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.service.ports import Phase

SAVE_ON_TERM = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    test_dir = pathlib.Path(os.environ["TEST_DIR"])
    def on_term(signum, frame):
        pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("saved on SIGTERM")
        (test_dir / "saved").write_text(str(os.getpid()))
        sys.exit(0)
    signal.signal(signal.SIGTERM, on_term)
    (test_dir / "ready").write_text(str(os.getpid()))
    while True:  # short sleeps: a SIGTERM landing just before a long one would be slept through
        time.sleep(0.05)
    """
)

CHECKPOINT_THEN_HANG = textwrap.dedent(
    """
    import os, pathlib, signal, time
    from trainplane import runtime
    stop = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    (pathlib.Path(os.environ["TEST_DIR"]) / "ready").write_text("1")
    while not stop:
        time.sleep(0.01)
    pathlib.Path(os.environ["SM_MODEL_DIR"], "weights.bin").write_bytes(b"w" * 64)
    runtime.checkpoint_complete()
    while True:  # a slow teardown: only the handshake can end the window early
        time.sleep(60)
    """
)


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield LocalExecutor(tmp_path / "runs")
    local_jobs.kill_leftovers(tmp_path / "runs")


def launch_script(
    executor: LocalExecutor, tmp_path: Path, source: str, **spec: Any
) -> tuple[Job, ExecutorHandle]:
    script = tmp_path / "job.py"
    script.write_text(source)
    job = local_jobs.make_job(tmp_path, f'"{sys.executable}" "{script}"; echo after-python', **spec)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 20, message="job ready")
    return job, handle


def test_sigterm_reaches_handler_under_bash_c(executor: LocalExecutor, tmp_path: Path) -> None:
    """reference/peers.md pain 1: SIGTERM must reach the real training process, not only the shell."""
    _, handle = launch_script(executor, tmp_path, SAVE_ON_TERM)
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert (tmp_path / "saved").exists()
    assert observation.phase is Phase.FINISHED
    assert observation.was_stopped
    assert observation.outcome.exit_code == 128 + 15  # bash itself died of the SIGTERM
    assert observation.outcome.failure is None
    report = observation.outcome.stop_report
    assert report is not None and report.term_pids >= 2
    assert report.survivors == ()
    assert report.kill_sent_at is None  # everything exited inside the window
    assert observation.outcome.model_uri is not None
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved on SIGTERM"
    assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "user"


STUBBORN = textwrap.dedent(
    """
    trap "" TERM
    ( setsid sleep 1000 & )
    bash -c 'sleep 1001; true' &
    touch "$TEST_DIR/ready"
    wait
    """
)


@pytest.mark.slow
def test_ignored_sigterm_and_double_forked_daemon_are_killed_at_the_deadline(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, STUBBORN)
    marker = local_jobs.marker_of(job)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 20, message="job ready")
    wait_until(lambda: len(local_jobs.processes_with_marker(marker)) >= 4, 5, message="4 processes")
    intent = local_jobs.stop_intent(grace_seconds=1.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None
    late_seconds = (report.kill_sent_at - intent.deadline_at).total_seconds()
    assert -0.005 <= late_seconds <= 0.25, late_seconds
    # bash, the setsid daemon, the background bash and its sleep (seen once under load: 3 counted,
    # none surviving; the assertions on survivors and /proc below are the guarantee)
    assert report.term_pids >= 3
    assert report.kill_pids >= 3
    assert report.survivors == ()
    assert local_jobs.processes_with_marker(marker) == []
    assert observation.outcome.exit_code == 128 + 9
    assert observation.was_stopped and observation.outcome.failure is None
    # The empty leaf is removed right after the final report (off the stop's critical path).
    wait_until(lambda: not (local_jobs.CGROUP_PARENT / job.id).exists(), 5, message="cgroup removed")
    log = (Path(handle.ref["run_dir"]) / "supervisor.log").read_text()
    for event in ("event=stop_received", "event=sigterm_sent", "event=sigkill_sent"):
        assert f"{event} job={job.id}" in log


def test_stop_during_start_never_spawns(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/spawned"; sleep 1000')
    handle = ExecutorHandle("local", {"run_dir": str(tmp_path / "runs" / job.id), "job_id": job.id})
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
    assert executor.launch(job) == handle
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert not (tmp_path / "spawned").exists()
    assert observation.phase is Phase.FINISHED
    assert observation.was_stopped
    assert observation.started_at is None and observation.outcome.exit_code is None
    assert observation.outcome.stop_report is not None and observation.outcome.stop_report.term_pids == 0
    assert observation.outcome.model_uri is not None
    assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "user"


def test_stop_right_after_launch_is_never_lost(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "sleep 1000")
    handle = executor.launch(job)
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_checkpoint_complete_ends_the_window_early(executor: LocalExecutor, tmp_path: Path) -> None:
    job, handle = launch_script(executor, tmp_path, CHECKPOINT_THEN_HANG)
    intent = local_jobs.stop_intent(grace_seconds=60)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None
    assert report.kill_sent_at < intent.deadline_at
    assert (report.kill_sent_at - intent.requested_at).total_seconds() < 10
    assert observation.outcome.has_complete_checkpoint
    assert observation.outcome.model_uri is not None
    assert local_jobs.model_members(observation.outcome.model_uri)["weights.bin"] == b"w" * 64
    manifest = local_jobs.manifest_of(observation.outcome.model_uri)
    assert manifest["has_complete_checkpoint"] is True and manifest["reason"] == "user"
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_second_stop_request_changes_nothing(executor: LocalExecutor, tmp_path: Path) -> None:
    _, handle = launch_script(executor, tmp_path, SAVE_ON_TERM)
    first = local_jobs.stop_intent(grace_seconds=30)
    executor.request_stop(handle, first)
    stop_file = Path(handle.ref["run_dir"]) / "stop.json"
    before = stop_file.read_bytes()
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=300))
    assert stop_file.read_bytes() == before
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped
    assert observation.outcome.stop_report is not None and observation.outcome.stop_report.term_pids >= 2


def test_main_policy_signals_only_the_entrypoint(executor: LocalExecutor, tmp_path: Path) -> None:
    script = (
        "trap 'echo term > \"$TEST_DIR/main-got-term\"; exit 0' TERM; "
        'sleep 1000 & touch "$TEST_DIR/ready"; wait'
    )
    job = local_jobs.make_job(tmp_path, script, signal_policy="main")
    handle = executor.launch(job)
    wait_until((tmp_path / "ready").exists, 20, message="job ready")
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert (tmp_path / "main-got-term").exists()
    report = observation.outcome.stop_report
    assert report is not None and report.term_pids == 1
    assert report.kill_pids >= 1  # the sleep never got SIGTERM; it dies with the entrypoint
    assert observation.outcome.exit_code == 0 and observation.was_stopped
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_sigterm_to_the_supervisor_stops_the_job_as_preempted(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """A batch system (scancel --signal=TERM) stops the job through its supervisor."""
    _, handle = launch_script(executor, tmp_path, SAVE_ON_TERM)
    os.kill(local_jobs.supervisor_pid(handle), signal.SIGTERM)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and (tmp_path / "saved").exists()
    assert observation.outcome.model_uri is not None
    assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "preempted"


@pytest.fixture
def full_disk(tmp_path: Path) -> Iterator[Path]:
    """A real full file system: a 64 KiB tmpfs filled to the last byte (the server runs as root)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount_point)], check=True)
    try:
        with contextlib.suppress(OSError), (mount_point / "filler").open("wb") as filler:
            while True:  # until ENOSPC: full, as wanted
                filler.write(b"\0" * 4096)
                filler.flush()
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def test_a_stop_whose_model_cannot_be_written_on_a_full_disk_fails_as_a_platform_error(
    executor: LocalExecutor, tmp_path: Path, full_disk: Path
) -> None:
    """Issue 6: no artifact, so no Stopped; the reason says the stop happened and why packaging failed."""
    _, handle = launch_script(executor, tmp_path, SAVE_ON_TERM, output_uri=full_disk.as_uri())
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and (tmp_path / "saved").exists()
    assert observation.outcome.model_uri is None
    failure = observation.outcome.failure
    assert failure is not None and failure.kind is FailureKind.PLATFORM
    assert failure.message.startswith("the job was stopped (user), but packaging the model failed")
    assert "No space left on device" in failure.message
