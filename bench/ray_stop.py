"""Ray jobs through trainplane beside bare Ray, in the same run, on the same head.

Through trainplane: CreateTrainingJob tagged `trainplane:executor=ray` -> the job's first line ran and
Describe says `Training`; StopTrainingJob -> Describe says `Stopped` (a cooperative job that saves its
model on SIGTERM). BARE, interleaved trial by trial: `JobSubmissionClient.submit_job` of the same
script (`exec python script`, the same resources) -> first line ran and Ray says RUNNING; `stop_job`
-> Ray says STOPPED. Grace window: a job ignoring SIGTERM with a 2 s window, stop -> SIGKILL (ours)
beside Ray's own `RAY_JOB_STOP_WAIT_TIME_S=2` stop -> STOPPED.
Needs a Ray head: TRAINPLANE_RAY_ADDRESS, or scripts/ray-up is run (and left running).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import harness
import report

from trainplane.executors.ray import resources

COOPERATIVE = """\
import os, signal, sys, time
from pathlib import Path
first = time.time()
marks = Path(os.environ["BENCH_MARK_DIR"])
def on_term(signum, frame):
    (Path(os.environ.get("SM_MODEL_DIR", marks)) / "model.txt").write_text("saved on SIGTERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
(marks / "ready").write_text(repr(first))
while True:  # not signal.pause(): a SIGTERM landing just before it would be slept through
    time.sleep(0.05)
"""
STUBBORN = """\
import os, signal, time
from pathlib import Path
signal.signal(signal.SIGTERM, signal.SIG_IGN)
(Path(os.environ["BENCH_MARK_DIR"]) / "ready").write_text(repr(time.time()))
while True:
    signal.pause()
"""
GRACE_SECONDS = 2
RAY_TAG = {"Key": "trainplane:executor", "Value": "ray"}
POLL_SECONDS = 0.01


def ray_address() -> str:
    given = os.environ.get("TRAINPLANE_RAY_ADDRESS")
    if given:
        return given
    up = Path(__file__).resolve().parents[1] / "scripts" / "ray-up"
    done = subprocess.run([str(up)], capture_output=True, text=True, check=True)
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == "TRAINPLANE_RAY_ADDRESS":
            return value
    raise RuntimeError(f"ray-up printed no address: {done.stdout}")


def _mark(marks: Path, name: str) -> float | None:
    try:
        return float((marks / name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def _until(predicate: Callable[[], bool], timeout_seconds: float = 120) -> float:
    harness.wait_for(predicate, timeout_seconds, POLL_SECONDS)
    return time.time()


class Bare:
    """The same script as a bare Ray job through JobSubmissionClient."""

    def __init__(self, address: str) -> None:
        from ray.job_submission import JobSubmissionClient

        self.client = JobSubmissionClient(address)
        self.wanted = resources.of_instance_type("ml.m5.large")

    def status(self, submission_id: str) -> str:
        return str(self.client.get_job_status(submission_id).value)

    def run(self, script: Path, marks: Path, env_vars: dict[str, str] | None = None) -> tuple[str, float]:
        sent = time.time()
        submission_id = self.client.submit_job(
            entrypoint=f"exec {sys.executable} {script}",
            runtime_env={"env_vars": {"BENCH_MARK_DIR": str(marks), **(env_vars or {})}},
            entrypoint_num_cpus=self.wanted.num_cpus,
            entrypoint_memory=self.wanted.memory_bytes,
        )
        return submission_id, sent

    def trial(self, script: Path, marks: Path) -> dict[str, float]:
        submission_id, sent = self.run(script, marks)
        running = _until(lambda: self.status(submission_id) == "RUNNING")
        _until(lambda: _mark(marks, "ready") is not None)  # written, not just created
        first_line = _mark(marks, "ready")
        stop_sent = time.time()
        self.client.stop_job(submission_id)
        stopped = _until(lambda: self.status(submission_id) == "STOPPED")
        assert first_line is not None
        return {
            "submit_running": running - sent,
            "submit_first_line": first_line - sent,
            "stop": stopped - stop_sent,
        }

    def grace_trial(self, script: Path, marks: Path) -> float:
        submission_id, _ = self.run(script, marks, {"RAY_JOB_STOP_WAIT_TIME_S": str(GRACE_SECONDS)})
        _until(lambda: (marks / "ready").exists())
        stop_sent = time.time()
        self.client.stop_job(submission_id)
        return _until(lambda: self.status(submission_id) == "STOPPED") - stop_sent


class Through:
    """The same script as a SageMaker training job on trainplane's Ray executor."""

    def __init__(self, server: harness.Server, work: Path, bare: Bare) -> None:
        self.api = server.api()
        self.work = work
        self.runs_dir = server.data_dir / "runs"
        self.bare = bare

    def settle(self, name: str) -> None:
        """Wait until Ray, too, sees the job ended (our supervisor exits after Stopped): no overlap."""
        run_dir = next(
            launch.parent
            for launch in self.runs_dir.glob("*/launch.json")
            if json.loads(launch.read_text())["job_name"] == name
        )
        submission_id = json.loads((run_dir / "ray-submission.json").read_text())["submission_id"]
        _until(lambda: self.bare.status(submission_id) in ("SUCCEEDED", "STOPPED", "FAILED"))

    def describe(self, name: str) -> dict[str, Any]:
        return harness.describe(self.api, name)

    def create(self, script: Path, marks: Path, tags: list[dict[str, str]]) -> tuple[str, float]:
        name = harness.unique_name("ray")
        request = harness.job_request(
            name, ["python", str(script)], self.work / "output", {"BENCH_MARK_DIR": str(marks)}
        )
        request["Tags"] = tags
        sent = time.time()
        self.api.call("CreateTrainingJob", request)
        return name, sent

    def trial(self, script: Path, marks: Path) -> dict[str, float]:
        name, sent = self.create(script, marks, [RAY_TAG])
        running = _until(lambda: self.describe(name)["SecondaryStatus"] == "Training")
        _until(lambda: _mark(marks, "ready") is not None)  # written, not just created
        first_line = _mark(marks, "ready")
        stop_sent = time.time()
        self.api.call("StopTrainingJob", {"TrainingJobName": name})
        stopped = _until(lambda: self.describe(name)["TrainingJobStatus"] == "Stopped")
        assert first_line is not None
        self.settle(name)
        return {
            "submit_running": running - sent,
            "submit_first_line": first_line - sent,
            "stop": stopped - stop_sent,
        }

    def grace_trial(self, script: Path, marks: Path) -> tuple[float, float]:
        """(stop -> SIGKILL sent, stop -> Stopped) for a job ignoring SIGTERM, by the server's clock."""
        grace_tag = {"Key": "trainplane:stop-grace-seconds", "Value": str(GRACE_SECONDS)}
        name, _ = self.create(script, marks, [RAY_TAG, grace_tag])
        _until(lambda: (marks / "ready").exists())
        _until(lambda: self.describe(name)["SecondaryStatus"] == "Training")
        self.api.call("StopTrainingJob", {"TrainingJobName": name})
        _until(lambda: self.describe(name)["TrainingJobStatus"] == "Stopped")
        doc = self.describe(name)
        details = doc["TrainplaneDetails"]
        requested = details["StopRequestedTime"]
        kill = details["Signals"]["SigkillTime"]
        return kill - requested, doc["TrainingEndTime"] - requested


def summarize(
    through: list[dict[str, float]], bare: list[dict[str, float]], grace: dict[str, list[float]]
) -> report.Result:
    result = report.Result(
        "ray_stop: trainplane on Ray beside bare JobSubmissionClient (same head, same run)"
    )
    rows = {}
    for key, label in (
        ("submit_first_line", "submit -> job's first line ran"),
        ("submit_running", "submit -> running (Describe Training | Ray RUNNING)"),
        ("stop", "stop -> Stopped | STOPPED"),
    ):
        rows[key] = (
            result.add(f"{label}: trainplane", report.ms([t[key] for t in through])),
            result.add(f"{label}: BARE Ray", report.ms([b[key] for b in bare])),
        )
    kill = result.add(f"grace {GRACE_SECONDS} s: stop -> SIGKILL (trainplane)", report.ms(grace["kill"]))
    result.add(f"grace {GRACE_SECONDS} s: stop -> Stopped (trainplane)", report.ms(grace["stopped"]))
    result.add(f"grace {GRACE_SECONDS} s: stop -> STOPPED (BARE Ray)", report.ms(grace["bare"]))
    for key, limit in (("submit_first_line", 1.2), ("submit_running", 1.2), ("stop", 1.5)):
        ours, floor = rows[key]
        ratio = ours["p50"] / floor["p50"]
        result.extra[f"{key}_ratio_p50"] = ratio
        result.bar(f"{key} p50 trainplane/bare <= {limit}", ratio, "<=", limit, unit="x")
    result.bar("grace: SIGKILL p50 - window, |ms| <= 500", abs(kill["p50"] - GRACE_SECONDS * 1000), "<=", 500)
    result.bar("grace: SIGKILL max - window, |ms| <= 500", abs(kill["max"] - GRACE_SECONDS * 1000), "<=", 500)
    result.notes.append(
        "trials interleaved, alternating which side goes first, on one Ray head; polls every 10 ms"
    )
    result.notes.append("both request the same resources (ml.m5.large: 2 CPUs, 8 GiB) from Ray")
    return result


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"trials": 15, "grace_trials": 3}, {"trials": 3, "grace_trials": 1})
    address = ray_address()
    through_samples: list[dict[str, float]] = []
    bare_samples: list[dict[str, float]] = []
    grace: dict[str, list[float]] = {"kill": [], "stopped": [], "bare": []}
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as tmp:
        work = Path(tmp)
        cooperative = harness.write_script(work, "cooperative.py", COOPERATIVE)
        stubborn = harness.write_script(work, "stubborn.py", STUBBORN)
        bare = Bare(address)
        data = work / "data"
        with harness.running_server(data, "--stop-grace-seconds", "30", "--ray-address", address) as server:
            through = Through(server, work, bare)
            for index in range(n["trials"]):
                # ABAB..., then BABA...: neither side always runs right after the other's teardown.
                first, second = (through, bare) if index % 2 == 0 else (bare, through)
                for side in (first, second):
                    samples = through_samples if side is through else bare_samples
                    samples.append(side.trial(cooperative, _marks(work, f"{id(side)}-{index}")))
            for index in range(n["grace_trials"]):
                kill, stopped = through.grace_trial(stubborn, _marks(work, f"tp-grace-{index}"))
                grace["kill"].append(kill)
                grace["stopped"].append(stopped)
                grace["bare"].append(bare.grace_trial(stubborn, _marks(work, f"bare-grace-{index}")))
            through.api.close()
    return summarize(through_samples, bare_samples, grace)


def _marks(work: Path, name: str) -> Path:
    marks = work / name
    marks.mkdir()
    return marks


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
