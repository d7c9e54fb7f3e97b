"""How long the job may still run, and the early warning before its max runtime (issue 10).

A job created with the tag `trainplane:max-runtime-warning-seconds` gets SIGUSR1 that long before its
MaxRuntimeInSeconds ends (like Slurm's `--signal=B:USR1@N`), so it can checkpoint before the stop
protocol starts. SIGUSR1 kills a process that does not handle it: call `watch_warning()` first.
Standard library only (it runs inside users' training processes).
"""

from __future__ import annotations

import os
import signal
import time
from types import FrameType

from trainplane import protocol

MAX_RUNTIME_DEADLINE_ENV = protocol.MAX_RUNTIME_DEADLINE_ENV
_is_warned = False


def time_left_seconds() -> float | None:
    """Seconds until the job's max runtime ends (negative once past); None without a max runtime."""
    raw = os.environ.get(MAX_RUNTIME_DEADLINE_ENV)
    if not raw:
        return None
    try:
        return float(raw) - time.time()
    except ValueError:
        return None


def watch_warning() -> None:
    """Handle SIGUSR1 by setting a flag (call from the main thread, early)."""
    signal.signal(signal.SIGUSR1, _on_warning)


def warning_received() -> bool:
    """True once the max-runtime warning (SIGUSR1) has arrived."""
    return _is_warned


def _on_warning(signum: int, frame: FrameType | None) -> None:
    global _is_warned
    _is_warned = True
