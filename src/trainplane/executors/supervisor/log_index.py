"""When each part of a job's log was written: "size epoch-seconds" marks the supervisor appends.

The job writes job.log itself (its stdout and stderr are the file: nothing of ours sits in the pipe,
so a lost supervisor never blocks or kills the job). What the file cannot say is when each line came;
CloudWatch-style readers need a timestamp per line. The supervisor watches the file with inotify and,
at most every MIN_INTERVAL_SECONDS, appends the file's size and the time. A line's time is the first
mark at or past its end: late by at most that interval, never early. Bytes past the last mark were
written by the file's mtime at the latest (the reader uses that).

No fsync: marks are a reading aid; a power loss that loses some costs coarser timestamps.
"""

from __future__ import annotations

import logging
import os
import selectors
import time
from pathlib import Path

from trainplane.service.observations import LogMarks

_log = logging.getLogger(__name__)
MIN_INTERVAL_SECONDS = 0.1
_IN_MODIFY = 0x2
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


def read_marks(log_path: Path, index_path: Path) -> LogMarks:
    """The marks of `log_path` (an absent log or index reads as empty)."""
    try:
        status = os.stat(log_path)
    except FileNotFoundError:
        return LogMarks(0, (), None)
    marks: list[tuple[int, float]] = []
    try:
        text = index_path.read_text()
    except FileNotFoundError:
        text = ""
    for line in text.splitlines():
        size, _, at = line.partition(" ")
        try:
            mark = (int(size), float(at))
        except ValueError:
            continue  # a line cut by a crash
        if not marks or mark[0] > marks[-1][0]:
            marks.append(mark)
    return LogMarks(status.st_size, tuple(marks), status.st_mtime)


class LogIndexWriter:
    """Appends a mark when the log grew, woken by inotify, at most every MIN_INTERVAL_SECONDS."""

    def __init__(
        self, log_path: Path, index_path: Path, selector: selectors.BaseSelector | None = None
    ) -> None:
        """`selector`: the supervisor's, on which the watch is paused while throttled."""
        self._log_path = log_path
        self._index_path = index_path
        self._selector = selector
        existing = read_marks(log_path, index_path).marks  # a successor carries on the same index
        self._last_size = existing[-1][0] if existing else 0
        self._last_at = 0.0  # monotonic
        self._watch_fd = _watch(log_path)
        self.resume_at: float | None = None  # monotonic: when a throttled watch should look again
        self._is_listening = False
        self._listen(True)

    def fileno(self) -> int | None:
        """The inotify descriptor to wait on; None where inotify is unavailable (marks only at finish)."""
        return self._watch_fd

    def on_modified(self) -> None:
        """The log was written: drain the events, then mark now, or once the interval has passed."""
        if self._watch_fd is not None:
            _drain(self._watch_fd)
        now = time.monotonic()
        if now - self._last_at >= MIN_INTERVAL_SECONDS:
            self.mark()
            return
        # Throttled: stop listening until the interval has passed, so a chatty job wakes us at most
        # once per interval; on_timer() then marks what came meanwhile.
        self.resume_at = self._last_at + MIN_INTERVAL_SECONDS
        self._listen(False)

    def on_timer(self) -> None:
        """A throttled write is due its mark: listen again and mark."""
        if self.resume_at is None or time.monotonic() < self.resume_at:
            return
        if self._watch_fd is not None:
            _drain(self._watch_fd)
        self._listen(True)
        self.mark()

    def mark(self) -> None:
        """Append (size, now) if the log grew since the last mark."""
        self.resume_at = None
        self._last_at = time.monotonic()
        try:
            size = os.stat(self._log_path).st_size
        except FileNotFoundError:
            return
        if size <= self._last_size:
            return
        self._last_size = size
        try:
            with open(self._index_path, "a", encoding="ascii") as index:
                index.write(f"{size} {time.time():.3f}\n")
        except OSError as exc:  # a full disk costs timestamps, never the job
            _log.warning("event=log_index_failed error=%s", exc)

    def close(self) -> None:
        if self._watch_fd is not None:
            self._listen(False)
            os.close(self._watch_fd)
            self._watch_fd = None

    def _listen(self, is_wanted: bool) -> None:
        if self._selector is None or self._watch_fd is None or is_wanted == self._is_listening:
            return
        if is_wanted:
            self._selector.register(self._watch_fd, selectors.EVENT_READ)
        else:
            self._selector.unregister(self._watch_fd)
        self._is_listening = is_wanted


def watched(log_path: Path, index_path: Path, selector: selectors.BaseSelector) -> LogIndexWriter:
    """A writer whose inotify descriptor (if any) `selector` waits on; creates the log if missing."""
    log_path.touch(0o644)  # watched from the start; the job appends to it
    return LogIndexWriter(log_path, index_path, selector)


def _watch(path: Path) -> int | None:
    import ctypes  # here, not at the top: the supervisor's start is on every job's launch path

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fd = int(libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC))
        if fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        if libc.inotify_add_watch(fd, os.fsencode(path), _IN_MODIFY) < 0:
            error = ctypes.get_errno()
            os.close(fd)
            raise OSError(error, f"inotify_add_watch {path}")
    except (OSError, AttributeError) as exc:
        _log.info("event=log_index_unwatched error=%s", exc)
        return None
    return fd


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass
