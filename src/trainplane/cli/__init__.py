"""The `trainplane` command: AWS-CLI-shaped job commands over HTTP, plus `serve`, `logs` and `wait`."""

from __future__ import annotations
