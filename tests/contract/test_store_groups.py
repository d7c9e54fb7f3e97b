"""The job-group part of the Store contract, on SQLite and PostgreSQL: placing and numbering runs,
counting them out, listing groups, deleting groups, and deletes that wait for a job to end."""

from __future__ import annotations

import dataclasses
import threading
from datetime import timedelta

import pytest

from tests.contract.test_store import T0, database_url, make_job, store
from trainplane.domain import errors
from trainplane.domain.groups import Placement
from trainplane.domain.status import Secondary
from trainplane.domain.transitions import Event
from trainplane.service.ports import GroupQuery, GroupSortBy, ListQuery
from trainplane.store.sql_store import SqlStore

RACERS = 6
__all__ = ["database_url", "store"]  # the fixtures, shared with the main store suite


def test_runs_of_a_named_group_are_numbered_from_one_and_the_group_is_created_once(store: SqlStore) -> None:
    first = store.insert(make_job("run-a"), placement=Placement(name="Project"))
    second = store.insert(make_job("run-b"), placement=Placement(name="project"))  # any case: one group
    assert first.group_id is not None and first.group_id == second.group_id
    assert (first.run_number, second.run_number) == (1, 2)
    assert store.get_by_id(second.id) == second
    group = store.groups.get("t", first.group_id)
    assert (group.name, group.run_count, group.latest_job_id) == ("Project", 2, second.id)


def test_a_run_placed_by_id_needs_a_group_of_the_same_tenant(store: SqlStore) -> None:
    other = store.groups.create("other-tenant", "theirs", "", T0)
    with pytest.raises(errors.NotFound):
        store.insert(make_job("intruder"), placement=Placement(group_id=other.id))
    with pytest.raises(errors.NotFound):
        store.get("t", make_job("intruder").kind, "intruder")  # nothing half-inserted
    assert store.groups.get("other-tenant", other.id).run_count == 0
    with pytest.raises(errors.NotFound):
        store.groups.get("t", other.id)  # another tenant's group does not exist for this one


def test_a_refused_job_name_creates_no_group(store: SqlStore) -> None:
    store.insert(make_job("taken"), placement=Placement(name="first"))
    with pytest.raises(errors.NameInUse):
        store.insert(make_job("taken"), placement=Placement(name="second"))
    assert store.groups.find("t", "second") is None
    assert store.groups.find("t", "first") is not None


def test_deleting_runs_counts_them_out_and_moves_latest_back(store: SqlStore) -> None:
    runs = [store.insert(make_job(f"r{i}"), placement=Placement(name="g")) for i in range(3)]
    store.delete(runs[2])
    group = store.groups.find("t", "g")
    assert group is not None
    assert (group.run_count, group.latest_job_id) == (2, runs[1].id)
    third = store.insert(make_job("r3"), placement=Placement(group_id=group.id))
    assert third.run_number == 4  # numbers are never reused


