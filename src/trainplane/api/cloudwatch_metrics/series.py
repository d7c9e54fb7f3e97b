"""A job's metric series, read from its log with its MetricDefinitions, and CloudWatch's statistics over them.

Pure functions: every line a definition's regex matches is one sample of that metric, timed when the job
wrote the line (the log's marks, as CloudWatch Logs events are); its value is the first capture group
(the whole match without one), parsed as a finite float, as SageMaker parses them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from trainplane.domain import errors
from trainplane.domain.job import MetricDefinition
from trainplane.service.ports import UsageSample

STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
_PERCENTILE = re.compile(r"p(\d{1,2}(?:\.\d{1,2})?)")


@dataclass(frozen=True)
class Sample:
    at: float  # epoch seconds
    value: float


@dataclass(frozen=True)
class Datapoint:
    start: float  # epoch seconds: the start of the period
    values: tuple[float, ...]

    def statistic(self, name: str) -> float:
        """Raises: errors.Invalid for a statistic CloudWatch does not know."""
        if name == "SampleCount":
            return float(len(self.values))
        if name == "Average":
            return math.fsum(self.values) / len(self.values)
        if name == "Sum":
            return math.fsum(self.values)
        if name == "Minimum":
            return min(self.values)
        if name == "Maximum":
            return max(self.values)
        percentile = _PERCENTILE.fullmatch(name)
        if percentile is None or float(percentile.group(1)) > 100:
            raise errors.Invalid("Stat", f"The statistic {name[:40]} is not supported.")
        return _percentile(sorted(self.values), float(percentile.group(1)))


def compiled(definitions: Sequence[MetricDefinition]) -> dict[str, re.Pattern[str]]:
    """Each definition's pattern, by metric name; one whose regex does not compile has no samples."""
    patterns: dict[str, re.Pattern[str]] = {}
    for definition in definitions:
        try:
            patterns[definition.name] = re.compile(definition.regex)
        except re.error:
            continue
    return patterns


def samples(pattern: re.Pattern[str], lines: Iterable[tuple[float, str]]) -> list[Sample]:
    """The samples `pattern` finds in (epoch seconds, line) pairs: each match on a line is one."""
    found: list[Sample] = []
    for at, line in lines:
        for match in pattern.finditer(line):
            raw = match.group(1) if pattern.groups else match.group(0)
            value = _number(raw)
            if value is not None:
                found.append(Sample(at, value))
    return found


def utilization(usage: Sequence[UsageSample], memory_total_bytes: int) -> dict[str, list[Sample]]:
    """SageMaker's instance metrics from the supervisor's usage samples: CPUUtilization (per cent of one
    core, as SageMaker counts it: 400 is four busy cores) between successive samples, and
    MemoryUtilization (per cent of this machine's memory) at each sample."""
    cpu: list[Sample] = []
    memory: list[Sample] = []
    previous: UsageSample | None = None
    for sample in usage:
        at = sample.at.timestamp()
        memory.append(Sample(at, 100.0 * sample.memory_bytes / max(1, memory_total_bytes)))
        if previous is not None and at > previous.at.timestamp():
            elapsed = at - previous.at.timestamp()
            cpu.append(Sample(at, max(0.0, 100.0 * (sample.cpu_seconds - previous.cpu_seconds) / elapsed)))
        previous = sample
    return {"CPUUtilization": cpu, "MemoryUtilization": memory}


def datapoints(found: Iterable[Sample], start: float, end: float, period_seconds: int) -> list[Datapoint]:
    """Samples in [start, end), grouped by periods aligned to multiples of `period_seconds`, oldest first."""
    buckets: dict[float, list[float]] = {}
    for sample in found:
        if start <= sample.at < end:
            bucket = math.floor(sample.at / period_seconds) * period_seconds
            buckets.setdefault(bucket, []).append(sample.value)
    return [Datapoint(bucket, tuple(values)) for bucket, values in sorted(buckets.items())]


def statistics_of(point: Datapoint, names: Sequence[str]) -> Mapping[str, float]:
    return {name: point.statistic(name) for name in names}


def _number(raw: str | None) -> float | None:
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _percentile(ordered: list[float], percent: float) -> float:
    """The nearest-rank percentile."""
    rank = math.ceil(percent / 100 * len(ordered))
    return ordered[min(len(ordered), max(1, rank)) - 1]
