"""A script-mode entry point, as SageMaker users write them: argparse hyperparameters, SM_* paths,
a SIGTERM handler that saves the model in the stop window. Run by the sagemaker-training toolkit."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=5)
parser.add_argument("--until_stopped", type=int, default=0)
arguments = parser.parse_args()
model_dir = Path(os.environ["SM_MODEL_DIR"])
settings = json.loads(Path(__file__).with_name("settings.json").read_text())  # from source_dir
print(f"script mode started, {settings['greeting']}", flush=True)
epoch = 0
while not stop.is_set() and (arguments.until_stopped or epoch < arguments.epochs):
    epoch += 1
    print(f"epoch={epoch} loss={1.0 / epoch:.4f}", flush=True)
    stop.wait(0.05)
(model_dir / "model.json").write_text(json.dumps({"epochs": epoch, "stopped": stop.is_set()}))
print("model saved", flush=True)
sys.exit(0)
