"""The Executor port's contract, on every implementation (local today; Slurm and Ray join here).

Each executor brings an `Engine`: how to build it on a directory, and how to make one of its jobs lose
its supervisor for good (the one fault the contract needs to stage). Everything else is the port.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import local_jobs, ray_cluster, slurm
from tests.support.waiting import wait_until
from trainplane.domain.job import ExecutorHandle, FailureKind
from trainplane.domain.status import StopReason
from trainplane.executors.local import launcher
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.slurm.executor import SlurmExecutor
from trainplane.service.ports import Executor, Phase

STUBBORN = 'trap "" TERM; ( setsid sleep 1000 & ); bash -c "sleep 1001; true" & touch "$TEST_DIR/ready"; wait'


@dataclass(frozen=True)
class Engine:
    make: Callable[[Path], Executor]  # an executor keeping its state under this directory
    lose: Callable[[ExecutorHandle], None]  # the job's supervisor vanishes and none may succeed it
    cleanup: Callable[[Path], None]
    require: Callable[[], None] = lambda: None  # the engine runs here, or the test fails loudly


def _lose_local(handle: ExecutorHandle) -> None:
    run_dir = Path(handle.ref["run_dir"])
    (run_dir / "successors").write_text(str(launcher.MAX_SUCCESSORS))
    os.kill(local_jobs.supervisor_pid(handle), signal.SIGKILL)


def _lose_slurm(handle: ExecutorHandle) -> None:
    os.kill(local_jobs.supervisor_pid(handle), signal.SIGKILL)  # the batch script: Slurm ends the job


ENGINES = {
    "local": Engine(lambda path: LocalExecutor(path), _lose_local, local_jobs.kill_leftovers),
    "slurm": Engine(lambda path: SlurmExecutor(path), _lose_slurm, slurm.kill_leftovers, slurm.require),
    "ray": Engine(ray_cluster.make_executor, ray_cluster.lose, ray_cluster.cleanup, ray_cluster.require),
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    chosen = ENGINES[request.param]
    chosen.require()
    yield chosen
    chosen.cleanup(tmp_path / "runs")


@pytest.fixture
def executor(engine: Engine, tmp_path: Path) -> Iterator[Executor]:
    made = engine.make(tmp_path / "runs")
    yield made
    made.close()


def test_launch_is_idempotent_per_job_id(engine: Engine, executor: Executor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, 'echo started >> "$TEST_DIR/starts"; sleep 1000')
    first = executor.launch(job)
    again = executor.launch(job)
    other = engine.make(tmp_path / "runs")
    try:
        assert other.launch(job) == first == again
    finally:
        other.close()
    local_jobs.wait_for_phase(executor, first, (Phase.RUNNING,), 20)
    starts = tmp_path / "starts"
    # `>>` creates the file before it writes the line: wait for a whole line, not for the file.
    wait_until(lambda: starts.exists() and starts.read_text().endswith("\n"), 10)
    assert starts.read_text() == "started\n"


def test_observe_reaches_finished_with_the_exit_code(executor: Executor, tmp_path: Path) -> None:
    ok = executor.launch(local_jobs.make_job(tmp_path, 'echo w > "$SM_MODEL_DIR/m.bin"'))
    failing = executor.launch(local_jobs.make_job(tmp_path, "exit 3"))
    done = local_jobs.wait_finished(executor, ok, 20)
    assert done.phase is Phase.FINISHED and done.outcome.exit_code == 0 and done.outcome.failure is None
    assert done.outcome.model_uri is not None and not done.was_stopped
    failed = local_jobs.wait_finished(executor, failing, 20)
    assert failed.phase is Phase.FINISHED and failed.outcome.exit_code == 3
    assert failed.outcome.failure is not None and failed.outcome.failure.kind is FailureKind.ALGORITHM


def test_stop_kills_a_stubborn_job_and_its_forked_away_daemon_at_the_deadline(
    executor: Executor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 20, message="job ready")
    intent = local_jobs.stop_intent(grace_seconds=1.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    assert observation.stop == intent
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert report.term_pids >= 3 and report.kill_pids >= 3 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_stop_before_the_launch_never_runs_the_job(executor: Executor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ran"')
    handle = ExecutorHandle(executor.name, {"run_dir": str(tmp_path / "runs" / job.id), "job_id": job.id})
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=5.0))
    launched = executor.launch(job)  # the same job and run dir (an engine may add its own id)
    assert launched.executor == handle.executor and launched.ref.items() >= handle.ref.items()
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and observation.started_at is None
    assert not (tmp_path / "ran").exists()


def test_max_runtime_is_enforced_by_the_executor_itself(executor: Executor, tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "sleep 1000", max_runtime_seconds=1, grace_seconds=5.0)
    handle = executor.launch(job)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and observation.stop is not None
    assert observation.stop.reason is StopReason.MAX_RUNTIME
    assert observation.started_at is not None
    started_to_stop = (observation.stop.requested_at - observation.started_at).total_seconds()
    assert 1.0 <= started_to_stop <= 1.5


def test_read_log_pages_through_stdout_and_stderr(executor: Executor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, "echo one; echo two >&2; echo three"))
    local_jobs.wait_finished(executor, handle, 20)
    whole = executor.read_log(handle, 0, 1 << 20)
    assert whole == b"one\ntwo\nthree\n"
    assert executor.read_log(handle, 4, 4) == b"two\n"
    assert executor.read_log(handle, len(whole), 100) == b""
    # Past what a file system can seek to (the fuzzer's 17592186040321 was a 500): the end, not an error.
    assert executor.read_log(handle, 17592186040321, 100) == b""
    assert executor.read_log(handle, 2**63 - 1, 100) == b""


def test_kill_all_ends_every_process_of_a_lost_job(
    engine: Engine, executor: Executor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, STUBBORN)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 20, message="job ready")
    engine.lose(handle)
    observation = local_jobs.wait_for_phase(executor, handle, (Phase.LOST, Phase.FINISHED), 20)
    assert observation.phase is Phase.LOST and observation.started_at is not None
    report = executor.kill_all(handle)
    assert report.kill_pids >= 3 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_restarted_control_plane_reattaches_and_stops_the_job(
    engine: Engine, executor: Executor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ready"; exec sleep 1000')
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 20, message="job ready")
    executor.close()  # the control plane goes away; the job must not notice
    restarted = engine.make(tmp_path / "runs")
    try:
        assert restarted.observe(handle).phase is Phase.RUNNING
        restarted.request_stop(handle, local_jobs.stop_intent(grace_seconds=5.0))
        observation = local_jobs.wait_finished(restarted, handle, 20)
        assert observation.phase is Phase.FINISHED and observation.was_stopped
        assert observation.outcome.exit_code == 128 + signal.SIGTERM
    finally:
        restarted.close()
