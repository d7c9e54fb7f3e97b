"""The queue for local capacity (issue 10): how long a scheduling decision takes with 10,000 jobs
queued, and how soon the next job runs once capacity frees.

1. Decision latency, in-process: 10,000 jobs wait (5 tenants x 3 priorities x 3 instance shapes) on
   a full host; each trial frees one running job and times `Scheduler.release` -> the next job
   granted (the reconciler's whole decision: ledger, policy, GPU choice). A new job joins each trial,
   so the queue stays at 10,000. FLOOR, same run: the simplest possible decision, a FIFO
   `deque.popleft()` plus the dict bookkeeping of a grant.
2. Capacity freed -> next job running, on a real `trainplane serve --queue` whose one slot is the
   host's CPUs: job A runs, job B waits; StopTrainingJob(A); time from A's TrainingEndTime (the
   server recorded Stopped, and freed the slot) to B's first line (the job script writes the time).
   FLOOR, interleaved: bare Popen of the same script -> its first line.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import harness
import report

from trainplane.service.capacity import Demand, HostCapacity, ResourceSettings
from trainplane.service.queue import Entry
from trainplane.service.scheduler import Scheduler

SHAPES = (Demand(1.0, 1024, 0), Demand(2.0, 4096, 0), Demand(1.0, 2048, 1))
TENANTS = tuple(f"tenant-{index}" for index in range(5))
JOB_SCRIPT = """\
import os, signal, sys, time
open(os.environ["BENCH_MARK_FILE"], "w").write(repr(time.time()))
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
while True:
    time.sleep(0.05)
"""


class _NoStore:
    """The scheduler reads a new job's tags from the store; the decision under test never does."""

    def get_tags(self, job_id: str) -> dict[str, str]:
        return {}


class _Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)


