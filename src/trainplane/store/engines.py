"""Engine creation (SQLite pragmas for a durable embedded store) and Alembic migration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# The newest migration. A store already there is not migrated, so a server does not load Alembic
# (11.5 MB it would keep for nothing); a test holds this equal to the migrations' real head.
HEAD_REVISION = "0005_models"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Replicas starting together on one PostgreSQL migrate one at a time (any constant shared by all).
MIGRATION_LOCK_KEY = 7_152_206_119
PG_CONNECT_TIMEOUT_SECONDS = 10
# Pooled PostgreSQL connections are replaced after this long, before a server or firewall idle
# timeout (often 10 minutes and up) can have dropped them.
PG_POOL_RECYCLE_SECONDS = 300


def driver_url(url: str) -> sa.URL:
    """`url` with its driver made explicit: a bare `postgresql://` means psycopg 3, not psycopg2."""
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def create(url: str, *, is_pre_ping: bool = False) -> sa.Engine:
    """An engine; for SQLite, WAL with synchronous=NORMAL: a commit survives a killed process.

    PostgreSQL connections are not pinged before each use unless `is_pre_ping` (a ping is a round trip
    of its own: it cost Describe a third of its rate, bench/store_postgres.py). Without it a connection
    that died (a restarted database) shows at its next use: reads are repeated once on a fresh one
    (SqlStore), a write fails once as Unavailable and the pool replaces every older connection.
    """
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 10})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(
        driver_url(url),
        pool_pre_ping=is_pre_ping,
        pool_recycle=PG_POOL_RECYCLE_SECONDS,
        pool_size=10,
        max_overflow=20,
        connect_args={"connect_timeout": PG_CONNECT_TIMEOUT_SECONDS},
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # NORMAL in WAL mode loses nothing when the server process dies (only on power loss).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def current_revision(engine: sa.Engine) -> str | None:
    """The store's schema revision; None for a store never migrated."""
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
    except (sa_exc.OperationalError, sa_exc.ProgrammingError):
        return None  # no alembic_version table yet


def migrate(engine: sa.Engine, revision: str = "head") -> None:
    """Upgrade the schema to `revision` (idempotent)."""
    if revision == "head" and current_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # held until this transaction ends
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
