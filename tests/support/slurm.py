"""Slurm for tests: the cluster scripts/slurm-up starts, and helpers to find and end its jobs.

scripts/test starts it (and stops it afterwards); when SLURM_CONF is unset this module runs
scripts/slurm-up itself (left running; scripts/slurm-down stops it). A Slurm that cannot be had fails
the tests that need it, loudly. Only TRAINPLANE_TEST_NO_SLURM=1, set on purpose (CI never does), skips them.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support import local_jobs
from trainplane.executors.slurm import commands

UP_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "slurm-up"
UP_TIMEOUT_SECONDS = 300  # may install the Debian packages first
OPT_OUT_VARIABLE = "TRAINPLANE_TEST_NO_SLURM"
_checked: list[bool] = []
MULTI_PARTITION = "multi"  # scripts/slurm-up with TRAINPLANE_SLURM_NODES > 1: localhost and node2..nodeN
MULTI_NODES = 3


def require() -> None:
    """Make sure a Slurm cluster answers (starting one if needed); fail, or skip only when opted out."""
    if os.environ.get(OPT_OUT_VARIABLE) == "1":
        pytest.skip(f"{OPT_OUT_VARIABLE}=1: Slurm tests skipped on purpose")
    if _checked:
        return
    if not os.environ.get("SLURM_CONF"):
        _start()
    try:
        commands.run(["scontrol", "ping"])
    except (commands.SlurmError, OSError) as exc:
        pytest.fail(f"Slurm does not answer (SLURM_CONF={os.environ.get('SLURM_CONF')}): {exc}")
    _checked.append(True)


def _start() -> None:
    try:
        done = subprocess.run(
            [str(UP_SCRIPT)], capture_output=True, text=True, timeout=UP_TIMEOUT_SECONDS, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", "") or ""
        pytest.fail(f"no Slurm for the tests: SLURM_CONF is unset and {UP_SCRIPT} failed: {exc}\n{output}")
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == "SLURM_CONF":
            os.environ["SLURM_CONF"] = value  # for server subprocesses too
            return
    pytest.fail(f"{UP_SCRIPT} printed no SLURM_CONF:\n{done.stdout}")


def require_nodes(count: int) -> str:
    """A cluster with partition `multi` of at least `count` nodes (scripts/slurm-up grows ours); its name.

    Growing restarts slurmctld and slurmd (running jobs carry on). A cluster slurm-up did not start
    (SLURM_CONF elsewhere) without such a partition fails the test.
    """
    require()
    if _multi_nodes() < count:
        conf = Path(os.environ["SLURM_CONF"])
        settings = dict(line.split("=", 1) for line in conf.read_text().splitlines() if "=" in line)
        env = dict(
            os.environ,
            TRAINPLANE_SLURM_DIR=str(conf.parent.parent),
            TRAINPLANE_SLURM_PORT=settings.get("SlurmctldPort", "6817"),
            TRAINPLANE_SLURM_NODES=str(max(count, MULTI_NODES)),
        )
        done = subprocess.run(
            [str(UP_SCRIPT)], capture_output=True, text=True, timeout=UP_TIMEOUT_SECONDS, env=env, check=False
        )
        if done.returncode != 0 or _multi_nodes() < count:
            pytest.fail(f"no Slurm partition multi with {count} nodes: {UP_SCRIPT} said\n{done.stderr}")
    return MULTI_PARTITION


def _multi_nodes() -> int:
    try:
        out = commands.run(["sinfo", "-h", "-p", MULTI_PARTITION, "-o", "%D"])
    except commands.SlurmError:
        return 0
    return sum(int(word) for word in out.split() if word.isdigit())


def slurm_job_id(run_dir: Path) -> str | None:
    try:
        return str(json.loads((run_dir / "slurm.json").read_text())["slurm_job_id"])
    except (FileNotFoundError, KeyError, ValueError):
        return None


def submit_filler(cpus: int) -> str:
    """A bare Slurm job holding `cpus` CPUs until cancelled, so that later jobs stay pending."""
    out = commands.run(
        [
            "sbatch",
            "--parsable",
            f"--cpus-per-task={cpus}",
            "--job-name=tp-test-filler",
            "--output=/dev/null",
            "--wrap=exec sleep 1000",
        ]
    )
    return out.strip().split(";", 1)[0]


def state_of(slurm_job_id: str) -> str | None:
    seen = commands.state(slurm_job_id)
    return None if seen is None else seen.state


def kill_leftovers(runs_dir: Path) -> None:
    """After a test: end every Slurm job of these run dirs, then what local_jobs finds of them."""
    if runs_dir.is_dir():
        for directory in runs_dir.iterdir():
            found = slurm_job_id(directory)
            if found is not None:
                commands.kill(found)
    local_jobs.kill_leftovers(runs_dir)
