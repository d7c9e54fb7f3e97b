"""The Ray executor: each job is a Ray job (Job Submission API) whose entrypoint is trainplane's own
per-job supervisor, started with `exec`, so the stop protocol, the grace window and the outcome are ours.

Import `trainplane.executors.ray.executor.RayExecutor`; importing it does not import Ray itself (the
client is loaded when the executor is built).
"""

from __future__ import annotations
