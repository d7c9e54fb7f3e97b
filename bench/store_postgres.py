"""ListTrainingJobs and DescribeTrainingJob with 100,000 jobs stored: PostgreSQL beside SQLite, same run.

Each database is filled by the real `SqlStore.insert` (bench/list_latency.fill), then a real
`trainplane serve` runs on it (`--database-url` for PostgreSQL) and is asked over ONE keep-alive raw HTTP
connection: ListTrainingJobs MaxResults=100 (first page, and pages 2..21 by NextToken), and
DescribeTrainingJob sequentially, of random jobs among the 100,000 (mostly decode-cache misses) and of one
job over and over (cache hits: the version probe only).

FLOOR, per database and in the same run: the driver alone (sqlite3 / psycopg) running the first page's
SELECT and the one-row SELECT by name, over one connection, no SQLAlchemy, no HTTP.

PostgreSQL is measured in two configurations on the same database, in the same run, alternating
(PG_ROUNDS servers each): as the server now runs (no pre-ping on the connection pool; `postgresql`)
and with TRAINPLANE_DATABASE_PRE_PING=true (a ping round trip each time a pooled connection is taken,
as it ran before; `postgresql+pre-ping`).

PostgreSQL comes from TRAINPLANE_TEST_DATABASE_URL, or scripts/postgres-up when unset; the bench makes
and drops its own database there.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import harness
import list_latency
import psycopg
import report
import sqlalchemy as sa
from psycopg import sql

UP_SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres-up"
FIRST_PAGE_SQL = "SELECT * FROM jobs WHERE tenant = {p} AND kind = {p} ORDER BY created_at, id LIMIT 101"
ONE_ROW_SQL = "SELECT * FROM jobs WHERE tenant = {p} AND kind = {p} AND name_key = {p}"


def postgres_server_url() -> str:
    url = os.environ.get("TRAINPLANE_TEST_DATABASE_URL")
    if url:
        return url
    out = subprocess.run([str(UP_SCRIPT)], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        name, _, value = line.removeprefix("export ").partition("=")
        if name == "TRAINPLANE_TEST_DATABASE_URL":
            return value
    raise RuntimeError(f"{UP_SCRIPT} printed no URL")


@contextlib.contextmanager
def fresh_postgres_database() -> Iterator[str]:
    server = postgres_server_url()
    name = f"tp_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield sa.make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def driver_floor(url: str, times: int) -> dict[str, list[float]]:
    """Per-query ms of the driver alone: the first page (101 rows) and one row by name."""
    is_sqlite = url.startswith("sqlite")
    placeholder = "?" if is_sqlite else "%s"
    page_sql = FIRST_PAGE_SQL.format(p=placeholder)
    row_sql = ONE_ROW_SQL.format(p=placeholder)
    path = url.removeprefix("sqlite:///")
    connect: Callable[[], Any] = (
        (lambda: sqlite3.connect(path)) if is_sqlite else (lambda: psycopg.connect(url))
    )
    samples: dict[str, list[float]] = {"page": [], "row": []}
    with contextlib.closing(connect()) as conn:
        cursor = conn.cursor()
        for index in range(times + 1):
            for key, statement, args in (
                ("page", page_sql, ("default", "training")),
                ("row", row_sql, ("default", "training", list_latency.make_job(index * 37).name.lower())),
            ):
                before = time.perf_counter()
                cursor.execute(statement, args)
                rows = cursor.fetchall()
                if index:  # the first round warms caches and prepares
                    samples[key].append((time.perf_counter() - before) * 1000)
                assert rows, statement
    return samples


def describe_round(api: harness.Api, names: list[str]) -> tuple[float, list[float]]:
    """(requests/s, per-request ms) for sequential Describes of `names`."""
    latencies = []
    started = time.perf_counter()
    for name in names:
        before = time.perf_counter()
        api.call_raw("DescribeTrainingJob", b'{"TrainingJobName":"' + name.encode() + b'"}')
        latencies.append((time.perf_counter() - before) * 1000)
    return len(names) / (time.perf_counter() - started), latencies


@contextlib.contextmanager
def environment(name: str, value: str | None) -> Iterator[None]:
    """os.environ[name] = value (unset for None) for the with-block; the server subprocess inherits it."""
    before = os.environ.pop(name, None)
    if value is not None:
        os.environ[name] = value
    try:
        yield
    finally:
        os.environ.pop(name, None)
        if before is not None:
            os.environ[name] = before


class Samples:
    """Samples of several server runs of one configuration, reported together (rounds interleaved)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[float]] = {}
        self.rates: dict[str, list[float]] = {}

    def add(self, label: str, samples: list[float]) -> None:
        self.rows.setdefault(label, []).extend(samples)

    def rate(self, label: str, per_second: float) -> None:
        self.rates.setdefault(label, []).append(per_second)

    def report(self, result: report.Result) -> None:
        for label, samples in self.rows.items():
            result.add(label, samples)
        for label, rates in self.rates.items():
            result.extra[label] = round(statistics.median(rates), 1)
            if len(rates) > 1:
                result.extra[f"{label} (each round)"] = [round(rate, 1) for rate in rates]


