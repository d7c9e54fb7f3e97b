"""The Slurm executor on a real single-node Slurm (scripts/slurm-up): the stop protocol stays ours.

Cooperative stop, a job ignoring SIGTERM killed at its deadline with nothing left, a stop while the job
still waits in Slurm's queue, an admin's scancel, and a control plane restarted mid-stop.
"""

from __future__ import annotations

import shlex
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import local_jobs, slurm
from tests.support.waiting import wait_until
from trainplane.domain import errors, instance_types
from trainplane.domain.status import Secondary, StopReason
from trainplane.executors.slurm import commands
from trainplane.executors.slurm.executor import SlurmExecutor
from trainplane.service import observing
from trainplane.service.ports import Phase

# Python, not a bash trap: Slurm sends SIGCONT before SIGTERM, and bash's `wait` may return on a
# child's SIGCONT and end the script before the SIGTERM arrives (seen in 2 of 6 admin scancels).
SAVE_ON_TERM = f"exec {shlex.quote(sys.executable)} -c " + shlex.quote(
    textwrap.dedent(
        """
        import os, pathlib, signal, sys, time
        def on_term(signum, frame):
            pathlib.Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("saved\\n")
            with open(os.path.join(os.environ["TEST_DIR"], "sigterms"), "a") as log:
                log.write(f"{time.time()}\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        pathlib.Path(os.environ["TEST_DIR"], "ready").touch()
        while True:  # not signal.pause(): a SIGTERM landing just before it would be slept through
            time.sleep(0.05)
        """
    )
)
IGNORE_TERM = (
    'trap "" TERM; ( setsid sleep 1000 & ); bash -c "sleep 1001; true" & touch "$TEST_DIR/ready"; wait'
)


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[SlurmExecutor]:
    slurm.require()
    made = SlurmExecutor(tmp_path / "runs")
    yield made
    made.close()
    slurm.kill_leftovers(tmp_path / "runs")


def _ended(slurm_job_id: str) -> str | None:
    """Slurm's final state of the job once it has ended (None while it runs)."""
    state = slurm.state_of(slurm_job_id)
    return None if state in commands.ACTIVE_STATES else state or "purged"


def test_cooperative_stop_saves_the_model_and_ends_the_slurm_job(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, SAVE_ON_TERM, grace_seconds=60.0)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    assert local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 10).started_at is not None
    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=60.0))
    observation = local_jobs.wait_finished(executor, handle, 10)  # far less than the 60 s grace
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    assert observation.outcome.exit_code == 0 and observation.outcome.failure is None
    report = observation.outcome.stop_report
    assert report is not None and report.term_pids >= 1 and report.kill_pids == 0
    assert (tmp_path / "sigterms").read_text().count("\n") == 1  # one SIGTERM, ours: Slurm sent none
    assert observation.outcome.model_uri is not None
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved\n"
    slurm_job_id = handle.ref["slurm_job_id"]
    assert wait_until(lambda: _ended(slurm_job_id), 10) == "COMPLETED"


def test_a_job_ignoring_sigterm_is_killed_at_its_deadline_with_no_survivor(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, IGNORE_TERM)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    intent = local_jobs.stop_intent(grace_seconds=2.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and observation.stop == intent
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None
    # The job's own 2 s window, not Slurm's KillWait (10 s here, floor 5 s).
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert report.term_pids >= 3 and report.kill_pids >= 3 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []
    assert wait_until(lambda: _ended(handle.ref["slurm_job_id"]), 10) == "COMPLETED"


def test_a_stop_while_pending_cancels_the_slurm_job_before_it_ever_runs(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    filler = slurm.submit_filler(cpus=_node_cpus())
    try:
        wait_until(lambda: slurm.state_of(filler) == "RUNNING", 30, message="the node is full")
        job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ran"; sleep 1000')
        handle = executor.launch(job)
        slurm_job_id = handle.ref["slurm_job_id"]
        assert slurm.state_of(slurm_job_id) == "PENDING"
        executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=30.0))
        observation = local_jobs.wait_finished(executor, handle, 10)
        assert observation.phase is Phase.FINISHED and observation.was_stopped
        assert observation.started_at is None and observation.outcome.failure is None
        assert observation.outcome.model_uri is not None  # an empty model saying why, as for local jobs
        assert local_jobs.manifest_of(observation.outcome.model_uri)["reason"] == "user"
        assert slurm.state_of(slurm_job_id) == "CANCELLED"
    finally:
        commands.kill(filler)
    assert not (tmp_path / "ran").exists()


