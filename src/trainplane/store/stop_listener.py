"""PostgreSQL LISTEN for stops any replica persists, so the job's owner hears of one at once.

A latency hint, never the truth: the trigger of migration 0003 notifies when a job becomes
`Stopping`; a notification lost while the listener reconnects costs at most the claims poll's second.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

log = logging.getLogger("trainplane.store")
CHANNEL = "trainplane_stops"  # migration 0003_replica_claims's trigger notifies here, with the job id
WAIT_SECONDS = 0.5  # how long one wait for notifications lasts: how soon close() is noticed
RECONNECT_SECONDS = 1.0
CONNECT_TIMEOUT_SECONDS = 10


class StopListener:
    """A thread holding one connection that LISTENs; `on_stop(job_id)` for each notification."""

    def __init__(self, conninfo: str, on_stop: Callable[[str], None]) -> None:
        self._conninfo = conninfo
        self._on_stop = on_stop
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stop-listener", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closing.set()
        self._thread.join(WAIT_SECONDS + CONNECT_TIMEOUT_SECONDS)

    def _run(self) -> None:
        import psycopg  # only a server on PostgreSQL pays for the driver (memory, start time)

        while not self._closing.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:  # the database restarted or is unreachable: try again
                log.warning("event=stop_listener_error error=%s", exc)
                self._closing.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
        ) as connection:
            connection.execute(f"LISTEN {CHANNEL}")
            while not self._closing.is_set():
                for notification in connection.notifies(timeout=WAIT_SECONDS):
                    self._on_stop(notification.payload)