def measure_one(samples: Samples, label: str, url: str, work: Path, n: dict[str, int]) -> None:
    """One server run on `url` (already filled): List and Describe, then the driver's floor."""
    extra_args = () if url.startswith("sqlite") else ("--database-url", url)
    with harness.running_server(work / "data", *extra_args) as server:
        api = server.api()
        samples.add(
            f"{label}: List MaxResults=100 (first page)",
            list_latency.repeat(api, {"MaxResults": 100}, n["times"]),
        )
        samples.add(f"{label}: List pages 2..21 via NextToken (each page)", list_latency.deep_walk(api, 20))
        picker = random.Random(9)
        names = [list_latency.make_job(picker.randrange(n["jobs"])).name for _ in range(n["describes"])]
        describe_round(api, names[:50])  # warm the connection pool and the statement caches
        random_rps, random_ms = describe_round(api, names)
        same_rps, same_ms = describe_round(api, [names[0]] * n["describes"])
        samples.add(f"{label}: Describe random job of {n['jobs']:,} (each request)", random_ms)
        samples.add(f"{label}: Describe one job repeatedly (each request)", same_ms)
        samples.rate(f"{label}: Describe random job req/s", random_rps)
        samples.rate(f"{label}: Describe one job req/s", same_rps)
        api.close()
    floor = driver_floor(url, n["times"])
    samples.add(f"{label}: FLOOR driver first-page SELECT (101 rows)", floor["page"])
    samples.add(f"{label}: FLOOR driver one-row SELECT by name", floor["row"])


PRE_PING = "TRAINPLANE_DATABASE_PRE_PING"
PG_CONFIGURATIONS = (("postgresql+pre-ping", "true"), ("postgresql", None))  # before, now
PG_ROUNDS = 2  # each configuration runs this many servers, alternating, so neither runs only first


def measure_postgresql(result: report.Result, work: Path, n: dict[str, int]) -> None:
    with fresh_postgres_database() as url:
        result.extra.update({f"postgresql: {k}": v for k, v in list_latency.fill(url, n["jobs"]).items()})
        with psycopg.connect(url, autocommit=True) as connection:
            connection.execute("VACUUM ANALYZE jobs")  # the fill's aftermath must not land on one round
        samples = Samples()
        for round_index in range(PG_ROUNDS):
            for label, pre_ping in PG_CONFIGURATIONS:
                run_dir = work / f"{label}-{round_index}"
                run_dir.mkdir(parents=True)
                with environment(PRE_PING, pre_ping):
                    measure_one(samples, label, url, run_dir, n)
        samples.report(result)


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick,
        {"jobs": 100_000, "times": 200, "describes": 3000},
        {"jobs": 5000, "times": 20, "describes": 300},
    )
    result = report.Result(f"store_postgres: PostgreSQL beside SQLite with {n['jobs']:,} jobs stored")
    with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
        sqlite_work = Path(tmp) / "sqlite"
        (sqlite_work / "data").mkdir(parents=True)
        sqlite_url = f"sqlite:///{sqlite_work / 'data' / 'trainplane.db'}"
        result.extra.update({f"sqlite: {k}": v for k, v in list_latency.fill(sqlite_url, n["jobs"]).items()})
        samples = Samples()
        measure_one(samples, "sqlite", sqlite_url, sqlite_work, n)
        samples.report(result)
        measure_postgresql(result, Path(tmp) / "postgresql", n)
    for label in ("sqlite", "postgresql"):
        first = result.rows[f"{label}: List MaxResults=100 (first page)"]["p50"]
        result.bar(f"{label}: List MaxResults=100 p50 <= 15 ms", first, "<=", 15)
    return result


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
