"""The local executor's life cycle on real processes: exit codes, packaging, reattach, LOST."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.domain.job import Channel, ExecutorHandle, Failure, FailureKind, MetricDefinition
from trainplane.executors.local import launcher
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.service.ports import Phase


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield from local_jobs.local_executor(tmp_path)


def test_exit_zero_completes_with_a_packaged_model(executor: LocalExecutor, tmp_path: Path) -> None:
    script = 'echo "loss=0.25"; echo weights > "$SM_MODEL_DIR/model.bin"; exit 0'
    job = local_jobs.make_job(
        tmp_path, script, metric_definitions=(MetricDefinition("loss", r"loss=([0-9.]+)"),)
    )
    handle = executor.launch(job)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED
    assert observation.outcome.exit_code == 0 and observation.outcome.failure is None
    assert not observation.was_stopped and observation.outcome.stop_report is None
    assert observation.started_at is not None and observation.exited_at is not None
    assert observation.finished_at is not None and observation.staged_at is not None
    assert [(m.name, m.value) for m in observation.outcome.metrics] == [("loss", 0.25)]
    assert (
        observation.outcome.model_uri == (tmp_path / "output" / job.name / "output" / "model.tar.gz").as_uri()
    )
    assert local_jobs.model_members(observation.outcome.model_uri)["model.bin"] == b"weights\n"
    assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "completed"
    assert executor.read_log(handle, 0, 1 << 20) == b"loss=0.25\n"
    assert executor.read_log(handle, 5, 4) == b"0.25"


def test_nonzero_exit_is_a_failure_naming_the_code(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, "exit 3"))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.outcome.exit_code == 3
    assert observation.outcome.failure == Failure(
        FailureKind.ALGORITHM, "the training process exited with code 3"
    )
    assert observation.outcome.model_uri is not None
    assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "failed"


def test_output_failure_file_wins_as_the_failure_reason(executor: LocalExecutor, tmp_path: Path) -> None:
    script = 'echo "CUDA out of memory at step 7" > "$SM_OUTPUT_DIR/failure"; exit 1'
    handle = executor.launch(local_jobs.make_job(tmp_path, script))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.outcome.failure == Failure(FailureKind.ALGORITHM, "CUDA out of memory at step 7")


def test_a_job_that_links_its_output_dir_elsewhere_fails_and_nothing_is_written_there(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """Issue 6: the job points <output>/<name> at another directory; the supervisor must not follow."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = (
        f'echo w > "$SM_MODEL_DIR/m.txt"; mkdir -p "$TEST_DIR/output"; '
        f'ln -s {elsewhere} "$TEST_DIR/output/$TRAINING_JOB_NAME"'
    )
    job = local_jobs.make_job(tmp_path, script)
    observation = local_jobs.wait_finished(executor, executor.launch(job), 20)
    failure = observation.outcome.failure
    assert failure is not None and failure.kind is FailureKind.USER
    assert f"output/{job.name} is a symlink" in failure.message
    assert observation.outcome.model_uri is None
    assert list(elsewhere.iterdir()) == []


def test_killed_by_a_signal_says_so(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, "kill -SEGV $$"))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.outcome.exit_code == 128 + signal.SIGSEGV
    assert observation.outcome.failure == Failure(
        FailureKind.ALGORITHM, "the training process was killed by signal 11 (SIGSEGV)"
    )


