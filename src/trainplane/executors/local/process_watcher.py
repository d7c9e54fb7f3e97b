"""One thread that notices when any of many processes ends: pidfds in one selector.

The control plane watches every supervisor this way: it reaps the ones it started (no zombie, and no
thread per child: 500 jobs were 500 threads) and hears at once when one vanishes, so a lost
supervisor's duties are taken over promptly instead of at the next sweep.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import threading
from collections.abc import Callable
from dataclasses import dataclass

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Watched:
    pid: int
    key: str | None  # what on_exit is told (a job id); None: tell nobody
    is_child: bool  # ours to reap


class ProcessWatcher:
    """Calls `on_exit(key)` from one daemon thread when a watched process ends."""

    def __init__(self) -> None:
        self._on_exit: Callable[[str], None] = lambda key: None
        self._lock = threading.Lock()
        self._incoming: list[tuple[int, _Watched]] = []
        self._watched_pids: set[int] = set()
        self._selector = selectors.DefaultSelector()
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_read, selectors.EVENT_READ)
        self._thread: threading.Thread | None = None
        self._is_closed = False

    def set_on_exit(self, on_exit: Callable[[str], None]) -> None:
        self._on_exit = on_exit

    def watch(self, pid: int, key: str | None, *, is_child: bool = False) -> bool:
        """Watch `pid` (once); False if it is already gone."""
        with self._lock:
            if pid in self._watched_pids or self._is_closed:
                return True
            try:
                pidfd = os.pidfd_open(pid)
            except ProcessLookupError:
                return False
            except OSError as exc:
                # Out of descriptors (EMFILE) must not fail a launch: the reconciler's sweep still
                # observes the supervisor, only the instant notice of its death is lost.
                _log.warning("event=process_watch_unavailable pid=%d error=%s", pid, exc)
                return True
            self._watched_pids.add(pid)
            self._incoming.append((pidfd, _Watched(pid, key, is_child)))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="process-watcher", daemon=True)
                self._thread.start()
        self._wake()
        return True

    def is_watching(self, pid: int) -> bool:
        """True while `pid` is watched: it has not ended (or its end is being handled right now)."""
        with self._lock:
            return pid in self._watched_pids

    def close(self) -> None:
        with self._lock:
            self._is_closed = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join()
        for key in list(self._selector.get_map().values()):
            if key.fd != self._wake_read:
                os.close(key.fd)
        self._selector.close()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _run(self) -> None:
        while True:
            with self._lock:
                if self._is_closed:
                    return
                incoming, self._incoming = self._incoming, []
            for pidfd, watched in incoming:
                self._selector.register(pidfd, selectors.EVENT_READ, watched)
            for key, _ in self._selector.select():
                if key.fd == self._wake_read:
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_read, 4096)
                else:
                    self._ended(key.fd, key.data)

    def _ended(self, pidfd: int, watched: _Watched) -> None:
        self._selector.unregister(pidfd)
        os.close(pidfd)
        if watched.is_child:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(watched.pid, os.WNOHANG)
        with self._lock:
            self._watched_pids.discard(watched.pid)
        if watched.key is None:
            return
        try:
            self._on_exit(watched.key)
        except Exception:  # the edge: a failing callback must not end the watcher
            _log.exception("event=process_watch_callback_failed key=%s", watched.key)