def test_an_admins_scancel_ends_the_job_as_preempted_through_our_protocol(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, SAVE_ON_TERM, grace_seconds=3.0)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    commands.run(["scancel", handle.ref["slurm_job_id"]])  # an admin, outside trainplane
    observation = local_jobs.wait_finished(executor, handle, 20)
    # Slurm's SIGTERM reached the job too (proctrack tracks it): it may exit before ours is sent.
    assert observation.phase is Phase.FINISHED
    assert observation.stop is not None and observation.stop.reason is StopReason.PREEMPTED
    assert observation.outcome.failure is None and observation.outcome.model_uri is not None
    ended = observing.apply(job, observation, datetime.now(UTC))  # what the reconciler records
    assert ended.status is Secondary.STOPPED and ended.stop is not None
    assert ended.stop.reason is StopReason.PREEMPTED
    assert local_jobs.model_members(observation.outcome.model_uri)["model.txt"] == b"saved\n"
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_an_admins_immediate_kill_never_leaves_the_job_in_progress(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, IGNORE_TERM)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    # --batch --full --signal=KILL: everything Slurm tracks dies at once, our supervisor included.
    commands.run(["scancel", "--batch", "--full", "--signal=KILL", handle.ref["slurm_job_id"]])
    observation = local_jobs.wait_for_phase(executor, handle, (Phase.LOST, Phase.FINISHED), 20)
    assert observation.phase is Phase.LOST and observation.started_at is not None
    report = executor.kill_all(handle)  # what the reconciler does with a lost job
    assert report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def test_a_restarted_control_plane_reattaches_by_slurm_job_id_mid_stop(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, IGNORE_TERM)
    handle = executor.launch(job)
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")
    intent = local_jobs.stop_intent(grace_seconds=3.0)
    executor.request_stop(handle, intent)
    executor.close()  # the control plane goes away mid-stop; the deadline is the supervisor's
    restarted = SlurmExecutor(tmp_path / "runs")
    try:
        assert restarted.observe(handle).phase is Phase.RUNNING
        observation = local_jobs.wait_finished(restarted, handle, 20)
    finally:
        restarted.close()
    assert observation.was_stopped and observation.stop == intent
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None and report.survivors == ()
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.25)
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []


def _node_cpus() -> int:
    out = commands.run(["sinfo", "--noheader", "--Node", "--format=%c"])
    return int(out.split()[0])


def test_a_crash_between_sbatch_and_its_record_never_submits_twice(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ready"; sleep 1000')
    run_dir = tmp_path / "runs" / job.id
    run_dir.mkdir(parents=True)
    # What a control plane left when it died right after sbatch returned: the job runs, unrecorded.
    (run_dir / "slurm.json").write_text('{"submitting": true}')
    executor.launch(job)  # writes launch.json and submits once...
    (run_dir / "slurm.json").write_text('{"submitting": true}')  # ...and crashes before recording it
    restarted = SlurmExecutor(tmp_path / "runs")
    try:
        handle = restarted.launch(job)
    finally:
        restarted.close()
    named = commands.run(["squeue", "--noheader", f"--name=tp-{job.id}", "--format=%i"]).split()
    assert named == [handle.ref["slurm_job_id"]]
    wait_until(lambda: (tmp_path / "ready").exists(), 30, message="job ready")


def test_an_instance_type_larger_than_any_node_is_refused_at_launch(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    cpus = _node_cpus()
    too_big = next(
        name
        for name, resources in sorted(instance_types.PUBLISHED.items(), key=lambda item: item[1].vcpus)
        if resources.vcpus > cpus and not resources.gpus
    )
    job = local_jobs.make_job(tmp_path, 'touch "$TEST_DIR/ran"', instance_type=too_big)
    with pytest.raises(errors.Invalid, match="Slurm refused to submit the job"):
        executor.launch(job)
    assert not (tmp_path / "ran").exists()


def test_report_changes_wake_the_control_plane_without_a_datagram_hint(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    """A node's datagram hint cannot reach a server on another host: the executor polls the reports."""
    woken: list[str] = []
    executor.watch(woken.append)  # this executor has no notify socket: only the poll can wake us
    job = local_jobs.make_job(tmp_path, "exit 0")
    handle = executor.launch(job)
    wait_until(lambda: woken.count(job.id) >= 1, 30, message="woken by the report poll")
    local_jobs.wait_finished(executor, handle, 30)


def test_read_log_past_any_seekable_offset_is_the_end(executor: SlurmExecutor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, "echo one"))
    local_jobs.wait_finished(executor, handle, 30)
    assert executor.read_log(handle, 0, 100) == b"one\n"
    assert executor.read_log(handle, 17592186040321, 100) == b""  # seek() there fails with EINVAL