def test_processes_left_behind_by_a_finished_job_are_killed(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "(setsid sleep 1000 &); sleep 1001 & exit 0")
    observation = local_jobs.wait_finished(executor, executor.launch(job), 20)
    assert observation.outcome.exit_code == 0
    assert observation.outcome.stop_report is not None and observation.outcome.stop_report.kill_pids >= 2
    assert observation.outcome.stop_report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_staging_failure_fails_without_spawning(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(
        tmp_path,
        'touch "$TEST_DIR/spawned"',
        channels=(Channel("train", (tmp_path / "missing").as_uri()),),
    )
    observation = local_jobs.wait_finished(executor, executor.launch(job), 20)
    assert observation.phase is Phase.FINISHED
    assert observation.outcome.failure is not None and "missing" in observation.outcome.failure.message
    assert "train" in observation.outcome.failure.message
    # The core's neutral field name (channels.1.source) would reach a SageMaker client's FailureReason.
    assert "channels." not in observation.outcome.failure.message
    assert observation.started_at is None
    assert not (tmp_path / "spawned").exists()


def test_job_sees_its_environment_and_runs_in_its_base_dir(executor: LocalExecutor, tmp_path: Path) -> None:
    script = 'env > "$TEST_DIR/env.txt"; pwd > "$TEST_DIR/cwd.txt"'
    handle = executor.launch(local_jobs.make_job(tmp_path, script))
    local_jobs.wait_finished(executor, handle, 20)
    env = dict(line.split("=", 1) for line in (tmp_path / "env.txt").read_text().splitlines() if "=" in line)
    run_dir = Path(handle.ref["run_dir"])
    assert env["TRAINPLANE_CONTROL_DIR"] == str(run_dir / "control")
    assert int(env["TRAINPLANE_SUPERVISOR_PID"]) == local_jobs.supervisor_pid(handle)
    assert env["SAGEMAKER_BASE_DIR"] == str(run_dir / "base")
    assert (tmp_path / "cwd.txt").read_text().strip() == str(run_dir / "base")


def test_launch_twice_starts_one_supervisor(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "sleep 1000")
    first = executor.launch(job)
    pid = local_jobs.supervisor_pid(first)
    other = LocalExecutor(tmp_path / "runs")
    try:
        second = other.launch(job)
    finally:
        other.close()
    assert second == first
    assert local_jobs.supervisor_pid(second) == pid
    # A forked supervisor enters its run dir just after its pid is known: poll until it has.
    wait_until(lambda: _supervisors_of(first.ref["run_dir"]) == [pid], 5, message="one supervisor")


def test_a_killed_supervisor_is_succeeded_and_the_job_keeps_running(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """Issue 6: a supervisor lost while the job runs must not cost a healthy training process."""
    job = local_jobs.make_job(tmp_path, 'echo $$ > "$TEST_DIR/pid"; exec sleep 1000')
    handle = executor.launch(job)
    local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 20)
    job_pid = int(wait_until(lambda: (tmp_path / "pid").exists() and (tmp_path / "pid").read_text(), 10))
    first = local_jobs.supervisor_pid(handle)
    os.kill(first, signal.SIGKILL)

    def succeeded() -> bool:
        executor.observe(handle)  # what the reconciler does when the watcher tells it of the loss
        try:
            return local_jobs.supervisor_pid(handle) != first
        except FileNotFoundError:
            return False  # between the lost one's record and the successor's

    wait_until(succeeded, 10, message="a successor supervises")
    observation = executor.observe(handle)
    assert observation.phase is Phase.RUNNING and observation.started_at is not None
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == [job_pid]
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=5.0))
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    report = observation.outcome.stop_report
    assert report is not None and report.term_pids == 1 and report.survivors == ()
    # Not its child: the successor cannot learn the exit status, and says so instead of inventing one.
    assert observation.outcome.exit_code is None
    assert observation.outcome.model_uri is not None
    assert local_jobs.status_of(handle)["adoptions"] == 1


def test_a_job_ending_under_a_successor_says_its_exit_status_is_unknown(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    """Only a process's parent learns its exit status: the successor says so rather than guess."""
    script = 'until [ -e "$TEST_DIR/go" ]; do sleep 0.01; done; echo w > "$SM_MODEL_DIR/m.bin"'
    handle = executor.launch(local_jobs.make_job(tmp_path, script))
    local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 20)
    first = local_jobs.supervisor_pid(handle)
    os.kill(first, signal.SIGKILL)

    def succeeded() -> bool:
        executor.observe(handle)
        try:
            return local_jobs.supervisor_pid(handle) != first
        except FileNotFoundError:
            return False

    wait_until(succeeded, 10, message="a successor supervises")
    (tmp_path / "go").touch()
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and not observation.was_stopped
    assert observation.outcome.exit_code is None
    assert observation.outcome.failure is not None
    assert observation.outcome.failure.kind is FailureKind.PLATFORM
    assert "exit status is unknown" in observation.outcome.failure.message


