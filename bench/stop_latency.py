"""StopTrainingJob → `Stopped` for a cooperative job (SIGTERM handler saves a model, exits 0).

Two observers: a tight DescribeTrainingJob poll over one keep-alive connection, and (on other jobs,
polled lazily so the poller does not compete for the 2 cores) the server-recorded TrainingEndTime.
FLOOR, interleaved in the same run: bare Popen of the same script + SIGTERM + waitpid.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report

JOB_SCRIPT = """\
import os, signal, sys, time
from pathlib import Path
marks = Path(os.environ["BENCH_MARK_DIR"])
def on_term(signum, frame):
    received = time.time()
    (Path(os.environ.get("SM_MODEL_DIR", marks)) / "model.txt").write_text("saved on SIGTERM")
    (marks / "sigterm").write_text(repr(received))
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
(marks / "ready").write_text(repr(time.time()))
while True:  # slices, not signal.pause(): a SIGTERM landing just before pause() would be slept through
    time.sleep(0.05)
"""
LAZY_POLL_SECONDS = 0.05
FLOOR_EXIT_TIMEOUT_SECONDS = 30


def _read_mark(marks: Path, name: str) -> float | None:
    try:
        return float((marks / name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def floor_trial(script: Path, work: Path, index: int) -> tuple[float, float | None]:
    """Popen → ready → SIGTERM → waitpid: (seconds to reaped, seconds to handler) from the kill."""
    marks = work / f"floor-{index}"
    marks.mkdir(parents=True)
    env = {**os.environ, "BENCH_MARK_DIR": str(marks), "SM_MODEL_DIR": str(marks)}
    child = subprocess.Popen([harness.PYTHON, str(script)], env=env, start_new_session=True)
    try:
        harness.wait_for(lambda: (marks / "ready").exists(), 30, 0.005)
        sent = time.time()
        child.send_signal(signal.SIGTERM)
        child.wait(FLOOR_EXIT_TIMEOUT_SECONDS)  # a floor trial that never ends fails the run, never hangs it
        reaped = time.time()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    received = _read_mark(marks, "sigterm")
    return reaped - sent, None if received is None else received - sent


def run_dirs_by_name(data_dir: Path) -> dict[str, Path]:
    found = {}
    for launch in (data_dir / "runs").glob("*/launch.json"):
        found[json.loads(launch.read_text())["job_name"]] = launch.parent
    return found


def stop_one(api: harness.Api, name: str, is_tight: bool) -> dict[str, Any]:
    """Stop `name`, watch it reach Stopped; the instants (epoch seconds) we saw."""
    sent = time.time()
    api.call("StopTrainingJob", {"TrainingJobName": name})
    returned = time.time()
    while True:
        doc = harness.describe(api, name)
        if doc["TrainingJobStatus"] == "Stopped":
            break
        if doc["TrainingJobStatus"] not in harness.ACTIVE:
            raise RuntimeError(f"{name} ended {doc['TrainingJobStatus']}: {doc.get('FailureReason')}")
        if not is_tight:
            time.sleep(LAZY_POLL_SECONDS)
    seen = time.time()
    details = doc.get("TrainplaneDetails", {})
    return {
        "sent": sent,
        "returned": returned,
        "seen": seen,
        "intent_recorded": details.get("StopRequestedTime"),
        "term_sent": details.get("Signals", {}).get("SigtermTime"),
        "stopped_recorded": doc.get("TrainingEndTime"),
        "exit_code": details.get("ExitCode"),
    }


def run_batch(server: harness.Server, api: harness.Api, work: Path, size: int) -> list[dict[str, Any]]:
    """Create `size` jobs, confirm each Training and its handler installed, then stop them one by one."""
    script = work / "cooperative.py"
    jobs: list[tuple[str, Path]] = []
    for _ in range(size):
        name = harness.unique_name("stop")
        marks = work / name
        marks.mkdir()
        request = harness.job_request(
            name, ["python", str(script)], work / "output", {"BENCH_MARK_DIR": str(marks)}
        )
        api.call("CreateTrainingJob", request)
        jobs.append((name, marks))
    harness.wait_status(api, [name for name, _ in jobs], "Training", 60)
    for _, marks in jobs:
        harness.wait_for(functools.partial(Path.exists, marks / "ready"), 30)
    samples = []
    for index, (name, marks) in enumerate(jobs):
        sample = stop_one(api, name, is_tight=index % 2 == 0)
        sample["observer"] = "tight" if index % 2 == 0 else "lazy"
        sample["term_received"] = _read_mark(marks, "sigterm")
        samples.append({"name": name, **sample})
    run_dirs = run_dirs_by_name(server.data_dir)
    for sample in samples:
        status = json.loads((run_dirs[sample["name"]] / "status.json").read_text())
        sample["exited"] = status.get("exited_at")
    return samples


def _since_sent(samples: list[dict[str, Any]], key: str) -> list[float]:
    return [(s[key] - s["sent"]) * 1000 for s in samples if s.get(key) is not None]


def summarize(samples: list[dict[str, Any]], floor: list[float], floor_term: list[float]) -> report.Result:
    result = report.Result("stop_latency: StopTrainingJob -> Stopped (cooperative job)")
    tight = [s for s in samples if s["observer"] == "tight"]
    lazy = [s for s in samples if s["observer"] == "lazy"]
    poll = result.add("Stopped seen by tight Describe poll", _since_sent(tight, "seen"))
    stamp = result.add("Stopped by server timestamp (lazy-poll jobs)", _since_sent(lazy, "stopped_recorded"))
    result.add("  same, on tight-poll jobs", _since_sent(tight, "stopped_recorded"))
    for key, label in (
        ("returned", "  breakdown: stop call returned"),
        ("intent_recorded", "  breakdown: stop intent recorded (server)"),
        ("term_sent", "  breakdown: SIGTERM sent (supervisor)"),
        ("term_received", "  breakdown: SIGTERM received (job handler)"),
        ("exited", "  breakdown: process exited (supervisor)"),
        ("stopped_recorded", "  breakdown: Stopped recorded (TrainingEndTime)"),
    ):
        result.add(label, _since_sent(lazy, key))
    floor_row = result.add("FLOOR: Popen + SIGTERM + waitpid", [f * 1000 for f in floor])
    result.add("FLOOR: SIGTERM received (job handler)", [f * 1000 for f in floor_term])
    for label, row in (("poll", poll), ("server ts", stamp)):
        # Issue 5's bars are on server timestamps; the poll row adds the client's polling.
        result.bar(f"p50 ({label}) <= 15 ms", row["p50"], "<=", 15)
        result.bar(f"p99 ({label}) <= 60 ms", row["p99"], "<=", 60)
        result.bar(f"p50 ({label}) - floor p50 <= 10 ms", row["p50"] - floor_row["p50"], "<=", 10)
    result.extra["jobs_stopped"] = len(samples)
    result.extra["exit_codes"] = sorted({str(s["exit_code"]) for s in samples})
    result.notes.append("server timestamps are rounded to 1 ms on the wire; all clocks are this host's")
    return result


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"batches": 20, "batch": 10}, {"batches": 2, "batch": 4})
    samples: list[dict[str, Any]] = []
    floor: list[float] = []
    floor_term: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-stop-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "cooperative.py", JOB_SCRIPT)
        with harness.running_server(work / "data", "--stop-grace-seconds", "30") as server:
            api = server.api()
            for batch in range(n["batches"]):
                samples += run_batch(server, api, work, n["batch"])
                for index in range(n["batch"]):  # the floor, interleaved: same noise, same run
                    reaped, received = floor_trial(script, work, batch * n["batch"] + index)
                    floor.append(reaped)
                    if received is not None:
                        floor_term.append(received)
            api.close()
    return summarize(samples, floor, floor_term)


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
