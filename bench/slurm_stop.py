"""Slurm through trainplane beside bare sbatch/scancel, interleaved in the same run (issue 9 bench).

- submit → running: CreateTrainingJob (tag trainplane:executor=slurm) → the job script's first line
  ran (it writes time.time()), beside bare `sbatch --wrap` of the same script → its first line, and
  → the first `scontrol show job` poll that sees RUNNING.
- stop → terminal: StopTrainingJob → Describe says `Stopped` (10 ms poll), beside bare plain
  `scancel` → the first poll that sees the job ended (CANCELLED). Both jobs trap SIGTERM, save and exit.
- where trainplane's start goes (breakdown, from the run dir): create → `sbatch` returned (slurm.json
  written), and the supervisor's process start → the job's process start (their /proc start times, in
  clock ticks of 10 ms): the supervisor's interpreter, imports, staging and spawn.
- grace window: a job ignoring SIGTERM with a 2 s grace: SIGKILL sent minus stop requested, from
  TrainplaneDetails (bar: 2 s ± 0.5 s). Slurm's own KillWait (10 s on scripts/slurm-up, floor 5 s)
  would have been the window without trainplane.
Needs SLURM_CONF (eval "$(scripts/slurm-up)"); runs scripts/slurm-up itself when it is unset.
"""

from __future__ import annotations

import functools
import json
import os
import random
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
started = time.time()
marks = Path(os.environ["BENCH_MARK_DIR"])
def on_term(signum, frame):
    (Path(os.environ.get("SM_MODEL_DIR", marks)) / "model.txt").write_text("saved on SIGTERM")
    (marks / "sigterm").write_text(repr(time.time()))
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
(marks / "ready").write_text(repr(started))
while True:  # not signal.pause(): a SIGTERM landing just before it would be slept through
    time.sleep(0.05)
