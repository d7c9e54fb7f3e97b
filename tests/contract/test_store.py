"""The Store port's contract, on every database it runs on: SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trainplane.domain import errors
from trainplane.domain.job import Job, JobSpec, new_job
from trainplane.domain.status import JobKind, Primary
from trainplane.domain.transitions import Event
from trainplane.service.ports import ListQuery, SortBy
from trainplane.store.sql_store import SqlStore

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty store's URL: a SQLite file, or a PostgreSQL database cloned from the template."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(database_url: str) -> Iterator[SqlStore]:
    opened = SqlStore.open(database_url)
    yield opened
    opened.close()


def make_job(name: str, at: datetime = T0, tenant: str = "t") -> Job:
    return new_job(
        job_id=str(uuid.uuid4()),
        tenant=tenant,
        kind=JobKind.TRAINING,
        name=name,
        arn=f"arn:{name}",
        spec=JobSpec(image="i", command=("true",), environment={}),
        request={"TrainingJobName": name},
        dialect="sagemaker",
        at=at,
    )


def test_insert_then_get_returns_an_equal_job(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    assert store.get("t", JobKind.TRAINING, "a") == job
    assert store.get_by_id(job.id) == job


def test_names_are_unique_per_tenant_regardless_of_case(store: SqlStore) -> None:
    store.insert(make_job("job"))
    with pytest.raises(errors.NameInUse):
        store.insert(make_job("JOB"))
    store.insert(make_job("job", tenant="other"))


def test_another_tenants_job_is_not_found(store: SqlStore) -> None:
    store.insert(make_job("a", tenant="other"))
    with pytest.raises(errors.NotFound):
        store.get("t", JobKind.TRAINING, "a")


def test_save_is_a_compare_and_swap_on_the_version(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    first = job.advance(Event.STOP_REQUESTED, T0, "stop")
    store.save(first, expected_version=job.version)
    with pytest.raises(errors.StaleWrite):
        store.save(job.advance(Event.FAILED, T0, "late"), expected_version=job.version)
    assert store.get_by_id(job.id).status == first.status


def test_racing_writers_exactly_one_wins(store: SqlStore) -> None:
    job = make_job("race")
    store.insert(job)
    wins: list[bool] = []
    barrier = threading.Barrier(8)

    def write() -> None:
        barrier.wait()
        try:
            store.save(job.advance(Event.STOP_REQUESTED, T0, "x"), expected_version=job.version)
            wins.append(True)
        except errors.StaleWrite:
            wins.append(False)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wins.count(True) == 1


def test_active_jobs_excludes_terminal_ones(store: SqlStore) -> None:
    running, done = make_job("running"), make_job("done")
    store.insert(running)
    store.insert(done)
    store.save(done.advance(Event.FAILED, T0, "x"), expected_version=done.version)
    assert [job.name for job in store.active_jobs()] == ["running"]


def test_delete_removes_the_job_and_frees_the_name(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    store.put_tags(job.id, {"k": "v"})
    store.delete(job)
    with pytest.raises(errors.NotFound):
        store.get_by_id(job.id)
    store.insert(make_job("a"))


def test_tags_put_replace_and_remove(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    store.put_tags(job.id, {"a": "1", "b": "2"})
    store.put_tags(job.id, {"a": "3"})
    assert store.get_tags(job.id) == {"a": "3", "b": "2"}
    store.remove_tags(job.id, ["a", "missing"])
    assert store.get_tags(job.id) == {"b": "2"}


def _all_pages(store: SqlStore, query: ListQuery) -> list[str]:
    names, token = [], None
    while True:
        page = store.list_jobs("t", JobKind.TRAINING, ListQuery(**{**query.__dict__, "page_token": token}))
        names.extend(job.name for job in page.jobs)
        token = page.next_token
        if token is None:
            return names


@pytest.mark.parametrize("ascending", [True, False])
@pytest.mark.parametrize("sort_by", list(SortBy))
def test_pagination_visits_every_job_once_in_order(store: SqlStore, sort_by: SortBy, ascending: bool) -> None:
    jobs = [make_job(f"job-{i:02d}", T0 + timedelta(seconds=i % 7)) for i in range(23)]
    for job in jobs:
        store.insert(job)
    failed = jobs[3]
    store.save(failed.advance(Event.FAILED, T0, "x"), expected_version=failed.version)
    names = _all_pages(store, ListQuery(sort_by=sort_by, ascending=ascending, limit=5))
    assert sorted(names) == sorted(job.name for job in jobs)
    assert len(names) == len(set(names))
    if sort_by is SortBy.NAME:
        assert names == sorted(names, reverse=not ascending)


def test_filters_by_name_status_and_time(store: SqlStore) -> None:
    for i in range(6):
        store.insert(make_job(f"alpha-{i}" if i % 2 else f"beta-{i}", T0 + timedelta(minutes=i)))
    beta = store.get("t", JobKind.TRAINING, "beta-2")
    store.save(beta.advance(Event.FAILED, T0, "x"), expected_version=beta.version)
    assert _all_pages(store, ListQuery(name_contains="ALPHA", limit=2)) == ["alpha-1", "alpha-3", "alpha-5"]
    assert _all_pages(store, ListQuery(status=Primary.FAILED)) == ["beta-2"]
    window = ListQuery(created_after=T0 + timedelta(minutes=1), created_before=T0 + timedelta(minutes=4))
    assert _all_pages(store, window) == ["beta-2", "alpha-3"]


def test_name_filter_treats_wildcards_literally(store: SqlStore) -> None:
    store.insert(make_job("a-b"))
    assert _all_pages(store, ListQuery(name_contains="%")) == []


@pytest.mark.parametrize("token", ["garbage", "eyJ4IjoxfQ=="])
def test_bad_page_token_is_invalid(store: SqlStore, token: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        store.list_jobs("t", JobKind.TRAINING, ListQuery(page_token=token))
    assert caught.value.field == "nextToken"


def test_page_token_of_another_sort_order_is_invalid(store: SqlStore) -> None:
    for i in range(3):
        store.insert(make_job(f"j{i}"))
    token = store.list_jobs("t", JobKind.TRAINING, ListQuery(limit=1)).next_token
    with pytest.raises(errors.Invalid):
        store.list_jobs("t", JobKind.TRAINING, ListQuery(limit=1, page_token=token, ascending=False))


def test_the_store_sets_the_new_version_even_when_the_caller_did_not_bump_it(store: SqlStore) -> None:
    import dataclasses

    job = make_job("unbumped")
    store.insert(job)
    not_bumped = dataclasses.replace(job, started_at=T0)  # version unchanged: a careless writer
    stored = store.save(not_bumped, expected_version=job.version)
    assert stored.version == job.version + 1
    assert store.get_by_id(job.id).version == job.version + 1
    with pytest.raises(errors.StaleWrite):  # the other writer that read the same version loses
        store.save(dataclasses.replace(job, ended_at=T0), expected_version=job.version)


def test_two_stores_on_one_database_cannot_both_win_a_version(database_url: str) -> None:
    """Two control-plane replicas sharing one database: the compare-and-swap holds across them."""
    import dataclasses

    first, second = SqlStore.open(database_url), SqlStore.open(database_url)
    try:
        job = make_job("shared")
        first.insert(job)
        barrier = threading.Barrier(2)
        results: list[str] = []

        def write(replica: SqlStore, marker: datetime) -> None:
            barrier.wait()
            try:
                replica.save(dataclasses.replace(job, started_at=marker), expected_version=job.version)
                results.append("won")
            except errors.StaleWrite:
                results.append("lost")

        threads = [
            threading.Thread(target=write, args=(first, T0)),
            threading.Thread(target=write, args=(second, T0 + timedelta(seconds=1))),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(results) == ["lost", "won"]
        assert first.get_by_id(job.id).version == job.version + 1
    finally:
        first.close()
        second.close()


def test_insert_with_tags_is_atomic(store: SqlStore) -> None:
    job = make_job("tagged")
    store.insert(job, {"k": "v"})
    assert store.get_tags(job.id) == {"k": "v"}
    clash = make_job("TAGGED")
    with pytest.raises(errors.NameInUse):
        store.insert(clash, {"x": "y"})
    assert store.get_tags(clash.id) == {}


def test_concurrent_tag_writes_to_one_key_all_succeed(store: SqlStore) -> None:
    """AddTags racing on one key: each is an upsert, never a duplicate-key error (PostgreSQL's row locks)."""
    job = make_job("tag-race")
    store.insert(job)
    barrier = threading.Barrier(8)
    failures: list[BaseException] = []

    def write(value: str) -> None:
        barrier.wait()
        try:
            for round_ in range(10):
                store.put_tags(job.id, {"k": f"{value}-{round_}", "other": value})
        except Exception as exc:  # any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(str(i),)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert store.get_tags(job.id)["k"].endswith("-9")


def test_a_nul_in_name_contains_matches_nothing(store: SqlStore) -> None:
    """No name holds a NUL; PostgreSQL would refuse to compare one at all."""
    store.insert(make_job("a"))
    assert _all_pages(store, ListQuery(name_contains="a\x00")) == []


def test_a_page_token_holding_a_nul_is_invalid(store: SqlStore) -> None:
    import base64
    import json

    forged = json.dumps({"s": "Name", "a": True, "k": ["a\x00", "id"]}).encode()
    query = ListQuery(sort_by=SortBy.NAME, page_token=base64.urlsafe_b64encode(forged).decode())
    with pytest.raises(errors.Invalid):
        store.list_jobs("t", JobKind.TRAINING, query)


def test_a_lost_database_is_unavailable(database_url: str, tmp_path: Path) -> None:
    """The database going away is errors.Unavailable (a 503 on the wire), never a raw driver error."""
    store = SqlStore.open(database_url)
    job = make_job("a")
    store.insert(job)
    try:
        if database_url.startswith("sqlite"):
            (tmp_path / "store.db").unlink()
            (tmp_path / "store.db").mkdir()  # the file is now a directory: unopenable
            store.engine.dispose()
        else:
            from tests.support.postgres import PostgresTemplate

            PostgresTemplate.drop_database(database_url)
        with pytest.raises(errors.Unavailable):
            store.get_by_id(job.id)
        with pytest.raises(errors.Unavailable):
            store.list_jobs("t", JobKind.TRAINING, ListQuery())
    finally:
        store.close()
