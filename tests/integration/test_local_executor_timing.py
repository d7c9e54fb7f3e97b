"""How fast the local executor starts and stops jobs; prints the figures (run with -s to see them)."""

from __future__ import annotations

import functools
import json
import os
import statistics
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.supervisor import process_tree

ROUNDS = 20

EXIT_ON_TERM = textwrap.dedent(
    """
    import os, pathlib, signal, sys, time
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
    pathlib.Path(os.environ["TEST_DIR"], "ready").write_text("1")
    while True:  # short sleeps: a SIGTERM landing just before a long one would be slept through
        time.sleep(0.05)
    """
)


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield LocalExecutor(tmp_path / "runs")
    local_jobs.kill_leftovers(tmp_path / "runs")


def _report(name: str, samples_seconds: list[float]) -> float:
    median_ms = statistics.median(samples_seconds) * 1000
    p90_ms = statistics.quantiles(samples_seconds, n=10)[-1] * 1000
    print(
        json.dumps(
            {
                "measure": name,
                "median_ms": round(median_ms, 2),
                "p90_ms": round(p90_ms, 2),
                "n": len(samples_seconds),
            }
        )
    )
    return median_ms


@pytest.mark.slow
def test_launch_to_process_running(executor: LocalExecutor, tmp_path: Path) -> None:
    samples = []
    for index in range(ROUNDS):
        job_dir = tmp_path / f"job{index}"
        job_dir.mkdir()
        # $EPOCHREALTIME is a bash builtin: the first line costs no fork.
        job = local_jobs.make_job(job_dir, 'printf "%s" "$EPOCHREALTIME" > "$TEST_DIR/started"')
        launched_at = time.time()
        handle = executor.launch(job)
        started = wait_until(functools.partial(_read_float, job_dir / "started"), 20)
        samples.append(started - launched_at)
        local_jobs.wait_finished(executor, handle, 20)
    assert _report("launch_to_process_running", samples) < 2000


@pytest.mark.slow
def test_stop_to_finished_for_a_job_exiting_on_sigterm(executor: LocalExecutor, tmp_path: Path) -> None:
    term_samples, finish_samples = [], []
    for index in range(ROUNDS):
        job_dir = tmp_path / f"job{index}"
        job_dir.mkdir()
        (job_dir / "job.py").write_text(EXIT_ON_TERM)
        job = local_jobs.make_job(job_dir, f'exec "{sys.executable}" "{job_dir / "job.py"}"')
        handle = executor.launch(job)
        wait_until((job_dir / "ready").exists, 20, message="ready")
        intent = local_jobs.stop_intent(grace_seconds=30)
        executor.request_stop(handle, intent)
        observation = local_jobs.wait_finished(executor, handle, 20)
        assert observation.finished_at is not None and observation.outcome.stop_report is not None
        assert observation.outcome.stop_report.term_sent_at is not None
        term_samples.append(
            (observation.outcome.stop_report.term_sent_at - intent.requested_at).total_seconds()
        )
        finish_samples.append((observation.finished_at - intent.requested_at).total_seconds())
    _report("stop_to_sigterm_sent", term_samples)
    assert _report("stop_to_finished", finish_samples) < 2000


@pytest.mark.slow
def test_cost_of_entering_the_cgroup_before_exec(tmp_path: Path) -> None:
    leaf = process_tree.JobCgroup.create(f"timing-{os.getpid()}")
    assert leaf is not None, "cgroup v2 is writable on this machine (reference/engines.md section 5)"
    plain, in_cgroup = [], []
    try:
        for _ in range(ROUNDS):
            plain.append(_spawn_and_wait(None))
            fd = leaf.open_procs()
            try:
                in_cgroup.append(_spawn_and_wait(fd))
            finally:
                os.close(fd)
    finally:
        wait_until(lambda: not leaf.is_populated(), 5, message="leaf empty")
        leaf.remove()
    _report("popen_true_plain", plain)
    _report("popen_true_preexec_cgroup", in_cgroup)


def _spawn_and_wait(procs_fd: int | None) -> float:
    started = time.perf_counter()
    preexec = None if procs_fd is None else (lambda: process_tree.enter_cgroup_fd(procs_fd))
    subprocess.run(["true"], check=True, preexec_fn=preexec, start_new_session=True)
    return time.perf_counter() - started


def _read_float(path: Path) -> float | None:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    return float(text) if text else None
