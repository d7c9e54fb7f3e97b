"""Issue 10: each supervisor samples its job's CPU and memory into the run dir; the executor reads them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.supervisor import usage
from trainplane.service.ports import UsageSample

MIB = 1 << 20
# Holds 64 MiB (touched) and burns CPU until the test drops a file, then exits 0.
HOG = (
    f"{sys.executable} -c '"
    "import os, time\n"
    "block = bytearray(64 << 20)\n"
    'block[::4096] = b"x" * len(block[::4096])\n'
    'while not os.path.exists(os.environ["TEST_DIR"] + "/release"):\n'
    "    sum(range(10000))\n"
    "'"
)


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield from local_jobs.local_executor(tmp_path, usage_interval_seconds=0.2)


def test_running_job_is_sampled_periodically_and_once_more_at_its_end(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, HOG))

    def three_samples_holding_the_block() -> list[UsageSample] | None:
        samples = list(executor.read_usage(handle))
        holding = [s for s in samples if s.memory_bytes >= 64 * MIB]
        return samples if len(holding) >= 3 else None

    running = wait_until(three_samples_holding_the_block, 30, message="three samples holding 64 MiB")
    assert [s.at for s in running] == sorted(s.at for s in running)
    assert [s.cpu_seconds for s in running] == sorted(s.cpu_seconds for s in running)
    assert running[-1].cpu_seconds > running[0].cpu_seconds  # it burns CPU between samples
    (tmp_path / "release").touch()
    observation = local_jobs.wait_finished(executor, handle, 30)
    assert observation.outcome.exit_code == 0
    final = executor.read_usage(handle)
    assert len(final) > len(running)
    assert final[-1].cpu_seconds >= running[-1].cpu_seconds
    assert final[-1].at >= observation.exited_at  # type: ignore[operator]


def test_sampling_switched_off_writes_nothing(tmp_path: Path) -> None:
    executor = LocalExecutor(tmp_path / "runs", usage_interval_seconds=0)
    try:
        handle = executor.launch(local_jobs.make_job(tmp_path, "exit 0"))
        local_jobs.wait_finished(executor, handle, 30)
        assert executor.read_usage(handle) == []
        assert not (Path(handle.ref["run_dir"]) / "usage.log").exists()
    finally:
        local_jobs.kill_leftovers(tmp_path / "runs")
        executor.close()


def test_a_line_cut_by_a_crash_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "usage.log"
    path.write_text("1700000000.000 1.500000 1048576 2097152\n1700000010.000 2.000000 2048 -\n17000000")
    samples = usage.read_samples(path)
    assert [(s.cpu_seconds, s.memory_bytes, s.memory_peak_bytes) for s in samples] == [
        (1.5, 1048576, 2097152),
        (2.0, 2048, None),
    ]
    assert usage.read_samples(tmp_path / "absent") == []


def test_service_reads_a_jobs_usage_through_its_executor(tmp_path: Path) -> None:
    from trainplane.config import Settings
    from trainplane.domain import errors
    from trainplane.domain.status import JobKind
    from trainplane.server import build
    from trainplane.service.jobs import NewJob

    settings = Settings(data_dir=tmp_path / "data", reconcile_interval_seconds=1, allowed_roots=(tmp_path,))
    plane = build(settings)
    try:
        request = NewJob(
            name="sampled",
            kind=JobKind.TRAINING,
            dialect="test",
            image="trainplane/python",
            request={"TrainingJobName": "sampled"},
            entrypoint=("python", "-c", "print('done')"),
            output_uri=f"file://{tmp_path / 'out'}",
        )
        plane.service.create("t", request)
        assert plane.service.read_usage("t", JobKind.TRAINING, "sampled") == []  # not launched yet
        plane.reconciler.recover()
        plane.reconciler.start()
        samples = wait_until(lambda: plane.service.read_usage("t", JobKind.TRAINING, "sampled") or None, 30)
        assert samples[-1].cpu_seconds >= 0 and samples[-1].memory_bytes >= 0
        with pytest.raises(errors.NotFound):
            plane.service.read_usage("other-tenant", JobKind.TRAINING, "sampled")
    finally:
        plane.close()
        local_jobs.kill_leftovers(settings.runs_dir)
