"""The pushed code: runs from the unpacked upload (its own directory), writes a checkpoint, and logs
until it is stopped."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

stopped = False


def on_term(signum, frame):
    global stopped
    stopped = True


signal.signal(signal.SIGTERM, on_term)
checkpoint = Path(os.environ["BT_CHECKPOINT_DIR"]) / "checkpoint-1"
checkpoint.mkdir(parents=True, exist_ok=True)
(checkpoint / "weights.bin").write_bytes(b"p" * 100)
print(f"pushed code running in {Path.cwd().name} with EPOCHS={os.environ['EPOCHS']}", flush=True)
print(f"next to config.py: {Path('config.py').exists()}", flush=True)
while not stopped:
    time.sleep(0.05)
print("pushed job stopped", flush=True)