def test_runs_created_at_once_in_one_group_get_distinct_numbers(store: SqlStore) -> None:
    group = store.groups.create("t", "busy", "", T0)
    barrier = threading.Barrier(RACERS)
    numbers: list[int] = []
    failures: list[BaseException] = []

    def create(index: int) -> None:
        barrier.wait()
        try:
            job = store.insert(make_job(f"racer-{index}"), placement=Placement(group_id=group.id))
            numbers.append(job.run_number or 0)
        except BaseException as exc:  # any failure is the finding
            failures.append(exc)

    threads = [threading.Thread(target=create, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(numbers) == list(range(1, RACERS + 1))
    assert store.groups.get("t", group.id).run_count == RACERS


def test_listing_groups_filters_sorts_pages_and_counts(store: SqlStore) -> None:
    for name, runs in (("beta", 1), ("alpha", 3), ("gamma", 2)):
        for i in range(runs):
            store.insert(make_job(f"{name}-{i}"), placement=Placement(name=name))
    store.groups.create("t", "empty", "no runs yet", T0)
    store.groups.create("someone-else", "alpha-theirs", "", T0)

    def names(query: GroupQuery) -> list[str]:
        return [group.name for group in store.groups.list("t", query, T0)[0]]

    assert names(GroupQuery()) == ["alpha", "beta", "empty", "gamma"]
    assert names(GroupQuery(sort_by=GroupSortBy.RUN_COUNT, ascending=False)) == [
        "alpha",
        "gamma",
        "beta",
        "empty",
    ]
    assert names(GroupQuery(name_contains="AL")) == ["alpha"]
    page, total = store.groups.list("t", GroupQuery(offset=1, limit=2), T0)
    assert ([g.name for g in page], total) == (["beta", "empty"], 4)
    starting = frozenset({Secondary.STARTING})
    assert names(GroupQuery(latest_statuses=starting)) == ["alpha", "beta", "gamma"]
    assert names(GroupQuery(latest_statuses=frozenset({Secondary.TRAINING}))) == []


def test_groups_sort_by_the_latest_runs_status_and_duration(store: SqlStore) -> None:
    long_run = store.insert(make_job("long"), placement=Placement(name="long"))
    short_run = store.insert(make_job("short"), placement=Placement(name="short"))
    store.insert(make_job("waiting"), placement=Placement(name="waiting"))
    for job, seconds in ((long_run, 600), (short_run, 5)):
        running = dataclasses.replace(job, started_at=T0).advance(Event.PROCESS_STARTED, T0, "started")
        done = running.advance(Event.FAILED, T0 + timedelta(seconds=seconds), "failed")
        store.save(dataclasses.replace(done, ended_at=T0 + timedelta(seconds=seconds)), job.version)
    by_duration = GroupQuery(sort_by=GroupSortBy.DURATION, ascending=False)
    assert [g.name for g in store.groups.list("t", by_duration, T0)[0]] == ["long", "short", "waiting"]
    by_status = GroupQuery(sort_by=GroupSortBy.STATUS)
    assert [g.name for g in store.groups.list("t", by_status, T0)[0]][-1] == "waiting"  # Starting > Failed


def test_a_group_being_deleted_is_hidden_and_goes_with_its_last_run(store: SqlStore) -> None:
    runs = [store.insert(make_job(f"d{i}"), placement=Placement(name="doomed")) for i in range(2)]
    group_id = runs[0].group_id
    assert group_id is not None
    store.groups.mark_deleting("t", group_id)
    with pytest.raises(errors.NotFound):
        store.groups.get("t", group_id)
    assert store.groups.list("t", GroupQuery(), T0) == ([], 0)
    with pytest.raises(errors.Unavailable):  # no new run joins it while it goes
        store.insert(make_job("late"), placement=Placement(name="doomed"))
    store.delete(runs[0])
    store.delete(runs[1])
    fresh = store.groups.create("t", "doomed", "", T0)  # the name is free again: the row is gone
    assert fresh.id != group_id


def test_a_job_waiting_for_its_delete_is_hidden_from_lists_and_found_for_the_reconciler(
    store: SqlStore,
) -> None:
    job = store.insert(make_job("leaving"), placement=Placement(name="leaving"))
    store.insert(make_job("staying"), placement=Placement(name="leaving"))
    marked = store.save(job.touched(delete_when_ended=True), job.version)
    listed = store.list_jobs("t", job.kind, ListQuery(group_id=job.group_id)).jobs
    assert [j.name for j in listed] == ["staying"]
    assert store.ended_deletes() == []  # still active
    failed = store.save(marked.advance(Event.FAILED, T0, "failed"), marked.version)
    assert store.ended_deletes() == [failed]
    store.delete(failed)
    assert store.ended_deletes() == []


def test_listing_runs_by_fine_status(store: SqlStore) -> None:
    job = store.insert(make_job("s1"), placement=Placement(name="st"))
    store.insert(make_job("s2"), placement=Placement(name="st"))
    store.save(job.advance(Event.FAILED, T0, "failed"), job.version)
    failed = ListQuery(statuses=frozenset({Secondary.FAILED}))
    assert [j.name for j in store.list_jobs("t", job.kind, failed).jobs] == ["s1"]


def test_a_group_id_past_the_columns_range_names_no_group(store: SqlStore) -> None:
    """ModelArts ids are Longs; PostgreSQL refuses to compare one past 32 bits with the id column (a 500)."""
    store.insert(make_job("real"), placement=Placement(name="real"))
    for huge in (2**31, 2**63 - 1):
        with pytest.raises(errors.NotFound):
            store.groups.get("t", huge)
        with pytest.raises(errors.NotFound):
            store.groups.set_description("t", huge, "x", T0)
        with pytest.raises(errors.NotFound):
            store.groups.mark_deleting("t", huge)
        with pytest.raises(errors.NotFound):
            store.insert(make_job(f"into-{huge}"), placement=Placement(group_id=huge))
        listed = store.list_jobs("t", make_job("real").kind, ListQuery(group_id=huge))
        assert listed.jobs == []
