"""A Baseten-style training job: writes a checkpoint to $BT_CHECKPOINT_DIR, logs its steps, and on
SIGTERM writes one more checkpoint before it exits (or exits by itself after EXIT_AFTER_STEPS)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from trainplane import runtime

runtime.install()
checkpoints = Path(os.environ["BT_CHECKPOINT_DIR"])
(checkpoints / "checkpoint-1").mkdir(parents=True, exist_ok=True)
(checkpoints / "checkpoint-1" / "weights.bin").write_bytes(b"w" * 1000)
print(
    f"training {os.environ.get('BT_TRAINING_JOB_NAME')} started, EPOCHS={os.environ.get('EPOCHS')}",
    flush=True,
)
step = 0
while not runtime.wait_for_stop(0.05):
    step += 1
    print(f"step={step}", flush=True)
    if os.environ.get("EXIT_AFTER_STEPS") and step >= int(os.environ["EXIT_AFTER_STEPS"]):
        sys.exit(int(os.environ.get("EXIT_CODE", "0")))
(checkpoints / "checkpoint-final").mkdir(exist_ok=True)
(checkpoints / "checkpoint-final" / "weights.bin").write_bytes(b"f" * 10)
print("saved checkpoint on stop", flush=True)
