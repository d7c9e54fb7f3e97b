"""Issue 10: an instance type's CPUs and memory are kernel limits on the job's own cgroups (real processes).

On this project's CI host cpu and memory are cgroup v1 controllers (v2 holds only hugetlb), so these
run the v1 path there and the v2 path on a cgroup2-only host: the same assertions hold on both.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.domain.instance_types import Allocation
from trainplane.domain.job import FailureKind
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.supervisor import limits
from trainplane.service.ports import Phase

BURN_FOUR_WORKERS = (  # more than the 2 cores: on a busy shared machine one CPU's worth is still exceeded
    f"{sys.executable} -c '"
    "import multiprocessing, os, time\n"
    "def burn():\n"
    '    while not os.path.exists(os.environ["TEST_DIR"] + "/release"):\n'
    "        sum(range(10000))\n"
    "workers = [multiprocessing.Process(target=burn) for _ in range(4)]\n"
    "[w.start() for w in workers]\n"
    "[w.join() for w in workers]\n"
    "'"
)
ALLOCATE_400_MIB = (
    f"{sys.executable} -c 'block = bytearray(400 << 20)\nblock[::4096] = b\"x\" * len(block[::4096])\n'"
)
WAIT_FOR_TERM = "trap 'exit 0' TERM; while true; do sleep 0.05; done"


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield from local_jobs.local_executor(tmp_path)


def _cgroups(handle: object) -> limits.JobLimits:
    run_dir = Path(handle.ref["run_dir"])  # type: ignore[attr-defined]
    found = limits.JobLimits.from_dict(json.loads((run_dir / "limits.json").read_text()))
    assert found is not None
    return found


def _throttled_periods(cgroup: limits.JobLimits) -> int:
    leaf = cgroup.v2_leaf if cgroup.v2_leaf is not None else cgroup.v1_leaves["cpu"]
    stats = dict(line.split() for line in (leaf / "cpu.stat").read_text().splitlines())
    return int(stats["nr_throttled"])


def _cpu_quota(cgroup: limits.JobLimits) -> str:
    if cgroup.v2_leaf is not None:
        return (cgroup.v2_leaf / "cpu.max").read_text().split()[0]
    return (cgroup.v1_leaves["cpu"] / "cpu.cfs_quota_us").read_text().strip()


def test_one_cpu_instance_gets_one_cpu_of_quota(executor: LocalExecutor, tmp_path: Path) -> None:
    handle = executor.launch(local_jobs.make_job(tmp_path, WAIT_FOR_TERM), Allocation(1.0, 1024))
    local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 30)
    cgroup = _cgroups(handle)
    assert cgroup.limits == limits.Limits(1.0, 1024 << 20)
    assert _cpu_quota(cgroup) == str(limits.CPU_PERIOD_USEC)  # one period's worth per period
    executor.request_stop(handle, local_jobs.stop_intent(5))
    local_jobs.wait_finished(executor, handle, 30)


def test_cpu_bound_job_over_its_cpus_is_throttled(executor: LocalExecutor, tmp_path: Path) -> None:
    # A quarter CPU, so the kernel must throttle even when other work on this shared 2-core machine
    # leaves the job less than a whole core (with 1 CPU it throttles only when it gets both cores).
    handle = executor.launch(local_jobs.make_job(tmp_path, BURN_FOUR_WORKERS), Allocation(0.25, 1024))
    local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 30)
    cgroup = _cgroups(handle)
    wait_until(lambda: _throttled_periods(cgroup) > 3, 60, message="the kernel throttles the job")
    (tmp_path / "release").touch()
    assert local_jobs.wait_finished(executor, handle, 30).outcome.exit_code == 0


def test_job_past_its_memory_is_oom_killed_and_failed_while_a_neighbour_runs_on(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    neighbour_job = local_jobs.make_job(tmp_path, WAIT_FOR_TERM)
    neighbour = executor.launch(neighbour_job, Allocation(1.0, 256))
    local_jobs.wait_for_phase(executor, neighbour, (Phase.RUNNING,), 30)
    hog = executor.launch(local_jobs.make_job(tmp_path, ALLOCATE_400_MIB), Allocation(1.0, 200))
    ended = local_jobs.wait_finished(executor, hog, 30)
    assert ended.outcome.exit_code == 128 + signal.SIGKILL
    assert ended.outcome.failure is not None and ended.outcome.failure.kind is FailureKind.USER
    assert ended.outcome.failure.message.startswith("Please use an instance type with more memory")
    assert "200 MiB" in ended.outcome.failure.message
    assert executor.observe(neighbour).phase is Phase.RUNNING
    assert local_jobs.processes_with_marker(local_jobs.marker_of(neighbour_job))
    executor.request_stop(neighbour, local_jobs.stop_intent(5))
    assert local_jobs.wait_finished(executor, neighbour, 30).was_stopped


def test_job_is_told_what_it_got(executor: LocalExecutor, tmp_path: Path) -> None:
    script = 'env | grep -E "^(SM_NUM_CPUS|SM_NUM_GPUS|CUDA_VISIBLE_DEVICES|NVIDIA_VISIBLE_DEVICES)=" | sort'
    handle = executor.launch(local_jobs.make_job(tmp_path, script), Allocation(2.0, 512, ("1",)))
    assert local_jobs.wait_finished(executor, handle, 30).outcome.exit_code == 0
    lines = executor.read_log(handle, 0, 1 << 16).decode().split()
    assert lines == ["CUDA_VISIBLE_DEVICES=1", "NVIDIA_VISIBLE_DEVICES=1", "SM_NUM_CPUS=2", "SM_NUM_GPUS=1"]
    config_path = Path(handle.ref["run_dir"]) / "base" / "input" / "config" / "resourceconfig.json"
    config = json.loads(config_path.read_text())
    assert config["current_instance_resources"] == {"cpus": 2.0, "memory_mib": 512, "gpus": ["1"]}
    assert Allocation.from_ref(handle.ref) == Allocation(2.0, 512, ("1",))


def test_a_job_given_no_gpu_sees_none(executor: LocalExecutor, tmp_path: Path) -> None:
    script = 'echo "cuda=[$CUDA_VISIBLE_DEVICES] nvidia=[$NVIDIA_VISIBLE_DEVICES] gpus=[$SM_NUM_GPUS]"'
    handle = executor.launch(local_jobs.make_job(tmp_path, script), Allocation(1.0, 512, ()))
    local_jobs.wait_finished(executor, handle, 30)
    assert executor.read_log(handle, 0, 1 << 16) == b"cuda=[] nvidia=[void] gpus=[0]\n"


def test_limits_are_enforceable_on_this_host() -> None:
    """The CI host must enforce both: a silent "not enforced" would make the tests above vacuous."""
    support = limits.probe()
    assert support.cpu is not None and support.memory is not None, support.describe()


def test_host_gpus_come_from_nvml_where_it_answers_else_from_the_declaration() -> None:
    """Runs everywhere: with NVML (nvidia-ml-py and a driver) it must list the devices; without, the
    host must really have no NVIDIA device nodes, and only a declaration names GPUs."""
    from trainplane.executors.local import host

    found = host.nvml_gpus()
    if found is None:
        assert not list(Path("/dev").glob("nvidia[0-9]*")), "NVIDIA devices present but NVML did not answer"
        assert host.detect().gpu_source == "none" and host.detect().gpu_ids == ()
    else:
        assert host.detect().gpu_source == "nvml" and host.detect().gpu_ids == found
    declared = host.detect(("0", "1"))
    assert (declared.gpu_ids, declared.gpu_source) == (("0", "1"), "declared")
    assert declared.cpus == len(os.sched_getaffinity(0)) and declared.memory_mib > 0
