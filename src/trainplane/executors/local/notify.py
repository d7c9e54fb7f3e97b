"""Progress hints over an AF_UNIX datagram socket: supervisors send a job id (report.send_hint),
the server listens.

A hint only lowers latency; status.json stays the truth, so every error on the way is ignored.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

_log = logging.getLogger(__name__)
_MAX_DATAGRAM_BYTES = 4096


class Listener:
    """Calls `on_change(job_id)` for every datagram, from one daemon thread."""

    def __init__(self, socket_path: Path, on_change: Callable[[str], None]) -> None:
        self._path = socket_path
        self._on_change = on_change
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        # A socket file left by a crashed server would make bind fail: nothing else owns this path.
        self._path.unlink(missing_ok=True)
        self._sock.bind(str(self._path))
        self._thread = threading.Thread(target=self._run, name="local-executor-notify", daemon=True)
        self._thread.start()

    def close(self) -> None:
        # shutdown() wakes the thread blocked in recv() with b"" (closing the fd alone would not).
        self._sock.shutdown(socket.SHUT_RDWR)
        self._thread.join()
        self._sock.close()
        self._path.unlink(missing_ok=True)

    def _run(self) -> None:
        while True:
            try:
                message = self._sock.recv(_MAX_DATAGRAM_BYTES)
            except OSError:
                return
            if not message:
                return  # shut down by close(); supervisors never send an empty datagram
            try:
                self._on_change(message.decode())
            except Exception:  # the edge: a failing callback must not end the listener
                _log.exception("event=notify_callback_failed")
