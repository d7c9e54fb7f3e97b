"""ListTrainingJobs latency with 100,000 jobs stored, over one keep-alive raw HTTP connection.

Rows are written by the real `SqlStore.insert` (batched: the store is handed one open transaction's
connection, so its own row building runs unchanged). Then a real server is started on that data dir.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import harness
import report
import sqlalchemy as sa

from trainplane.api.sagemaker import translate
from trainplane.domain import names
from trainplane.domain.job import Job, JobSpec, MetricDefinition, Outcome, new_job
from trainplane.domain.status import JobKind
from trainplane.domain.transitions import Event
from trainplane.store.sql_store import SqlStore

BATCH_ROWS = 5000
START_AT = datetime(2025, 1, 1, tzinfo=UTC)
# Index modulo 10 -> final status: 70 % Completed, 20 % Stopped, 10 % Failed.
PATHS = {
    "Completed": (
        Event.SUPERVISOR_STARTED,
        Event.PROCESS_STARTED,
        Event.PROCESS_SUCCEEDED,
        Event.MODEL_PACKAGED,
    ),
    "Stopped": (Event.SUPERVISOR_STARTED, Event.PROCESS_STARTED, Event.STOP_REQUESTED, Event.STOP_FINISHED),
    "Failed": (Event.SUPERVISOR_STARTED, Event.PROCESS_STARTED, Event.FAILED),
}


def _final_status(index: int) -> str:
    return "Completed" if index % 10 < 7 else "Stopped" if index % 10 < 9 else "Failed"


def make_job(index: int) -> Job:
    """A finished SageMaker training job shaped like one the service creates (terminal: never launched)."""
    name = f"exp{index % 100:02d}-run-{index:06d}"
    created_at = START_AT + timedelta(seconds=index)
    output = Path("/srv/trainplane/output")
    request = harness.job_request(name, ["python", "/opt/ml/code/train.py"], output, {"EPOCHS": "10"})
    spec = JobSpec(
        image="trainplane/python",
        command=("python", "/opt/ml/code/train.py"),
        environment={"EPOCHS": "10", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        output_uri=f"file://{output}",
        max_runtime_seconds=3600,
        grace_seconds=120.0,
        metric_definitions=(MetricDefinition("loss", "loss=([0-9.]+)"),),
    )
    job = new_job(
        job_id=str(uuid.uuid4()),
        tenant="default",
        kind=JobKind.TRAINING,
        name=name,
        arn=names.job_arn("training", name),
        spec=spec,
        request=request,
        dialect="sagemaker",
        at=created_at,
    )
    at = created_at
    for event in PATHS[_final_status(index)]:
        at += timedelta(seconds=7)
        job = job.advance(event, at, f"bench: {event.value}")
    model = f"file://{output}/{name}/output/model.tar.gz"
    return dataclasses.replace(job, started_at=created_at, outcome=Outcome(exit_code=0, model_uri=model))


class _OneTransaction:
    """Stands in for the engine inside SqlStore so each insert joins one open transaction."""

    def __init__(self, conn: sa.Connection) -> None:
        self._conn = conn
        self.dialect = conn.dialect  # SqlStore compiles its prebuilt reads for it

    @contextlib.contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        yield self._conn


def fill(database_url: str, count: int) -> dict[str, float]:
    """Insert `count` jobs; the batched rate, and the rate of plain one-commit-per-job inserts."""
    store = SqlStore.open(database_url)
    try:
        plain = min(2000, count // 10)
        started = time.perf_counter()
        for index in range(plain):
            store.insert(make_job(index))
        plain_seconds = time.perf_counter() - started
        started = time.perf_counter()
        with store.engine.connect() as conn:
            batched = SqlStore(cast(sa.Engine, _OneTransaction(conn)))
            for index in range(plain, count):
                batched.insert(make_job(index))
                if index % BATCH_ROWS == 0:
                    conn.commit()
            conn.commit()
        batched_seconds = time.perf_counter() - started
    finally:
        store.close()
    return {
        "jobs": count,
        "plain_insert_per_s": plain / plain_seconds,
        "batched_insert_per_s": (count - plain) / batched_seconds,
    }


def timed(api: harness.Api, body: dict[str, Any]) -> tuple[float, dict[str, Any]]:
    before = time.perf_counter()
    page = api.call("ListTrainingJobs", body)
    return (time.perf_counter() - before) * 1000, page


def repeat(api: harness.Api, body: dict[str, Any], times: int) -> list[float]:
    timed(api, body)  # warm the page cache and the statement cache
    samples = []
    for _ in range(times):
        elapsed, page = timed(api, body)
        assert page["TrainingJobSummaries"], body
        samples.append(elapsed)
    return samples


def in_process(store: SqlStore, body: dict[str, Any], times: int) -> list[float]:
    """The same query without HTTP: the store's SELECT plus decoding rows into Jobs."""
    query = translate.list_query(body)
    store.list_jobs("default", JobKind.TRAINING, query)
    samples = []
    for _ in range(times):
        before = time.perf_counter()
        store.list_jobs("default", JobKind.TRAINING, query)
        samples.append((time.perf_counter() - before) * 1000)
    return samples


