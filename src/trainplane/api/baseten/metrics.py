"""A job's CPU and memory series as Baseten's metrics answer shows them, from the usage its supervisor
samples (JobService.read_usage): CPU in cores (the CPU time between two samples over the time between
them), memory in bytes. GPU and storage series stay empty: nothing samples them here."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from trainplane.api.baseten.schemas import MetricsWindow
from trainplane.service.ports import UsageSample

NODE_ID = "0"


def metrics_doc(samples: Sequence[UsageSample], window: MetricsWindow) -> dict[str, Any]:
    """Every key the SDK requires; `per_node_metrics` holds the one node a trainplane job has."""
    chosen = _thinned(_within(samples, window), window.step_seconds)
    series: dict[str, Any] = {
        "gpu_memory_usage_bytes": {},
        "gpu_utilization": {},
        "cpu_usage": [_point(b.at, _cores(a, b)) for a, b in itertools.pairwise(chosen)],
        "cpu_memory_usage_bytes": [_point(s.at, float(s.memory_bytes)) for s in chosen],
        "ephemeral_storage": {"usage_bytes": [], "utilization": []},
    }
    return {**series, "cache": None, "per_node_metrics": [{"node_id": NODE_ID, "metrics": series}]}


def _within(samples: Sequence[UsageSample], window: MetricsWindow) -> list[UsageSample]:
    start = window.start_ms if window.start_ms is not None else 0
    end = window.end_ms if window.end_ms is not None else 2**63
    return [s for s in samples if start <= s.at.timestamp() * 1000 <= end]


def _thinned(samples: list[UsageSample], step_seconds: int | None) -> list[UsageSample]:
    """At most one sample per step (the first of each)."""
    if not step_seconds:
        return samples
    kept: list[UsageSample] = []
    for sample in samples:
        if not kept or (sample.at - kept[-1].at).total_seconds() >= step_seconds:
            kept.append(sample)
    return kept


def _cores(before: UsageSample, after: UsageSample) -> float:
    elapsed = (after.at - before.at).total_seconds()
    return max(0.0, (after.cpu_seconds - before.cpu_seconds) / elapsed) if elapsed > 0 else 0.0


def _point(at: datetime, value: float) -> dict[str, Any]:
    return {"value": value, "timestamp": at.isoformat()}
