"""CreateTrainingJob → the job's process is running (its first line writes time.time() to a file).

Jobs run one at a time (each exits 0 at once and is waited to Completed), so one launch never
shares the 2 cores with another. FLOOR, interleaved in the same run: bare Popen of the same script.
"""

from __future__ import annotations

import functools
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import report

# The first line is the measurement point; nothing may run before it but the interpreter's start.
JOB_SCRIPT = """\
import os, time; open(os.environ["BENCH_MARK_FILE"], "w").write(repr(time.time()))
"""


def _mark(path: Path) -> float:
    harness.wait_for(functools.partial(_has_content, path), 30, 0.002)
    return float(path.read_text())


def _has_content(path: Path) -> bool:
    try:
        return bool(path.read_text())
    except FileNotFoundError:
        return False


def floor_trial(script: Path, work: Path, index: int) -> float:
    """Seconds from just before Popen to the script's first line."""
    mark = work / f"floor-{index}.mark"
    env = {**os.environ, "BENCH_MARK_FILE": str(mark)}
    sent = time.time()
    child = subprocess.Popen([harness.PYTHON, str(script)], env=env, start_new_session=True)
    try:
        return _mark(mark) - sent
    finally:
        child.wait(30)


def server_trial(api: harness.Api, script: Path, work: Path) -> dict[str, Any]:
    name = harness.unique_name("c2r")
    mark = work / f"{name}.mark"
    request = harness.job_request(
        name, ["python", str(script)], work / "output", {"BENCH_MARK_FILE": str(mark)}
    )
    sent = time.time()
    api.call("CreateTrainingJob", request)
    returned = time.time()
    first_line = _mark(mark)
    harness.wait_for(functools.partial(_is_finished, api, name), 60, 0.01)
    doc = harness.describe(api, name)
    transitions = {t["Status"]: t["StartTime"] for t in doc["SecondaryStatusTransitions"]}
    return {
        "sent": sent,
        "returned": returned,
        "first_line": first_line,
        "created_recorded": doc["CreationTime"],
        "staging": transitions.get("Downloading"),
        "training_recorded": doc.get("TrainingStartTime"),
        "status": doc["TrainingJobStatus"],
    }


def _is_finished(api: harness.Api, name: str) -> bool:
    return harness.describe(api, name)["TrainingJobStatus"] not in harness.ACTIVE


def summarize(samples: list[dict[str, Any]], floor: list[float]) -> report.Result:
    result = report.Result("create_to_running: CreateTrainingJob -> job's first line ran")

    def since_sent(key: str) -> list[float]:
        return [(s[key] - s["sent"]) * 1000 for s in samples if s.get(key) is not None]

    running = result.add("job's first line ran", since_sent("first_line"))
    result.add("  breakdown: create call returned", since_sent("returned"))
    result.add("  breakdown: supervisor staging (Downloading)", since_sent("staging"))
    result.add("  breakdown: process spawned (TrainingStartTime)", since_sent("training_recorded"))
    floor_row = result.add("FLOOR: Popen -> first line ran", [f * 1000 for f in floor])
    paired = [(s["first_line"] - s["sent"] - f) * 1000 for s, f in zip(samples, floor, strict=False)]
    result.add("overhead: job minus its interleaved floor trial", paired)
    result.extra["overhead_p50_ms"] = running["p50"] - floor_row["p50"]
    result.extra["ratio_p50"] = running["p50"] / floor_row["p50"]
    result.extra["statuses"] = sorted({s["status"] for s in samples})
    result.bar("p50 <= 50 ms (issue 5)", running["p50"], "<=", 50)
    result.notes.append("the floor is one Python interpreter start (the job script itself is Python)")
    return result


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"jobs": 60}, {"jobs": 6})
    samples: list[dict[str, Any]] = []
    floor: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-c2r-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "first_line.py", JOB_SCRIPT)
        with harness.running_server(work / "data", "--stop-grace-seconds", "5") as server:
            api = server.api()
            for index in range(n["jobs"]):
                samples.append(server_trial(api, script, work))
                floor.append(floor_trial(script, work, index))
            api.close()
    return summarize(samples, floor)


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
