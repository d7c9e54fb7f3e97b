"""A stand-in for the compiler runner that takes its time (tests of stopping a compilation job).

The server under test maps the `trainplane/compiler` image to this script. It leaves a partial result
in SM_MODEL_DIR at once, then "compiles" until stopped. SIGTERM ends it (Python's default), unless the
model it was given holds a file named `ignore-sigterm`: then it ignores SIGTERM and must be SIGKILLed.
Once its signal handling is set, it writes `compiling` beside the model archive.
"""

from __future__ import annotations

import signal
import tarfile
import time

from trainplane import runtime

channel = runtime.channel_dir("model")
names: set[str] = set()
for archive in channel.iterdir():
    with tarfile.open(archive) as opened:
        names.update(member.name for member in opened.getmembers())
if "ignore-sigterm" in names:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
runtime.model_dir().mkdir(parents=True, exist_ok=True)
(runtime.model_dir() / "compiled.so").write_bytes(b"partial")
# Beside the model it was given: the test waits for this before it stops the job.
(archive.resolve().parent / "compiling").write_text("handlers installed")
print("compiling", flush=True)
while True:
    time.sleep(0.05)
