"""Lists its channel, resumes from its checkpoints, saves one per step; with RUN_UNTIL_STOPPED=1 it
waits for SIGTERM and saves a last checkpoint and its model in the stop window (tests/e2e/test_s3_moto.py)."""

from __future__ import annotations

import json
import os
import pathlib
import sys

from trainplane import runtime

runtime.install()
channel = pathlib.Path(os.environ["SM_CHANNEL_TRAIN"])
checkpoints = runtime.checkpoint_dir()
files = sorted(p.relative_to(channel).as_posix() for p in channel.rglob("*") if p.is_file())
resumed = sorted(p.name for p in checkpoints.iterdir())
print("channel", json.dumps(files), "resumed", json.dumps(resumed), flush=True)
(checkpoints / "step-1").write_text("1")
(runtime.output_data_dir() / "report.txt").write_text("report")
if os.environ.get("RUN_UNTIL_STOPPED") != "1":
    (runtime.model_dir() / "model.json").write_text(json.dumps({"files": files, "resumed": resumed}))
    sys.exit(0)
print("waiting for stop", flush=True)
while not runtime.wait_for_stop(0.05):
    pass
(checkpoints / "in-the-window").write_text("saved after SIGTERM")
(runtime.model_dir() / "model.json").write_text(json.dumps({"stopped": True}))
