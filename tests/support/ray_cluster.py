"""Ray for tests: one head per test session, from TRAINPLANE_RAY_ADDRESS (scripts/test sets it with
scripts/ray-up) or, when unset, from running scripts/ray-up here (stopped again when the session ends).

A Ray that cannot be had fails the tests that need it; they skip only when TRAINPLANE_TEST_NO_RAY=1 is
set explicitly (CI never sets it).
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from tests.support import local_jobs
from trainplane.domain.job import ExecutorHandle
from trainplane.executors.ray.executor import SUBMISSION_FILE, RayExecutor
from trainplane.executors.ray.submission import RayJobs

ADDRESS_VARIABLE = "TRAINPLANE_RAY_ADDRESS"
SKIP_VARIABLE = "TRAINPLANE_TEST_NO_RAY"
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"
UP_TIMEOUT_SECONDS = 600  # may install the ray extra first


@functools.cache
def address() -> str:
    """The Job Submission API of the session's Ray head."""
    if os.environ.get(SKIP_VARIABLE) == "1":
        pytest.skip(f"{SKIP_VARIABLE}=1: Ray tests skipped on purpose")
    given = os.environ.get(ADDRESS_VARIABLE)
    if given:
        return given
    try:
        done = subprocess.run(
            [str(SCRIPTS / "ray-up")], capture_output=True, text=True, timeout=UP_TIMEOUT_SECONDS, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", "") or ""
        pytest.fail(f"no Ray for the tests: {ADDRESS_VARIABLE} is unset and ray-up failed: {exc}\n{output}")
    exports = dict(
        line.removeprefix("export ").split("=", 1) for line in done.stdout.splitlines() if "=" in line
    )
    if exports.get("TRAINPLANE_RAY_STARTED") == "1":
        atexit.register(subprocess.run, [str(SCRIPTS / "ray-down")], check=False)
    found = exports.get(ADDRESS_VARIABLE)
    if not found:
        pytest.fail(f"ray-up printed no {ADDRESS_VARIABLE}:\n{done.stdout}")
    os.environ[ADDRESS_VARIABLE] = found  # for server subprocesses too
    return found


def require() -> None:
    """A Ray head runs for this session (started here if need be), or the test fails (or skips on purpose)."""
    address()


def head_started_by_ray_up() -> int | None:
    """The pid of the session's head if scripts/ray-up started it (so a test may crash it), else None."""
    ray_dir = Path(os.environ.get("TRAINPLANE_RAY_DIR", "/tmp/trainplane-ray"))
    port = os.environ.get("TRAINPLANE_RAY_DASHBOARD_PORT", "8265")
    if address() != f"http://127.0.0.1:{port}":
        return None
    try:
        pid = int((ray_dir / "head.pid").read_text())
        is_ray = b"ray" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return None
    return pid if is_ray else None


def crash_and_restart_head(head_pid: int) -> None:
    """SIGKILL the head and everything it started (its session), then start a new one with ray-up."""
    os.killpg(head_pid, signal.SIGKILL)
    done = subprocess.run(
        [str(SCRIPTS / "ray-up")], capture_output=True, text=True, timeout=UP_TIMEOUT_SECONDS, check=True
    )
    assert "TRAINPLANE_RAY_STARTED=1" in done.stdout, done.stderr


def make_executor(runs_dir: Path) -> RayExecutor:
    return RayExecutor(runs_dir, address())


def lose(handle: ExecutorHandle) -> None:
    """The job's supervisor (Ray's entrypoint) is SIGKILLed: Ray reports the job FAILED."""
    os.kill(local_jobs.supervisor_pid(handle), signal.SIGKILL)


def cleanup(runs_dir: Path) -> None:
    """After a test: have Ray drop every job it may still start, then kill what is left."""
    if runs_dir.is_dir():
        jobs = RayJobs(address())
        for submission in runs_dir.glob(f"*/{SUBMISSION_FILE}"):
            with contextlib.suppress(Exception):
                jobs.stop(json.loads(submission.read_text())["submission_id"])
        jobs.close()
    local_jobs.kill_leftovers(runs_dir)
