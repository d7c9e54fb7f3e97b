"""A job that saves its model when stopped: the behaviour SageMaker's 120 s window exists for."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from trainplane import runtime

runtime.install()
marker_dir = Path(os.environ["TEST_MARKER_DIR"])
marker_dir.mkdir(parents=True, exist_ok=True)
(marker_dir / f"started-{os.getpid()}").write_text(str(time.time()))
print("training started", flush=True)
step = 0
while not runtime.wait_for_stop(0.05):
    step += 1
    print(f"step={step} loss={1.0 / step:.4f}", flush=True)
    if os.environ.get("EXIT_AFTER_STEPS") and step >= int(os.environ["EXIT_AFTER_STEPS"]):
        (runtime.model_dir() / "model.json").write_text(json.dumps({"steps": step}))
        sys.exit(int(os.environ.get("EXIT_CODE", "0")))
(marker_dir / f"sigterm-{os.getpid()}").write_text(str(time.time()))
(runtime.model_dir() / "model.json").write_text(json.dumps({"steps": step, "stopped": True}))
if os.environ.get("SIGNAL_COMPLETE") == "1":
    runtime.checkpoint_complete()
print("saved model on stop", flush=True)
