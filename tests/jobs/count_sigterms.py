"""Counts every SIGTERM it receives (one line each), lingers, then saves and exits 0."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

log = Path(os.environ["TEST_MARKER_DIR"]) / "sigterms"
log.parent.mkdir(parents=True, exist_ok=True)
stopped = threading.Event()


def on_term(signum, frame):
    with log.open("a") as f:
        f.write(f"{time.time()}\n")
    stopped.set()


signal.signal(signal.SIGTERM, on_term)
(log.parent / f"started-{os.getpid()}").write_text("")
print("waiting for SIGTERM", flush=True)
stopped.wait()
deadline = time.monotonic() + float(os.environ.get("LINGER_SECONDS", "1.0"))
while time.monotonic() < deadline:  # stay alive so duplicate SIGTERMs would be counted
    time.sleep(0.05)
(Path(os.environ["SM_MODEL_DIR"]) / "model.txt").write_text("saved")