def test_observe_reports_lost_once_no_successor_may_start(executor: LocalExecutor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "sleep 1000")
    handle = executor.launch(job)
    local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 20)
    (Path(handle.ref["run_dir"]) / "successors").write_text(str(launcher.MAX_SUCCESSORS))
    os.kill(local_jobs.supervisor_pid(handle), signal.SIGKILL)
    observation = local_jobs.wait_for_phase(executor, handle, (Phase.LOST, Phase.FINISHED), 20)
    assert observation.phase is Phase.LOST
    assert observation.started_at is not None  # what was known before it vanished is kept
    report = executor.kill_all(handle)
    assert report.kill_pids == 1 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


LAUNCH_AND_DIE = textwrap.dedent(
    """
    import json, pickle, sys
    from pathlib import Path
    from trainplane.executors.local.launcher import LocalExecutor
    job = pickle.loads(Path(sys.argv[2]).read_bytes())
    handle = LocalExecutor(Path(sys.argv[1])).launch(job)
    print(json.dumps(dict(handle.ref)), flush=True)
    sys.stdin.read()  # wait to be killed
    """
)


def launch_from_a_dying_process(tmp_path: Path, job: object) -> ExecutorHandle:
    """Launch from a child python that is then SIGKILLed, like `trainplane serve` crashing."""
    import pickle

    (tmp_path / "job.pickle").write_bytes(pickle.dumps(job))
    with subprocess.Popen(
        [sys.executable, "-c", LAUNCH_AND_DIE, str(tmp_path / "runs"), str(tmp_path / "job.pickle")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    ) as child:
        assert child.stdout is not None
        ref = json.loads(child.stdout.readline())
        child.kill()
    return ExecutorHandle("local", ref)


def test_job_completes_after_the_launching_process_died(tmp_path: Path) -> None:
    script = 'until [ -e "$TEST_DIR/go" ]; do sleep 0.01; done; echo done > "$SM_MODEL_DIR/m.txt"'
    handle = launch_from_a_dying_process(tmp_path, local_jobs.make_job(tmp_path, script))
    reattached = LocalExecutor(tmp_path / "runs")
    try:
        local_jobs.wait_for_phase(reattached, handle, (Phase.RUNNING,), 20)
        (tmp_path / "go").touch()
        observation = local_jobs.wait_finished(reattached, handle, 20)
        assert observation.phase is Phase.FINISHED and observation.outcome.exit_code == 0
        assert observation.outcome.model_uri is not None
        assert local_jobs.model_members(observation.outcome.model_uri)["m.txt"] == b"done\n"
    finally:
        local_jobs.kill_leftovers(tmp_path / "runs")


def test_a_new_executor_reattaches_and_stops_the_job(tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "sleep 1000")
    handle = launch_from_a_dying_process(tmp_path, job)
    reattached = LocalExecutor(tmp_path / "runs")
    try:
        local_jobs.wait_for_phase(reattached, handle, (Phase.RUNNING,), 20)
        reattached.request_stop(handle, local_jobs.stop_intent(grace_seconds=30))
        observation = local_jobs.wait_finished(reattached, handle, 20)
        assert observation.phase is Phase.FINISHED and observation.was_stopped
        assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []
    finally:
        local_jobs.kill_leftovers(tmp_path / "runs")


def test_watch_reports_progress_by_job_id(executor: LocalExecutor, tmp_path: Path) -> None:
    seen: list[str] = []
    executor.watch(seen.append)
    job = local_jobs.make_job(tmp_path, "exit 0")
    handle = executor.launch(job)
    local_jobs.wait_finished(executor, handle, 20)
    wait_until(lambda: seen.count(job.id) >= 3, 5, message="notifications")
    executor.close()
    assert not (tmp_path / "notify.sock").exists()


def _supervisors_of(run_dir: str) -> list[int]:
    """Processes working in the run dir itself: supervisors, forked or started (jobs work in base/;
    a job forked but not yet in base/ is told apart by its parent, a supervisor)."""
    parents = {}
    for entry in os.scandir("/proc"):
        try:
            if entry.name.isdigit() and os.readlink(f"/proc/{entry.name}/cwd") == run_dir:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
        except OSError:
            continue
    return sorted(pid for pid, parent in parents.items() if parent not in parents)
