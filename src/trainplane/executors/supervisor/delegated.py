"""Job processes the supervisor reaches only through another engine's launcher (several nodes).

A launcher may hand the supervisor, in launch.json:
- `command`: what to spawn instead of the job's own command (e.g. `srun ... <per-node entry>`, which
  starts the job on every node of the allocation);
- `pass_environment`: prefixes of the supervisor's own variables that command needs (e.g. `SLURM_`:
  the allocation it runs in), added to the job's environment for it;
- `signal_commands`: {"TERM": argv, "KILL": argv}: how the job's processes on every node get that
  signal (e.g. through `scancel`), run with the supervisor's environment. The TERM command replaces
  the supervisor's own SIGTERM (which would reach only the launcher on this node, and `srun` ends a
  job step abruptly on SIGTERM); the KILL command runs before the supervisor's own SIGKILL of what it
  holds, and exits non-zero if something survived. Each prints how many processes it reached.
None of them: the supervisor runs and signals the job itself, as always.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

_log = logging.getLogger(__name__)
COMMAND_TIMEOUT_SECONDS = 30.0


def command(launch: Mapping[str, Any], own: Sequence[str]) -> list[str]:
    """The argv the supervisor spawns: the launcher's, else the job's own."""
    return [str(part) for part in launch.get("command") or own]


def environment(launch: Mapping[str, Any], env: dict[str, str]) -> dict[str, str]:
    """`env` plus the supervisor's own variables the launcher's command needs."""
    prefixes = tuple(launch.get("pass_environment") or ())
    if prefixes:
        env.update({key: value for key, value in os.environ.items() if key.startswith(prefixes)})
    return env


@dataclass(frozen=True)
class Delivery:
    """What a signal command reported: processes reached, and whether all of them are gone (KILL)."""

    pids: int
    is_complete: bool


def deliver(launch: Mapping[str, Any], name: str) -> Delivery | None:
    """Run the launcher's command for signal `name` ("TERM", "KILL"); None when it has none."""
    argv = (launch.get("signal_commands") or {}).get(name)
    if not argv:
        return None
    try:
        done = subprocess.run(
            [str(part) for part in argv],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _log.error("event=signal_command_failed signal=%s error=%s", name, exc)
        return Delivery(0, is_complete=False)
    words = done.stdout.split()
    pids = int(words[-1]) if words and words[-1].isdigit() else 0
    if done.returncode != 0:
        _log.error(
            "event=signal_command_failed signal=%s code=%d stderr=%s",
            name,
            done.returncode,
            done.stderr[-500:],
        )
    return Delivery(pids, is_complete=done.returncode == 0)
