"""A job's log as Baseten shows it: lines in a time window, oldest or newest first, at most `limit`.

Lines and their times come from the CloudWatch Logs side's pure helpers (api/cloudwatch_logs/streams.py:
a line's time is the supervisor's first log mark past it), so both wires time a line alike.
truss pages forward with `start = last line's ms + 1` and stops only on an empty page (§2.6): the
window is honoured exactly, and a page never ends inside a run of lines sharing one millisecond.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from trainplane.api.baseten.schemas import LogWindow
from trainplane.api.cloudwatch_logs import streams
from trainplane.domain.job import Job
from trainplane.service.jobs import JobService

READ_BYTES = 1024 * 1024
SCAN_BUDGET_BYTES = 64 * 1024 * 1024  # the most one call reads of a log
DEFAULT_WINDOW_MS = 30 * 60 * 1000  # without a start: the last 30 minutes (the SDK's documented default)


def log_lines(service: JobService, job: Job, window: LogWindow, now: datetime) -> list[dict[str, Any]]:
    """The wire log entries of `job` in `window`."""
    end_ms = window.end_ms if window.end_ms is not None else int(now.timestamp() * 1000)
    start_ms = window.start_ms if window.start_ms is not None else end_ms - DEFAULT_WINDOW_MS
    in_window = (
        event for event in _events(service, job, start_ms, now) if start_ms <= event.timestamp_ms <= end_ms
    )
    if window.is_ascending:
        chosen = _first(in_window, window.limit)
    else:
        chosen = list(collections.deque(in_window, maxlen=window.limit))[::-1]
    return [
        {"timestamp": str(event.timestamp_ms * 1_000_000), "message": event.message, "replica": None}
        for event in chosen
    ]


def _events(service: JobService, job: Job, start_ms: int, now: datetime) -> Iterator[streams.Event]:
    """The job's whole lines from about `start_ms` on, in order, up to the scan budget."""
    marks = service.read_log_marks(job.tenant, job.kind, job.name)
    offset = streams.first_offset_at(marks, start_ms)
    budget_end = offset + SCAN_BUDGET_BYTES
    while offset < min(marks.size, budget_end):
        # Never past the marks' size: every line read has a mark, so its time is known, not guessed.
        data, is_final = service.read_log(
            job.tenant, job.kind, job.name, offset, min(READ_BYTES, marks.size - offset)
        )
        end = offset
        for event in streams.events(data, offset, marks, is_final=is_final, now=now):
            end = event.end
            yield event
        if end == offset:
            return  # an unfinished last line (or nothing new)
        offset = end


def _first(events: Iterator[streams.Event], limit: int) -> list[streams.Event]:
    """The first `limit` events, cut before a trailing run of one millisecond that goes on past the
    limit (unless that is all there is): the next page starts at that millisecond + 1."""
    kept: list[streams.Event] = []
    for event in events:
        kept.append(event)
        if len(kept) > limit:
            break
    if len(kept) <= limit:
        return kept
    overflow_ms = kept[limit].timestamp_ms
    cut = limit
    while cut > 0 and kept[cut - 1].timestamp_ms == overflow_ms:
        cut -= 1
    return kept[: cut or limit]
