"""No store call runs on the event loop: a slow list delays only its own answer.

Many finished jobs are cloned from a real one straight into the server's SQLite file (another writer,
as a second replica would be), so a ListTrainingJobs with a NameContains that matches nothing scans
them all. While such a list is in flight, a StopTrainingJob and Describes must be answered.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import sagemaker_client
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

CLONES = 50_000  # ~250 MB of SQLite; a NameContains scan of them takes ~0.1 s here
SLOW_LIST_AT_LEAST_SECONDS = 0.05  # the premise: a scan long enough to be in flight when we ask
IN_FLIGHT_BEFORE_ASKING_SECONDS = 0.01  # the server has surely started on the list by then
ANSWERED_AHEAD_SECONDS = 0.005
RARE = "no-job-is-named-like-this"


def clone_jobs(database: Path, template_id: str, count: int) -> None:
    """`count` copies of the template row under new ids and names, in one transaction."""
    with sqlite3.connect(database, timeout=30) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(jobs)")]
        renamed = {
            "id": "t.id || '-' || seq.n",
            "name": "'bulk-' || seq.n",
            "name_key": "'bulk-' || seq.n",
            "arn": "t.arn || '-' || seq.n",
            "created_at": "t.created_at - seq.n",
            "group_id": "NULL",  # ungrouped: a group row each would only slow the clone down
            "run_number": "NULL",
        }
        select = ", ".join(renamed.get(c, f"t.{c}") for c in columns)
        db.execute(
            "WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < ?) "
            f"INSERT INTO jobs ({', '.join(columns)}) SELECT {select} FROM seq, jobs AS t WHERE t.id = ?",
            (count, template_id),
        )


class SlowLists:
    """ListTrainingJobs(NameContains=RARE), one after another on their own client, in a thread."""

    def __init__(self, url: str) -> None:
        self._client = sagemaker_client(url)
        self._lock = threading.Lock()
        self._windows: list[list[float]] = []  # [sent, answered or inf]
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._done.is_set():
            window = [time.monotonic(), float("inf")]
            with self._lock:
                self._windows.append(window)
            page = self._client.list_training_jobs(NameContains=RARE, MaxResults=100)
            assert page["TrainingJobSummaries"] == []
            window[1] = time.monotonic()

    def in_flight_since(self, seconds: float) -> list[float] | None:
        """The list window in flight for at least `seconds`, if there is one now."""
        with self._lock:
            window = self._windows[-1] if self._windows else None
        now = time.monotonic()
        if window is not None and window[1] == float("inf") and now - window[0] >= seconds:
            return window
        return None

    def __enter__(self) -> SlowLists:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._thread.join(60)


@dataclass
class Crowded:
    server: ServerProcess
    sm: Any
    started: list[str] = field(default_factory=list)  # to stop afterwards: listing 50k jobs is slow


@pytest.fixture
def crowded(tmp_path: Path) -> Iterator[Crowded]:
    process = ServerProcess(tmp_path / "crowded", "--stop-grace-seconds", "30")
    process.start()
    crowded = Crowded(process, sagemaker_client(process.url))
    try:
        yield crowded
    finally:
        try:
            for name in crowded.started:
                with contextlib.suppress(crowded.sm.exceptions.ClientError):
                    crowded.sm.stop_training_job(TrainingJobName=name)
            wait_until(
                lambda: all(is_finished(crowded.sm, name) for name in crowded.started),
                60,
                0.05,
                message="every job the test started finished",
            )
        finally:
            process.kill()


def is_finished(sm: Any, name: str) -> bool:
    status = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return status not in ("InProgress", "Stopping")


def answered_during_a_slow_list(lists: SlowLists, call: Callable[[], object]) -> bool:
    """Whether `call()` returned well before a list the server had already started was answered.

    The margin covers the list thread's own lag in noting its answer: on a blocked loop the call can
    only be answered after the list, so it can never be ahead by the margin.
    """
    window = wait_until(
        lambda: lists.in_flight_since(IN_FLIGHT_BEFORE_ASKING_SECONDS), 30, 0.001, message="a list in flight"
    )
    call()
    returned = time.monotonic()
    wait_until(lambda: window[1] != float("inf"), 60, 0.001, message="the list answered")
    return window[1] - returned >= ANSWERED_AHEAD_SECONDS


def answered_during_one_of(lists: SlowLists, call: Callable[[], object], attempts: int) -> bool:
    """Like answered_during_a_slow_list, allowing a busy machine a slow call or two (reads only)."""
    return any(answered_during_a_slow_list(lists, call) for _ in range(attempts))


def test_stop_and_describe_are_answered_while_a_slow_list_is_in_flight(
    crowded: Crowded, job_request: Callable[..., dict[str, Any]]
) -> None:
    server, sm = crowded.server, crowded.sm
    template = job_request("cooperative.py")
    template["Environment"]["EXIT_AFTER_STEPS"] = "1"
    sm.create_training_job(**template)
    crowded.started.append(template["TrainingJobName"])
    wait_for_status(sm, template["TrainingJobName"], "Completed")
    database = server.data_dir / "trainplane.db"
    with sqlite3.connect(database) as db:
        (template_id,) = db.execute(
            "SELECT id FROM jobs WHERE name = ?", (template["TrainingJobName"],)
        ).fetchone()
    clone_jobs(database, template_id, CLONES)
    started = time.monotonic()
    assert sm.list_training_jobs(NameContains=RARE)["TrainingJobSummaries"] == []
    assert time.monotonic() - started >= SLOW_LIST_AT_LEAST_SECONDS, "the premise: a slow list"

    running = job_request("cooperative.py")
    sm.create_training_job(**running)
    name = running["TrainingJobName"]
    crowded.started.append(name)
    wait_for_status(sm, name, "Training")
    with SlowLists(server.url) as lists:
        assert answered_during_a_slow_list(lists, lambda: sm.stop_training_job(TrainingJobName=name))
        for _ in range(3):
            describe = lambda: sm.describe_training_job(TrainingJobName=name)  # noqa: E731
            assert answered_during_one_of(lists, describe, attempts=3)
    wait_for_status(sm, name, "Stopped")


def wait_for_status(sm: Any, name: str, secondary: str) -> None:
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == secondary,
        60,
        0.05,
        message=f"{name} {secondary}",
    )