def raw_sqlite(database: Path, times: int) -> list[float]:
    sql = "SELECT * FROM jobs WHERE tenant = ? AND kind = ? ORDER BY created_at, id LIMIT 101"
    samples = []
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute(sql, ("default", "training")).fetchall()
        for _ in range(times):
            before = time.perf_counter()
            rows = conn.execute(sql, ("default", "training")).fetchall()
            samples.append((time.perf_counter() - before) * 1000)
    assert len(rows) == 101
    return samples


def deep_walk(api: harness.Api, pages: int) -> list[float]:
    """Follow NextToken `pages` times from the first page; the latency of each page after the first."""
    body: dict[str, Any] = {"MaxResults": 100}
    samples = []
    for _ in range(pages + 1):
        elapsed, page = timed(api, body)
        if "NextToken" in body:
            samples.append(elapsed)
        body = {"MaxResults": 100, "NextToken": page["NextToken"]}
    return samples


QUERIES: dict[str, dict[str, Any]] = {
    "MaxResults=100 (first page)": {"MaxResults": 100},
    "NameContains 1 % match + MaxResults=100": {"NameContains": "exp42-", "MaxResults": 100},
    "NameContains 1 match + MaxResults=100": {"NameContains": "run-005432", "MaxResults": 100},
    "StatusEquals=Failed + MaxResults=100": {"StatusEquals": "Failed", "MaxResults": 100},
    "SortBy=Name Descending + MaxResults=100": {
        "SortBy": "Name",
        "SortOrder": "Descending",
        "MaxResults": 100,
    },
}


def measure(is_quick: bool) -> report.Result:
    n = report.counts(
        is_quick, {"jobs": 100_000, "times": 200, "walks": 5}, {"jobs": 6000, "times": 20, "walks": 1}
    )
    result = report.Result(f"list_latency: ListTrainingJobs with {n['jobs']:,} jobs stored")
    with tempfile.TemporaryDirectory(prefix="bench-list-") as tmp:
        data_dir = Path(tmp) / "data"
        data_dir.mkdir()
        database = data_dir / "trainplane.db"
        result.extra.update(fill(f"sqlite:///{database}", n["jobs"]))
        with harness.running_server(data_dir) as server:
            api = server.api()
            store = SqlStore.open(f"sqlite:///{database}")
            for label, body in QUERIES.items():
                result.add(label, repeat(api, body, n["times"]))
                baseline = f"  BASELINE in-process store: {label.split(' +')[0]}"
                result.add(baseline, in_process(store, body, n["times"]))
            store.close()
            result.add("FLOOR raw sqlite3 SELECT first page (101 rows)", raw_sqlite(database, n["times"]))
            walks: list[float] = []
            for _ in range(n["walks"]):
                walks += deep_walk(api, 50)
            result.add("deep pages 2..51 via NextToken (each page)", walks)
            result.extra["jobs_listed_total"] = _count_all(api) if is_quick else n["jobs"]
            api.close()
    first = result.rows["MaxResults=100 (first page)"]
    result.bar("MaxResults=100 p50 <= 15 ms", first["p50"], "<=", 15)
    return result


def _count_all(api: harness.Api) -> int:
    total, body = 0, {"MaxResults": 100}
    while True:
        page = api.call("ListTrainingJobs", body)
        total += len(page["TrainingJobSummaries"])
        if not page.get("NextToken"):
            return total
        body = {"MaxResults": 100, "NextToken": page["NextToken"]}


if __name__ == "__main__":
    arguments = report.parse_args(__doc__ or "")
    report.emit([measure(arguments.quick)], arguments.json)
