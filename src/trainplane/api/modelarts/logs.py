"""A version's log as ModelArts' "aom-log" pages: `lines` lines before or after a cursor.

A cursor (`start_line`, `end_line`, `base_line`) is the byte offset at which a line starts, as a
decimal string: opaque to clients, which only hand it back. Without `base_line` the page is the
latest lines; `order=desc` gives the lines after the cursor's line ("next records"), `order=asc` the
ones before it. A line still being written is left out until its newline arrives (or the job ends),
so a line is never returned twice in pieces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trainplane.api.modelarts import params
from trainplane.domain import errors
from trainplane.domain.job import Job
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService

MAX_LINES = 500
DEFAULT_LINES = 50
WINDOW_BYTES = 1024 * 1024  # one page reads at most this much of the log
MAX_CURSOR = 2**63 - 1

Line = tuple[int, bytes]  # (offset of its first byte, its bytes with the newline)


def file_names(run: Job) -> list[str]:
    """One log per worker, named as ModelArts names them (`<name>.<worker index>`); one worker here."""
    return [f"{run.name}.0"]


def page(jobs: JobService, tenant: str, run: Job, query: Mapping[str, str]) -> dict[str, Any]:
    """Raises: errors.Invalid naming a bad parameter."""
    log_file = params.text(query, "log_file", 256)
    if log_file not in file_names(run):
        raise errors.Invalid("log_file", f"is required and must be one of {', '.join(file_names(run))}")
    count = params.integer(query, "lines", 0, MAX_LINES, DEFAULT_LINES)
    base_text = query.get("base_line", "")
    base = None if base_text == "" else params.integer(query, "base_line", 0, MAX_CURSOR, 0)
    order = params.choice(query, "order", ("desc", "asc"), "desc")
    if base is None:
        found = _before(jobs, tenant, run, None, count)
    elif order == "desc":
        found = _after(jobs, tenant, run, base, count)
    else:
        found = _before(jobs, tenant, run, base, count)
    fallback = "" if base is None else str(base)
    return {
        "content": b"".join(text for _, text in found).decode("utf-8", "replace"),
        "lines": len(found),
        "start_line": str(found[0][0]) if found else fallback,
        "end_line": str(found[-1][0]) if found else fallback,
    }


def _read(jobs: JobService, tenant: str, run: Job, offset: int, max_bytes: int) -> tuple[bytes, bool]:
    if max_bytes <= 0:
        return b"", run.is_terminal
    return jobs.read_log(tenant, JobKind.TRAINING, run.name, offset, max_bytes)


def _split(data: bytes, start: int, *, keep_partial: bool) -> list[Line]:
    lines: list[Line] = []
    offset = start
    for text in data.splitlines(keepends=True):
        if text.endswith(b"\n") or keep_partial:
            lines.append((offset, text))
        offset += len(text)
    return lines


def _after(jobs: JobService, tenant: str, run: Job, base: int, count: int) -> list[Line]:
    data, was_terminal = _read(jobs, tenant, run, base, WINDOW_BYTES)
    lines = _split(data, base, keep_partial=was_terminal)
    return [line for line in lines if line[0] > base][:count]


def _before(jobs: JobService, tenant: str, run: Job, base: int | None, count: int) -> list[Line]:
    if count == 0:
        return []
    end = base if base is not None else jobs.read_log_marks(tenant, JobKind.TRAINING, run.name).size
    start = max(0, end - WINDOW_BYTES)
    data, was_terminal = _read(jobs, tenant, run, start, end - start)
    lines = _split(data, start, keep_partial=base is None and was_terminal)
    if start > 0 and lines:
        lines = lines[1:]  # the window began inside a line
    return lines[-count:]
