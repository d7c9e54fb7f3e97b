"""The server's hold on its data dir: an exclusive lock, and a check that the database is the one it left.

<data-dir>/server.lock     flock(LOCK_EX) held for the server's whole life: one server per data dir
<data-dir>/store-id.json   {"store_id", "jobs_created"}: which database this data dir holds, and how
                           many jobs it had created at least (a high-water mark the server raises)

The database keeps the same store id and a jobs-created counter (a trigger, migration 0002), so a
database that was replaced, emptied or truncated under the server (a deleted WAL, a restored old file)
is noticed at the next start: it has another id, none, or fewer jobs created than the marker saw.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

LOCK_FILE = "server.lock"
MARKER_FILE = "store-id.json"
MARKER_REFRESH_SECONDS = 1.0


class DataDirInUse(Exception):
    """Another server holds the data dir."""


class StoreMismatch(Exception):
    """The database is not the one this data dir held, or it is damaged."""


class DataDirLock:
    """An exclusive flock on <data-dir>/server.lock; released by close() or by the process's death."""

    def __init__(self, data_dir: Path) -> None:
        """Raises: DataDirInUse: another live process holds the lock."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / LOCK_FILE
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "unknown"
            os.close(self._fd)
            raise DataDirInUse(
                f"the data dir {data_dir.resolve()} is in use by another trainplane server (pid {holder})"
            ) from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{os.getpid()}\n".encode(), 0)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


def quick_check(sqlite_path: Path) -> None:
    """Raises: StoreMismatch when SQLite's PRAGMA quick_check finds the database damaged."""
    if not sqlite_path.exists():
        return
    try:
        with contextlib.closing(sqlite3.connect(sqlite_path, timeout=10)) as connection:
            rows = connection.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreMismatch(f"the database {sqlite_path} is unreadable: {exc}") from exc
    problems = [str(row[0]) for row in rows if row[0] != "ok"]
    if problems:
        raise StoreMismatch(
            f"the database {sqlite_path} failed its integrity check: {'; '.join(problems[:3])}"
        )


class StoreMarker:
    """Ties a data dir to its database; check() at start, then refresh() keeps the high-water mark."""

    def __init__(self, data_dir: Path, engine: sa.Engine) -> None:
        self.path = data_dir / MARKER_FILE
        self._engine = engine
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> None:
        """Adopt a new database, or confirm this one is the database the marker names.

        Raises:
            StoreMismatch: the database has another id, or none while the marker saw jobs, or fewer
                jobs created than the marker saw.
        """
        marker = self._read_marker()
        store_id, created = self._read_database()
        if marker is None:
            store_id = store_id or self._assign_id()
        elif store_id is None and int(marker["jobs_created"]) == 0:
            store_id = self._assign_id(str(marker["store_id"]))
        else:
            _compare(self.path, marker, store_id, created)
        self._write_marker(str(store_id), max(created, int(marker["jobs_created"]) if marker else 0))

    def start(self) -> None:
        """Raise the marker's high-water mark as jobs are created (every MARKER_REFRESH_SECONDS)."""
        self._thread = threading.Thread(target=self._run, name="store-marker", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        with contextlib.suppress(Exception):  # shutting down: the next start checks again anyway
            self.refresh()

    def refresh(self) -> None:
        marker = self._read_marker()
        store_id, created = self._read_database()
        if marker is None or store_id != marker["store_id"] or created <= int(marker["jobs_created"]):
            return
        self._write_marker(str(store_id), created)

    def _run(self) -> None:
        while not self._stop.wait(MARKER_REFRESH_SECONDS):
            with contextlib.suppress(Exception):  # a busy database: the next round catches up
                self.refresh()

    def _read_marker(self) -> dict[str, Any] | None:
        try:
            marker: dict[str, Any] = json.loads(self.path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreMismatch(f"{self.path} is unreadable ({exc}): restore it or move it away") from exc
        return marker

    def _read_database(self) -> tuple[str | None, int]:
        with self._engine.connect() as connection:
            result = connection.execute(sa.text("SELECT key, value FROM trainplane_meta")).all()
        rows: dict[str, str] = {str(key): str(value) for key, value in result}
        return rows.get("store_id"), int(rows.get("jobs_created", "0"))

    def _assign_id(self, store_id: str | None = None) -> str:
        store_id = store_id or str(uuid.uuid4())
        with self._engine.begin() as connection:
            connection.execute(
                sa.text("INSERT INTO trainplane_meta (key, value) VALUES ('store_id', :id)"), {"id": store_id}
            )
        return store_id

    def _write_marker(self, store_id: str, jobs_created: int) -> None:
        temporary = self.path.with_name(f".{MARKER_FILE}.tmp")
        temporary.write_text(json.dumps({"store_id": store_id, "jobs_created": jobs_created}) + "\n")
        os.replace(temporary, self.path)


def _compare(path: Path, marker: dict[str, Any], store_id: str | None, created: int) -> None:
    seen = int(marker["jobs_created"])
    advice = f"restore the database, or move {path} away to start this data dir afresh"
    if store_id is None:
        raise StoreMismatch(f"the database is new or empty, but this data dir had {seen} jobs: {advice}")
    if store_id != marker["store_id"]:
        raise StoreMismatch(f"the database is store {store_id}, not {marker['store_id']}: {advice}")
    if created < seen:
        raise StoreMismatch(
            f"the database records {created} jobs created, but {seen} were (lost WAL? old copy?): {advice}"
        )