def _entry(index: int, at: datetime) -> Entry:
    shape = SHAPES[index % len(SHAPES)]
    tenant = TENANTS[(index // 3) % len(TENANTS)]
    return Entry(at + timedelta(microseconds=index), f"job-{index}", tenant, index % 3, shape)


def decision_trials(queued: int, trials: int) -> tuple[list[float], list[float], list[float]]:
    """(ms per decision with `queued` waiting, ms per FIFO floor decision, ms per new job admitted)."""
    host = HostCapacity(cpus=8, memory_mib=64 * 1024, gpu_ids=("0", "1"), gpu_source="declared")
    # The reserve time is far off: every trial takes the full policy path (priority, fairness, fit).
    settings = ResourceSettings(host, is_queue_enabled=True, reserve_after_seconds=10**9)
    scheduler = Scheduler(_NoStore(), _Clock(), settings)  # type: ignore[arg-type]
    queue, ledger = scheduler.queue, scheduler.ledger
    assert queue is not None and ledger is not None
    start = datetime.now(UTC)
    for index in range(queued):
        queue.add(_entry(index, start))
    running = queue.grant(start)  # fills the host
    for job_id in running:
        queue.take_grant(job_id)
    floor_queue: collections.deque[str] = collections.deque(f"job-{i}" for i in range(queued))
    floor_held: dict[str, int] = {}
    decisions, floor, admits = [], [], []
    for trial in range(trials):
        began = time.perf_counter()  # a new job arrives: queued, a decision, and its status message
        entry = _entry(queued + trial, start)
        queue.add(entry)
        queue.grant(start)
        queue.message_of(entry.job_id)
        admits.append((time.perf_counter() - began) * 1000)
        victim = running.pop(0)
        began = time.perf_counter()
        granted = scheduler.release(victim)
        decisions.append((time.perf_counter() - began) * 1000)
        for job_id in granted:
            queue.take_grant(job_id)
        running.extend(granted)
        floor_queue.append(f"floor-{trial}")
        began = time.perf_counter()
        floor_held.pop(victim, None)
        floor_held[floor_queue.popleft()] = trial
        floor.append((time.perf_counter() - began) * 1000)
    # A release may let two smaller jobs in for one bigger: the queue drifts a little below `queued`.
    assert len(queue) >= queued * 0.9, "the queue must stay (nearly) full"
    return decisions, floor, admits


def _first_line(path: Path) -> float:
    harness.wait_for(functools.partial(_has_content, path), 60, 0.002)
    return float(path.read_text())


def _has_content(path: Path) -> bool:
    try:
        return bool(path.read_text())
    except FileNotFoundError:
        return False


def freed_trial(api: harness.Api, script: Path, work: Path, holder: str) -> tuple[float, str]:
    """Stop `holder` with the next job queued behind it; (seconds from its end to the next's first line,
    the next job, which now holds the slot)."""
    name = harness.unique_name("next")
    mark = work / f"{name}.mark"
    request = harness.job_request(
        name, ["python", str(script)], work / "output", {"BENCH_MARK_FILE": str(mark)}
    )
    api.call("CreateTrainingJob", request)
    harness.wait_for(lambda: _says_waiting(api, name), 30, 0.01)
    api.call("StopTrainingJob", {"TrainingJobName": holder})
    first_line = _first_line(mark)
    ended = harness.describe(api, holder)["TrainingEndTime"]
    return first_line - ended, name


def _says_waiting(api: harness.Api, name: str) -> bool:
    doc = harness.describe(api, name)
    return bool(doc["SecondaryStatusTransitions"][-1]["StatusMessage"].startswith("waiting for"))


def floor_trial(script: Path, work: Path, index: int) -> float:
    mark = work / f"floor-{index}.mark"
    sent = time.time()
    child = subprocess.Popen(
        [harness.PYTHON, str(script)],
        env={**os.environ, "BENCH_MARK_FILE": str(mark)},
        start_new_session=True,
    )
    try:
        return _first_line(mark) - sent
    finally:
        child.terminate()
        child.wait(30)


def freed_to_running(trials: int) -> tuple[list[float], list[float]]:
    cpus = len(os.sched_getaffinity(0))
    types = json.dumps({"ml.m5.large": {"vcpus": cpus, "memory_gib": 0.5}})  # one job fills the host
    samples, floor = [], []
    with tempfile.TemporaryDirectory(prefix="bench-sched-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "holds_the_slot.py", JOB_SCRIPT)
        extra = (
            "--queue",
            "--instance-types",
            types,
            "--reserve-memory-mib",
            "0",
            "--stop-grace-seconds",
            "5",
        )
        with harness.running_server(work / "data", *extra) as server:
            api = server.api()
            holder = harness.unique_name("first")
            mark = work / f"{holder}.mark"
            api.call(
                "CreateTrainingJob",
                harness.job_request(
                    holder, ["python", str(script)], work / "output", {"BENCH_MARK_FILE": str(mark)}
                ),
            )
            _first_line(mark)
            for index in range(trials):
                seconds, holder = freed_trial(api, script, work, holder)
                samples.append(seconds * 1000)
                floor.append(floor_trial(script, work, index) * 1000)
            harness.stop_all(api)
            api.close()
    return samples, floor


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick,
        {"queued": 10_000, "decisions": 1_000, "freed": 30},
        {"queued": 10_000, "decisions": 100, "freed": 3},
    )
    result = report.Result("scheduling: local queue decisions and capacity freed -> next job running (ms)")
    decisions, decision_floor, admits = decision_trials(n["queued"], n["decisions"])
    decided = result.add(f"decision with {n['queued']:,} queued (release -> next granted)", decisions)
    result.add(f"new job with {n['queued']:,} queued (enqueue, decide, its message)", admits)
    result.add("FLOOR: FIFO deque.popleft + dict grant", decision_floor)
    freed, freed_floor = freed_to_running(n["freed"])
    running = result.add("capacity freed (TrainingEndTime) -> next job's first line", freed)
    result.add("FLOOR: Popen -> first line", freed_floor)
    result.bar(f"decision p50 with {n['queued']:,} queued <= 5 ms", decided["p50"], "<=", 5)
    result.bar("capacity freed -> next running p50 <= 100 ms", running["p50"], "<=", 100)
    result.notes.append("server timestamps are rounded to 1 ms on the wire; all clocks are this host's")
    return result


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
