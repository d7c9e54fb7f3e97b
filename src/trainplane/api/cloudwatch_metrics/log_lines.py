"""A job's log as (epoch seconds, line) pairs, read through the service in bounded windows.

A line's time is when the job wrote it, as the log's marks tell (service.ports.LogMarks): late by at
most the marking interval, never early. One scan reads at most MAX_SCAN_BYTES of a log.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from trainplane.domain.job import Job
from trainplane.service.jobs import JobService
from trainplane.service.ports import LogMarks

WINDOW_BYTES = 1024 * 1024
MAX_SCAN_BYTES = 64 * WINDOW_BYTES  # a metrics read of a 64 MiB log costs 64 reads; past it, no samples


def lines(service: JobService, tenant: str, job: Job, marks: LogMarks) -> Iterator[tuple[float, str]]:
    """Every whole line of the job's log (and its unfinished last line once the job is over)."""
    offset = 0
    carry = b""
    while offset < min(marks.size, MAX_SCAN_BYTES):
        data, is_final = service.read_log(tenant, job.kind, job.name, offset, WINDOW_BYTES)
        if not data:
            break
        block = carry + data
        start = offset - len(carry)
        offset += len(data)
        cut = block.rfind(b"\n") + 1
        is_end = is_final and offset >= marks.size
        whole, carry = (block, b"") if is_end else (block[:cut], block[cut:])
        yield from _timed(whole, start, marks)


def _timed(block: bytes, base: int, marks: LogMarks) -> Iterator[tuple[float, str]]:
    position = 0
    for raw in block.split(b"\n"):
        position += len(raw) + 1
        if raw:
            written = marks.written_at(base + position)
            yield (written if written is not None else time.time()), raw.decode("utf-8", "replace")
