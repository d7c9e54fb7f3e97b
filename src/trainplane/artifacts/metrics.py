"""Final metric values from a job's log (MetricDefinitions), and the job's own failure reason."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from trainplane.artifacts.layout import JobLayout
from trainplane.domain.job import Metric, MetricDefinition

CHUNK_BYTES = 1 << 20
FAILURE_REASON_CHARS = 1024  # SageMaker returns the first 1024 characters of output/failure


def final_metrics(
    log_path: Path, definitions: Sequence[MetricDefinition], at: datetime
) -> tuple[Metric, ...]:
    """For each definition, the last value its regex finds in the log; definitions never met are left out.

    The value is the first capture group (the whole match without one), parsed as a finite float;
    matches that do not parse are skipped. Patterns run per line (re.MULTILINE). The log is read
    backwards in 1 MiB chunks, so a 100 MB log whose metrics appear near its end costs one chunk.
    Definitions whose regex does not compile are left out: a bad pattern must not stop packaging.
    """
    pending = _compiled(definitions)
    found: dict[str, float] = {}
    if not pending or not log_path.is_file():
        return ()
    with log_path.open("rb") as log:
        for chunk in _chunks_backwards(log):
            for name, pattern in list(pending.items()):
                value = _last_value(pattern, chunk)
                if value is not None:
                    found[name] = value
                    del pending[name]
            if not pending:
                break
    return tuple(Metric(name=d.name, value=found[d.name], at=at) for d in definitions if d.name in found)


def read_failure_reason(layout: JobLayout) -> str | None:
    """The first 1024 characters of output/failure, stripped; None when absent or blank."""
    try:
        with layout.failure_file.open(encoding="utf-8", errors="replace") as failure:
            reason = failure.read(FAILURE_REASON_CHARS).strip()
    except (FileNotFoundError, IsADirectoryError):
        return None
    return reason or None


def _compiled(definitions: Sequence[MetricDefinition]) -> dict[str, re.Pattern[str]]:
    patterns: dict[str, re.Pattern[str]] = {}
    for definition in definitions:
        try:
            patterns[definition.name] = re.compile(definition.regex, re.MULTILINE)
        except re.error:
            continue
    return patterns


def _last_value(pattern: re.Pattern[str], text: str) -> float | None:
    matches = list(pattern.finditer(text))
    for match in reversed(matches):
        raw = match.group(1) if pattern.groups else match.group(0)
        if raw is None:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            return value
    return None


def _chunks_backwards(log: BinaryIO) -> Iterator[str]:
    """The file's text from the end, in chunks that always hold whole lines."""
    end = log.seek(0, 2)
    head = b""  # the start of a line whose beginning lies in the chunk before
    while end > 0:
        start = max(0, end - CHUNK_BYTES)
        log.seek(start)
        block = log.read(end - start) + head
        end = start
        if start > 0:
            cut = block.find(b"\n")
            if cut < 0:
                head = block  # one line longer than a chunk: keep reading backwards
                continue
            head, block = block[: cut + 1], block[cut + 1 :]
        else:
            head = b""
        # Cutting at b"\n" never splits a UTF-8 sequence, so decoding per chunk is exact.
        yield block.decode("utf-8", errors="replace")
