"""The store's Alembic migrations, on SQLite and PostgreSQL: they build exactly the declared schema."""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from tests.contract.test_store import make_job
from tests.support.postgres import PostgresTemplate
from trainplane.domain.groups import Placement
from trainplane.domain.job import Job
from trainplane.store import engines
from trainplane.store.sql_store import SqlStore, _insert_values
from trainplane.store.tables import meta, metadata

START_TIMEOUT_SECONDS = 30  # the four migrate in well under a second


@pytest.fixture(params=["sqlite", "postgresql"])
def blank_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database, never migrated."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    url = template.blank()
    yield url
    template.drop(url)


def test_migrated_schema_equals_the_tables_the_code_declares(blank_url: str) -> None:
    engine = engines.create(blank_url)
    try:
        engines.migrate(engine)
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
            revision = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    assert differences == []
    assert revision == ScriptDirectory.from_config(engines.alembic_config()).get_current_head()
    assert revision == engines.HEAD_REVISION  # else a store at the real head migrates on every start


def test_migrating_twice_changes_nothing(blank_url: str) -> None:
    SqlStore.open(blank_url).close()
    store = SqlStore.open(blank_url)
    try:
        store.insert(make_job("after-reopen"))
    finally:
        store.close()


def test_the_jobs_created_counter_counts_every_insert(blank_url: str) -> None:
    """Migration 0002's trigger (one for each database) keeps the counter the data dir's marker checks."""
    store = SqlStore.open(blank_url)
    try:
        jobs = [make_job(f"counted-{i}") for i in range(3)]
        for job in jobs:
            store.insert(job)
        store.delete(jobs[0])  # deletes never lower it
        query = sa.select(meta.c.value).where(meta.c.key == "jobs_created")
        with store.engine.connect() as conn:
            assert conn.execute(query).scalar_one() == "3"
    finally:
        store.close()


def test_jobs_stored_before_replica_claims_stay_counted_and_start_unclaimed(blank_url: str) -> None:
    """Migration 0003 adds the claim column in place: no table copy that would drop 0002's trigger."""
    engine = engines.create(blank_url)
    try:
        engines.migrate(engine, "0002")
        before = make_job("before-claims")
        insert_as_an_older_version_did(engine, before)
        engines.migrate(engine)
        store = SqlStore(engine)
        store.insert(make_job("after-claims"))
        query = sa.select(meta.c.value).where(meta.c.key == "jobs_created")
        with engine.connect() as conn:
            assert conn.execute(query).scalar_one() == "2"
        assert dataclasses.replace(store.get_by_id(before.id), group_id=None, run_number=None) == before
        assert {claim.job_id: claim.owner for claim in store.active_claims()}[before.id] is None
    finally:
        engine.dispose()


def test_training_jobs_stored_before_job_groups_each_get_a_group_of_their_name(blank_url: str) -> None:
    """Migration 0004: an existing training job is run 1 of a group named after it, as a new one is."""
    engine = engines.create(blank_url)
    try:
        engines.migrate(engine, "0003_replica_claims")
        before = [make_job("older-a"), make_job("older-b", tenant="other")]
        for job in before:
            insert_as_an_older_version_did(engine, job)
        engines.migrate(engine)
        store = SqlStore(engine)
        for job in before:
            migrated = store.get_by_id(job.id)
            assert migrated.run_number == 1 and migrated.group_id is not None
            group = store.groups.get(job.tenant, migrated.group_id)
            assert (group.name, group.run_count, group.latest_job_id) == (job.name, 1, job.id)
        after = store.insert(make_job("newer"), placement=Placement(name="older-a"))
        assert (after.group_id, after.run_number) == (store.get_by_id(before[0].id).group_id, 2)
    finally:
        engine.dispose()


def insert_as_an_older_version_did(engine: sa.Engine, job: Job) -> None:
    """Insert `job` with only the columns the database has at its current (older) revision."""
    present = sa.Table("jobs", sa.MetaData(), autoload_with=engine)
    values = {key: value for key, value in _insert_values(job).items() if key in present.c}
    with engine.begin() as conn:
        conn.execute(present.insert().values(values))


def test_replicas_starting_together_on_an_empty_postgresql_migrate_it_once(
    postgres_template: PostgresTemplate,
) -> None:
    """Without the migration lock, two replicas both create alembic_version and one fails to start."""
    url = postgres_template.blank()
    barrier = threading.Barrier(4)
    failures: list[BaseException] = []
    stores: list[SqlStore] = []

    def start() -> None:
        barrier.wait()
        try:
            stores.append(SqlStore.open(url))
        except Exception as exc:  # any failure to start is the finding
            failures.append(exc)

    threads = [threading.Thread(target=start, daemon=True) for _ in range(4)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(START_TIMEOUT_SECONDS)
        assert not any(thread.is_alive() for thread in threads), "a replica hung in its migration"
        assert failures == []
        stores[0].insert(make_job(f"one-{uuid.uuid4().hex[:6]}"))
    finally:
        for store in stores:
            store.close()
        postgres_template.drop(url)