"""
IGNORE_TERM = "trap '' TERM; sleep 1000 & wait; sleep 1000"
POLL_SECONDS = 0.01
GRACE_SECONDS = 2.0
# What trainplane asks Slurm for an ml.m5.large (the jobs' instance type): the same for the bare jobs.
BARE_RESOURCES = ("--cpus-per-task=2", "--mem=8192M")
SLURM_TAG = [{"Key": "trainplane:executor", "Value": "slurm"}]


def _slurm(*arguments: str) -> str:
    return subprocess.run(arguments, capture_output=True, text=True, check=True).stdout


def _slurm_state(job_id: str) -> str:
    done = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
    for word in done.stdout.split():
        if word.startswith("JobState="):
            return word.split("=", 1)[1]
    return "PURGED"


def _mark(marks: Path, name: str) -> float | None:
    try:
        return float((marks / name).read_text())
    except (FileNotFoundError, ValueError):
        return None


def bare_trial(script: Path, work: Path, index: int) -> dict[str, float]:
    marks = work / f"bare-{index}"
    marks.mkdir(parents=True)
    env = {**os.environ, "BENCH_MARK_DIR": str(marks)}
    submitted = time.time()
    job_id = subprocess.run(
        [
            "sbatch",
            "--parsable",
            "--output=/dev/null",
            *BARE_RESOURCES,
            f"--wrap=exec {harness.PYTHON} {script}",
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    harness.wait_for(lambda: _slurm_state(job_id) == "RUNNING", 60, POLL_SECONDS)
    seen_running = time.time()
    harness.wait_for(lambda: _mark(marks, "ready") is not None, 60, POLL_SECONDS)
    ready = _mark(marks, "ready")
    assert ready is not None
    stop_sent = time.time()
    _slurm("scancel", job_id)
    harness.wait_for(lambda: _slurm_state(job_id) not in ("RUNNING", "COMPLETING"), 60, POLL_SECONDS)
    ended = time.time()
    return {
        "submit_to_first_line": ready - submitted,
        "submit_to_running_poll": seen_running - submitted,
        "stop_to_terminal": ended - stop_sent,
        "saved": 1.0 if (marks / "model.txt").exists() else 0.0,
    }


def _run_dir(work: Path, name: str) -> Path:
    for directory in (work / "data" / "runs").iterdir():
        launch = directory / "launch.json"
        if launch.exists() and json.loads(launch.read_text())["job_name"] == name:
            return directory
    raise RuntimeError(f"no run dir for {name}")


def _breakdown(run_dir: Path, submitted: float) -> dict[str, float]:
    """create → sbatch returned; supervisor process start → job process start (10 ms ticks)."""
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    supervisor_ticks = json.loads((run_dir / "supervisor.pid").read_text())["start_ticks"]
    job_ticks = json.loads((run_dir / "status.json").read_text())["main_start_ticks"]
    return {
        "create_to_sbatch_returned": (run_dir / "slurm.json").stat().st_mtime - submitted,
        "supervisor_to_job_start": (job_ticks - supervisor_ticks) / ticks_per_second,
    }


def trainplane_trial(api: harness.Api, script: Path, work: Path, index: int) -> dict[str, float]:
    marks = work / f"tp-{index}"
    marks.mkdir(parents=True)
    name = harness.unique_name("slurm")
    request = harness.job_request(
        name, ["python", str(script)], work / "output", {"BENCH_MARK_DIR": str(marks)}
    )
    request["Tags"] = SLURM_TAG
    submitted = time.time()
    api.call("CreateTrainingJob", request)
    harness.wait_for(lambda: _mark(marks, "ready") is not None, 60, POLL_SECONDS)
    ready = _mark(marks, "ready")
    assert ready is not None
    harness.wait_status(api, [name], "Training", 60)
    seen_training = time.time()
    stop_sent = time.time()
    api.call("StopTrainingJob", {"TrainingJobName": name})
    harness.wait_for(lambda: harness.describe(api, name)["TrainingJobStatus"] != "Stopping", 60, POLL_SECONDS)
    ended = time.time()
    doc = harness.describe(api, name)
    if doc["TrainingJobStatus"] != "Stopped":
        raise RuntimeError(f"{name} ended {doc['TrainingJobStatus']}: {doc.get('FailureReason')}")
    return {
        "submit_to_first_line": ready - submitted,
        "submit_to_training_poll": seen_training - submitted,
        "stop_to_stopped": ended - stop_sent,
        **_breakdown(_run_dir(work, name), submitted),
    }


def grace_trial(api: harness.Api, work: Path) -> float:
    name = harness.unique_name("slurm-grace")
    request = harness.job_request(name, ["bash", "-c", IGNORE_TERM], work / "output", {})
    request["Tags"] = [*SLURM_TAG, {"Key": "trainplane:stop-grace-seconds", "Value": str(GRACE_SECONDS)}]
    api.call("CreateTrainingJob", request)
    harness.wait_status(api, [name], "Training", 60)
    api.call("StopTrainingJob", {"TrainingJobName": name})
    harness.wait_for(lambda: harness.describe(api, name)["TrainingJobStatus"] != "Stopping", 60, 0.05)
    details: dict[str, Any] = harness.describe(api, name)["TrainplaneDetails"]
    return float(details["Signals"]["SigkillTime"]) - float(details["StopRequestedTime"])


def _require_slurm() -> None:
    if os.environ.get("SLURM_CONF"):
        return
    up = Path(__file__).resolve().parents[1] / "scripts" / "slurm-up"
    out = subprocess.run([str(up)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        os.environ[key] = value


def main() -> None:
    args = report.parse_args(__doc__ or "")
    n = report.counts(args.quick, {"trials": 20, "grace": 3}, {"trials": 4, "grace": 1})
    _require_slurm()
    result = report.Result("slurm_stop")
    bare: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    graces: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-slurm-") as tmp:
        work = Path(tmp)
        script = harness.write_script(work, "job.py", JOB_SCRIPT)
        with harness.running_server(
            work / "data", "--executor", "slurm", "--slurm-partition", "debug"
        ) as server:
            api = server.api()
            for index in range(n["trials"]):  # interleaved: both see the same machine load
                # In random order, each after a random pause: Slurm schedules on a 1 s tick, and a
                # submit's phase in that tick (set by the trial before) must not favour either side.
                trials = [(bare, functools.partial(bare_trial, script, work, index))]
                trials.append((ours, functools.partial(trainplane_trial, api, script, work, index)))
                random.shuffle(trials)
                for rows, trial in trials:
                    time.sleep(random.uniform(0, 1))
                    rows.append(trial())
            graces = [grace_trial(api, work) for _ in range(n["grace"])]
            api.close()
    _summarize(result, bare, ours, graces)
    report.emit([result], args.json)


def _summarize(
    result: report.Result, bare: list[dict[str, float]], ours: list[dict[str, float]], graces: list[float]
) -> None:
    def column(rows: list[dict[str, float]], key: str) -> list[float]:
        return report.ms([row[key] for row in rows])

    bare_submit = result.add("bare sbatch → first line", column(bare, "submit_to_first_line"))
    result.add("bare sbatch → RUNNING seen (poll)", column(bare, "submit_to_running_poll"))
    ours_submit = result.add("trainplane create → first line", column(ours, "submit_to_first_line"))
    result.add("trainplane create → Training seen (poll)", column(ours, "submit_to_training_poll"))
    result.add("… of which create → sbatch returned", column(ours, "create_to_sbatch_returned"))
    result.add(
        "… of which supervisor start → job start (10 ms ticks)", column(ours, "supervisor_to_job_start")
    )
    bare_stop = result.add("bare scancel → CANCELLED seen (poll)", column(bare, "stop_to_terminal"))
    ours_stop = result.add("trainplane stop → Stopped seen (poll)", column(ours, "stop_to_stopped"))
    result.add(f"grace window held (job ignores SIGTERM, grace {GRACE_SECONDS:g} s)", report.ms(graces))
    submit_ratio = ours_submit["p50"] / bare_submit["p50"]
    stop_ratio = ours_stop["p50"] / bare_stop["p50"]
    result.extra.update(
        submit_ratio_p50=submit_ratio,
        submit_ratio_p99=ours_submit["p99"] / bare_submit["p99"],
        stop_ratio_p50=stop_ratio,
        stop_ratio_p99=ours_stop["p99"] / bare_stop["p99"],
        bare_saved_model=sum(row["saved"] for row in bare),
    )
    result.bar("submit within 1.2x of bare (p50 ratio)", submit_ratio, "<=", 1.2, "x")
    result.bar("stop within 1.5x of bare (p50 ratio)", stop_ratio, "<=", 1.5, "x")
    worst = max((abs(g - GRACE_SECONDS) for g in graces), default=float("nan"))
    result.bar("grace window error (worst)", worst * 1000, "<=", 500)


if __name__ == "__main__":
    main()
