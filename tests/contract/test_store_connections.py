"""PostgreSQL connections that died in the pool (a restarted database) without a pre-ping per use."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
import sqlalchemy as sa

from tests.contract.test_store import T0, make_job
from tests.support.postgres import with_database
from trainplane.domain import errors
from trainplane.domain.status import JobKind
from trainplane.domain.transitions import Event
from trainplane.store.sql_store import SqlStore

POOLED = 4  # connections the store holds before the database "restarts"


@pytest.fixture
def pg_store(postgres_url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(postgres_url)
    yield opened
    opened.close()


def _fill_pool(store: SqlStore) -> None:
    """Check out POOLED connections at once, so that many idle in the pool afterwards."""
    connections = [store.engine.connect() for _ in range(POOLED)]
    for connection in connections:
        connection.execute(sa.text("SELECT 1"))
    for connection in connections:
        connection.close()


def _terminate_every_connection(url: str) -> int:
    """What a database restart does to a pool: every server-side session is gone."""
    database = sa.make_url(url).database
    admin = with_database(url, "postgres")
    with psycopg.connect(admin, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchall()
    return len(rows)


def test_reads_after_the_pool_died_are_answered_at_the_first_try(
    pg_store: SqlStore, postgres_url: str
) -> None:
    job = make_job("survivor")
    pg_store.insert(job)
    _fill_pool(pg_store)
    assert pg_store.engine.pool.checkedin() >= POOLED  # type: ignore[attr-defined]
    assert _terminate_every_connection(postgres_url) >= POOLED
    assert pg_store.get("t", JobKind.TRAINING, "survivor") == job  # the version probe's raw path
    _fill_pool(pg_store)
    _terminate_every_connection(postgres_url)
    assert [claim.job_id for claim in pg_store.active_claims()] == [job.id]  # SQLAlchemy's path
    assert [found.name for found in pg_store.active_jobs()] == ["survivor"]


def test_a_write_on_a_dead_pool_fails_once_as_unavailable_then_succeeds(
    pg_store: SqlStore, postgres_url: str
) -> None:
    """A write is not repeated blindly (its commit may have landed): it fails retryably, once."""
    job = make_job("writer")
    pg_store.insert(job)
    _fill_pool(pg_store)
    _terminate_every_connection(postgres_url)
    stop = job.advance(Event.STOP_REQUESTED, T0, "stop")
    with pytest.raises(errors.Unavailable):
        pg_store.save(stop, expected_version=job.version)
    assert pg_store.save(stop, expected_version=job.version).version == job.version + 1
