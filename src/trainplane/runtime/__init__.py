"""Helpers for training code running under trainplane: the stop event, SM_* paths, the handshake.

Standard library only, no other trainplane import: this runs inside users' training processes.

    from trainplane import runtime
    runtime.install()
    while not runtime.stop_requested():
        train_one_batch()
    save(runtime.model_dir()); runtime.checkpoint_complete()
"""

from __future__ import annotations

from trainplane.runtime.deadline import time_left_seconds, warning_received, watch_warning
from trainplane.runtime.handshake import (
    CHECKPOINT_COMPLETE_FILE,
    CHECKPOINT_COMPLETE_SIGNAL,
    CONTROL_DIR_ENV,
    SUPERVISOR_PID_ENV,
    checkpoint_complete,
)
from trainplane.runtime.paths import (
    MissingEnvironment,
    channel_dir,
    checkpoint_dir,
    hyperparameters,
    model_dir,
    output_data_dir,
    output_dir,
    write_failure,
)
from trainplane.runtime.stop import install, stop_requested, wait_for_stop

__all__ = [
    "CHECKPOINT_COMPLETE_FILE",
    "CHECKPOINT_COMPLETE_SIGNAL",
    "CONTROL_DIR_ENV",
    "SUPERVISOR_PID_ENV",
    "MissingEnvironment",
    "channel_dir",
    "checkpoint_complete",
    "checkpoint_dir",
    "hyperparameters",
    "install",
    "model_dir",
    "output_data_dir",
    "output_dir",
    "stop_requested",
    "time_left_seconds",
    "wait_for_stop",
    "warning_received",
    "watch_warning",
    "write_failure",
]
