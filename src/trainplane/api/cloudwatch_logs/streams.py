"""A job's log as CloudWatch Logs sees it: one stream per job, events cut at newlines, each timed.

Pure functions over the log's bytes and its LogMarks (service.ports): which stream names a job, where
a stream's events start and end, and the forward/backward tokens that point into the log by byte
offset ("f/<offset>", "b/<offset>", as opaque to clients as AWS's own).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from trainplane.domain import errors
from trainplane.domain.job import Job
from trainplane.service.ports import LogMarks

HOST = "algo-1"  # SageMaker's name for the first (here: only) instance of a job
MAX_EVENT_BYTES = 256 * 1024
MAX_OFFSET = 2**63 - 1  # CloudWatch's largest event; a longer line is cut into several


def stream_name(job: Job) -> str | None:
    """SageMaker's "<job>/algo-1-<start epoch>"; None before the job started (no stream yet)."""
    if job.started_at is None:
        return None
    return f"{job.name}/{HOST}-{int(job.started_at.timestamp())}"


def job_name_of(stream: str) -> str:
    """The job a stream name claims. Raises: errors.NotFound (in the dialect's words) for a malformed one."""
    name, slash, host = stream.rpartition("/")
    if not slash or not name or not host.startswith(f"{HOST}-"):
        raise errors.NotFound("log stream", stream)
    return name


@dataclass(frozen=True)
class Event:
    start: int  # byte offset of the line
    end: int  # byte offset just past it (and its newline)
    timestamp_ms: int
    message: str


def events(data: bytes, base: int, marks: LogMarks, *, is_final: bool, now: datetime) -> Iterator[Event]:
    """The events of `data` (read from byte `base`): whole lines, plus a trailing partial line only
    when the log is final and `data` reaches its end."""
    position = 0
    while position < len(data):
        newline = data.find(b"\n", position, position + MAX_EVENT_BYTES)
        if newline < 0:
            is_last = base + len(data) >= marks.size
            if len(data) - position < MAX_EVENT_BYTES and not (is_final and is_last):
                return  # an unfinished line: it becomes an event once its newline is written
            cut = min(len(data), position + MAX_EVENT_BYTES)
            yield _event(data[position:cut], base + position, base + cut, marks, now)
            position = cut
            continue
        yield _event(data[position:newline], base + position, base + newline + 1, marks, now)
        position = newline + 1


def first_offset_at(marks: LogMarks, start_ms: int) -> int:
    """A byte offset before which every line was written before `start_ms` (0 when marks can't tell)."""
    offset = 0
    for size, at in marks.marks:
        if at * 1000 >= start_ms:
            break
        offset = size  # everything up to here was written before start_ms
    return offset


def parse_token(token: str) -> int:
    """The offset in a "f/<n>" or "b/<n>" token. Raises: errors.Invalid naming nextToken."""
    prefix, _, digits = token.partition("/")
    if prefix not in ("f", "b") or not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise errors.Invalid("nextToken", "The specified nextToken is invalid.")
    offset = int(digits)
    if offset > MAX_OFFSET:  # past off_t, seek() would overflow
        raise errors.Invalid("nextToken", "The specified nextToken is invalid.")
    return offset


def _event(raw: bytes, start: int, end: int, marks: LogMarks, now: datetime) -> Event:
    written = marks.written_at(end)
    seconds = written if written is not None else now.timestamp()
    return Event(start, end, int(seconds * 1000), raw.decode("utf-8", "replace").rstrip("\r"))
