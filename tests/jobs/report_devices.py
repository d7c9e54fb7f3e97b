"""Issue 10 tests: write the GPUs this job sees (CUDA_VISIBLE_DEVICES) to its marker, then wait for a stop."""

from __future__ import annotations

import os
from pathlib import Path

from trainplane import runtime

runtime.install()
marks = Path(os.environ["TEST_MARKER_DIR"])
marks.mkdir(parents=True, exist_ok=True)
(marks / os.environ["TEST_MARKER"]).write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "unset"))
while not runtime.wait_for_stop(0.05):
    pass
