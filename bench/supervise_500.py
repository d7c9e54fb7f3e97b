"""1,000 running jobs: the control plane's RSS and idle CPU, the supervisors' footprint, time to stop all.

The control plane is the server plus the local executor's fork server (both are counted). Supervisors
are found through their run dirs' pid records (forked supervisors are nobody's children).
BASELINE in the same run: the same server's RSS and idle CPU before the first job is created.
If the machine cannot hold N jobs (estimated from the first wave), the largest N that fits is used.
Stopping: every job is stopped "at once" by STOP_CLIENTS concurrent keep-alive clients; the bar is
every job Stopped within 10 s of the first call.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import harness
import psutil
import report

SLEEPER = ["bash", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"]
WAVE_JOBS = 50
STOP_CLIENTS = 8
MEMORY_BUDGET_FRACTION = 0.6  # of what is available now: the machine is shared


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            times = process.cpu_times()
            total += times.user + times.system
    return total


def idle_cpu_percent(processes: list[psutil.Process], window_seconds: float) -> float:
    """CPU used by `processes` over the window, in % of one core."""
    before = cpu_seconds(processes)
    time.sleep(window_seconds)  # the quantity is CPU per wall second: the wait IS the measurement
    return (cpu_seconds(processes) - before) / window_seconds * 100


def control_plane(server: psutil.Process) -> list[psutil.Process]:
    """The server and its own children (the fork server): supervisors are not among them."""
    return [server, *server.children(recursive=False)]


def supervisors_of(runs_dir: Path) -> list[psutil.Process]:
    found = []
    for record in runs_dir.glob("*/supervisor.pid"):
        with contextlib.suppress(OSError, ValueError, psutil.Error):
            found.append(psutil.Process(json.loads(record.read_text())["pid"]))
    return found


def footprint(server: psutil.Process, runs_dir: Path) -> dict[str, Any]:
    """RSS/USS of the control plane (server + fork server), and of every supervisor and job process."""
    supervisors = supervisors_of(runs_dir)
    jobs = [child for s in supervisors for child in _children(s)]
    memory = server.memory_full_info()
    plane = control_plane(server)
    return {
        "server_rss_mb": memory.rss / 2**20,
        "server_uss_mb": memory.uss / 2**20,
        "control_plane_rss_mb": _sum_memory(plane, "rss"),
        "server_threads": server.num_threads(),
        "server_fds": server.num_fds(),
        "supervisors": len(supervisors),
        "supervisors_rss_mb": _sum_memory(supervisors, "rss"),
        "supervisors_uss_mb": _sum_memory(supervisors, "uss"),
        "job_processes": len(jobs),
        "job_processes_uss_mb": _sum_memory(jobs, "uss"),
    }


def _children(process: psutil.Process) -> list[psutil.Process]:
    try:
        return process.children(recursive=True)
    except psutil.Error:
        return []


def _sum_memory(processes: list[psutil.Process], field: str) -> float:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += getattr(process.memory_full_info(), field)
    return total / 2**20


def create_wave(api: harness.Api, work: Path, count: int) -> list[str]:
    names = [harness.unique_name("sup") for _ in range(count)]
    for name in names:
        api.call("CreateTrainingJob", harness.job_request(name, SLEEPER, work / "output", {}))
    harness.wait_status(api, names, "Training", 300)
    return names


def fitting_jobs(wanted: int, first_wave: int, measured: dict[str, Any]) -> tuple[int, float]:
    """How many jobs fit in the memory budget, and the measured USS per job (MB)."""
    per_job_mb = (measured["supervisors_uss_mb"] + measured["job_processes_uss_mb"]) / first_wave
    available_mb = psutil.virtual_memory().available / 2**20
    fits = first_wave + int(available_mb * MEMORY_BUDGET_FRACTION / max(per_job_mb, 0.1))
    return min(wanted, fits), per_job_mb


def stop_everything(server: harness.Server, names: list[str]) -> dict[str, float]:
    """Stop every job at once from STOP_CLIENTS clients; seconds until the calls and until all Stopped."""
    clients = [server.api() for _ in range(STOP_CLIENTS)]
    shares = [names[i::STOP_CLIENTS] for i in range(STOP_CLIENTS)]

    def stop_share(client: harness.Api, share: list[str]) -> None:
        for name in share:
            client.call("StopTrainingJob", {"TrainingJobName": name})

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(STOP_CLIENTS) as pool:
        list(pool.map(stop_share, clients, shares))
    sent = time.perf_counter() - started
    harness.wait_for(lambda: not harness.active_names(clients[0]), 300, 0.1)
    all_stopped = time.perf_counter() - started
    for client in clients:
        client.close()
    return {"stop_calls_seconds": sent, "all_stopped_seconds": all_stopped}


def measure(is_quick: bool) -> report.Result:
    n = report.counts(is_quick, {"jobs": 1000, "idle": 30}, {"jobs": 20, "idle": 3})
    result = report.Result(f"supervise_500: {n['jobs']} running jobs under one control plane", unit="MB")
    with tempfile.TemporaryDirectory(prefix="bench-sup-") as tmp:
        work = Path(tmp)
        with harness.running_server(work / "data", "--stop-grace-seconds", "30") as server:
            api = server.api()
            plane = psutil.Process(server.pid)
            runs_dir = work / "data" / "runs"
            baseline = footprint(plane, runs_dir)
            baseline_cpu = idle_cpu_percent(control_plane(plane), n["idle"])
            started = time.perf_counter()
            first = min(WAVE_JOBS, n["jobs"])
            names = create_wave(api, work, first)
            target, per_job_mb = fitting_jobs(n["jobs"], first, footprint(plane, runs_dir))
            while len(names) < target:
                names += create_wave(api, work, min(WAVE_JOBS, target - len(names)))
            result.extra["create_to_all_training_seconds"] = time.perf_counter() - started
            time.sleep(2)  # let the last supervisors settle after their start before calling it idle
            loaded = footprint(plane, runs_dir)
            supervisors = supervisors_of(runs_dir)
            loaded_cpu = idle_cpu_percent(control_plane(plane), n["idle"])
            supervisors_cpu = idle_cpu_percent(supervisors, min(n["idle"], 10))
            api.close()
            stopped = stop_everything(server, names)
            result.extra.update(stopped)
    _fill(result, baseline, loaded, {"baseline": baseline_cpu, "loaded": loaded_cpu, "sup": supervisors_cpu})
    result.extra.update(jobs=len(names), wanted_jobs=n["jobs"], per_job_uss_mb=per_job_mb)
    if len(names) < n["jobs"]:
        result.notes.append(f"only {len(names)} jobs fit the memory budget; per-job cost {per_job_mb:.1f} MB")
    jobs = len(names)
    result.bar(
        f"control plane RSS with {jobs} jobs <= 150 MB", loaded["control_plane_rss_mb"], "<=", 150, "MB"
    )
    result.bar(f"control plane idle CPU with {jobs} jobs <= 2 % of a core", loaded_cpu, "<=", 2, "%")
    result.bar(
        f"all {jobs} Stopped within 10 s of the first stop call",
        stopped["all_stopped_seconds"],
        "<=",
        10,
        "s",
    )
    return result


def _fill(
    result: report.Result, baseline: dict[str, Any], loaded: dict[str, Any], cpu: dict[str, float]
) -> None:
    for key in ("control_plane_rss_mb", "server_rss_mb", "server_uss_mb", "server_threads", "server_fds"):
        result.extra[f"{key} BASELINE (0 jobs)"] = baseline[key]
        result.extra[f"{key} (loaded)"] = loaded[key]
    result.extra["server_rss_mb delta per job"] = (loaded["server_rss_mb"] - baseline["server_rss_mb"]) / max(
        loaded["supervisors"], 1
    )
    for key in (
        "supervisors",
        "supervisors_rss_mb",
        "supervisors_uss_mb",
        "job_processes",
        "job_processes_uss_mb",
    ):
        result.extra[key] = loaded[key]
    result.extra["control plane idle CPU % of one core BASELINE (0 jobs)"] = cpu["baseline"]
    result.extra["control plane idle CPU % of one core (loaded)"] = cpu["loaded"]
    result.extra["all supervisors idle CPU % of one core"] = cpu["sup"]


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
