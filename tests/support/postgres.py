"""PostgreSQL for tests: a template migrated once per session, a fresh database cloned from it per test.

The server comes from TRAINPLANE_TEST_DATABASE_URL (scripts/test sets it with scripts/postgres-up), or,
when unset, from running scripts/postgres-up here (left running; scripts/postgres-down stops it). A
PostgreSQL that cannot be had fails the tests that need it: they never skip.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from trainplane.store import engines

URL_VARIABLE = "TRAINPLANE_TEST_DATABASE_URL"
UP_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "postgres-up"
UP_TIMEOUT_SECONDS = 300  # may install the Debian package first


def server_url() -> str:
    """The test server's URL (a database the role may connect to and CREATE DATABASE from)."""
    url = os.environ.get(URL_VARIABLE)
    if url:
        return url
    try:
        done = subprocess.run(
            [str(UP_SCRIPT)], capture_output=True, text=True, timeout=UP_TIMEOUT_SECONDS, check=True
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        output = getattr(exc, "stderr", "") or ""
        pytest.fail(
            f"no PostgreSQL for the tests: {URL_VARIABLE} is unset and {UP_SCRIPT} failed: {exc}\n{output}"
        )
    for line in done.stdout.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == URL_VARIABLE:
            os.environ[URL_VARIABLE] = value  # for server subprocesses too
            return value
    pytest.fail(f"{UP_SCRIPT} printed no {URL_VARIABLE}:\n{done.stdout}")


def with_database(url: str, database: str) -> str:
    return sa.make_url(url).set(database=database).render_as_string(hide_password=False)


class PostgresTemplate:
    """A migrated template database on the test server; clone() gives each test its own copy."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.name = f"tp_template_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self._admin("CREATE DATABASE {}", self.name)
        engine = engines.create(with_database(url, self.name))
        try:
            engines.migrate(engine)
        finally:
            engine.dispose()  # nobody may be connected to a template while it is cloned

    def clone(self) -> str:
        """A new database with the migrated schema; its URL."""
        name = f"tp_test_{uuid.uuid4().hex[:16]}"
        self._admin("CREATE DATABASE {} TEMPLATE {}", name, self.name)
        return with_database(self.url, name)

    def blank(self) -> str:
        """A new database without any schema (for migration tests); its URL."""
        name = f"tp_blank_{uuid.uuid4().hex[:16]}"
        self._admin("CREATE DATABASE {}", name)
        return with_database(self.url, name)

    def drop(self, url: str) -> None:
        self.drop_database(url)

    @staticmethod
    def drop_database(url: str) -> None:
        """Drop the database `url` names, with its connections (from its server's own database)."""
        database = sa.make_url(url).database
        assert database is not None
        query = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(database))
        with psycopg.connect(with_database(url, "postgres"), autocommit=True) as connection:
            connection.execute(query)

    def close(self) -> None:
        self._admin("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)

    def _admin(self, statement: str, *names: str) -> None:
        query = sql.SQL(statement).format(*(sql.Identifier(name) for name in names))
        with psycopg.connect(self.url, autocommit=True) as connection:
            connection.execute(query)


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate]:
    template = PostgresTemplate(server_url())
    yield template
    template.close()


@pytest.fixture
def postgres_url(postgres_template: PostgresTemplate) -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test only."""
    url = postgres_template.clone()
    yield url
    postgres_template.drop(url)


def store_arguments(request: pytest.FixtureRequest) -> tuple[str, ...]:
    """A server's store options for a fixture parametrized ["sqlite", "postgresql"]: none for SQLite, a
    fresh migrated PostgreSQL database (dropped when the fixture ends) for the other."""
    if request.param == "sqlite":
        return ()
    template: PostgresTemplate = request.getfixturevalue("postgres_template")
    database_url = template.clone()
    request.addfinalizer(lambda: template.drop(database_url))
    return ("--database-url", database_url)
