"""Tell the job's supervisor that the checkpoint or model just written is complete.

The supervisor sets TRAINPLANE_CONTROL_DIR and TRAINPLANE_SUPERVISOR_PID. The marker file is the
durable fact (a restarted supervisor still finds it); SIGUSR1 is only the wake-up, so a lost signal
costs latency, never correctness.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from trainplane import protocol

CONTROL_DIR_ENV = protocol.CONTROL_DIR_ENV
SUPERVISOR_PID_ENV = protocol.SUPERVISOR_PID_ENV
CHECKPOINT_COMPLETE_FILE = protocol.CHECKPOINT_COMPLETE_FILE
CHECKPOINT_COMPLETE_SIGNAL = signal.SIGUSR1


def checkpoint_complete() -> None:
    """Write $TRAINPLANE_CONTROL_DIR/checkpoint-complete atomically, then SIGUSR1 the supervisor.

    Outside trainplane (the variables unset) this does nothing.

    Raises:
        RuntimeError: TRAINPLANE_SUPERVISOR_PID is set but is not a process id.
    """
    control_dir = os.environ.get(CONTROL_DIR_ENV)
    pid_text = os.environ.get(SUPERVISOR_PID_ENV)
    if control_dir:
        _write_marker(Path(control_dir) / CHECKPOINT_COMPLETE_FILE)
    if pid_text:
        _wake_supervisor(pid_text)


def _write_marker(path: Path) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as marker:
        json.dump({"at": time.time()}, marker)
        marker.flush()
        os.fsync(marker.fileno())
    os.replace(temporary, path)


def _wake_supervisor(pid_text: str) -> None:
    try:
        pid = int(pid_text)
    except ValueError:
        raise RuntimeError(f"{SUPERVISOR_PID_ENV}={pid_text!r} is not a process id") from None
    if pid <= 0:
        # os.kill(0 or -n) would signal a whole process group, including this job.
        raise RuntimeError(f"{SUPERVISOR_PID_ENV}={pid_text!r} is not a process id")
    try:
        os.kill(pid, CHECKPOINT_COMPLETE_SIGNAL)
    except (ProcessLookupError, PermissionError):
        # The supervisor is gone, or runs as root while the job runs as --run-as-user: the marker
        # file still records the fact, and the supervisor reads it at its next wake-up.
        pass
