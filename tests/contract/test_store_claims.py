"""The Store port's replica claims, on SQLite and PostgreSQL: one winner, takeover only once expired."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest

from tests.contract.test_store import T0, database_url, make_job, store
from tests.support.waiting import wait_until
from trainplane.domain.transitions import Event
from trainplane.store.sql_store import SqlStore

__all__ = ["database_url", "store"]  # the fixtures, shared with the main store suite
LEASE = timedelta(seconds=30)
ROUNDS = 25  # jobs raced over per test: each is a fresh chance for both claimants to win


@pytest.fixture
def second_store(database_url: str) -> Iterator[SqlStore]:
    """Another store on the same database: another replica's own engine and connection pool."""
    opened = SqlStore.open(database_url)
    yield opened
    opened.close()


def _race(*attempts: Callable[[], bool]) -> list[bool]:
    """Run the attempts at the same instant in threads; their results, in order."""
    results = [False] * len(attempts)
    barrier = threading.Barrier(len(attempts))

    def run(index: int) -> None:
        barrier.wait()
        results[index] = attempts[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(attempts))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_an_unclaimed_job_is_claimed_and_kept_by_its_owner(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    store.renew_lease("r1", "host-1", T0 + LEASE)
    store.renew_lease("r2", "host-2", T0 + LEASE)
    assert store.claim(job.id, "r1", T0)
    assert store.claim(job.id, "r1", T0 + timedelta(seconds=5))  # confirming one's own claim
    assert not store.claim(job.id, "r2", T0, may_take_over=True)  # r1's lease is fresh
    [claim] = store.active_claims()
    assert (claim.job_id, claim.owner, claim.version) == (job.id, "r1", job.version)
    assert claim.owner_lease_expires_at == T0 + LEASE


def test_two_stores_claiming_concurrently_never_both_win(store: SqlStore, second_store: SqlStore) -> None:
    jobs = [make_job(f"race-{index}") for index in range(ROUNDS)]
    for job in jobs:
        store.insert(job)
    store.renew_lease("r1", "host-1", T0 + LEASE)
    second_store.renew_lease("r2", "host-2", T0 + LEASE)
    for job in jobs:
        wins = _race(
            lambda job_id=job.id: store.claim(job_id, "r1", T0, may_take_over=True),
            lambda job_id=job.id: second_store.claim(job_id, "r2", T0, may_take_over=True),
        )
        assert wins.count(True) == 1, job.name
    owners = {claim.job_id: claim.owner for claim in store.active_claims()}
    assert set(owners.values()) <= {"r1", "r2"} and len(owners) == ROUNDS


def test_an_expired_claim_is_taken_over_by_exactly_one_replica(
    store: SqlStore, second_store: SqlStore
) -> None:
    jobs = [make_job(f"lost-{index}") for index in range(ROUNDS)]
    for job in jobs:
        store.insert(job)
    store.renew_lease("dead", "host-0", T0 + LEASE)
    for job in jobs:
        assert store.claim(job.id, "dead", T0)
    later = T0 + LEASE + timedelta(seconds=1)  # the dead replica's lease has run out
    store.renew_lease("r1", "host-1", later + LEASE)
    second_store.renew_lease("r2", "host-2", later + LEASE)
    for job in jobs:
        wins = _race(
            lambda job_id=job.id: store.claim(job_id, "r1", later, may_take_over=True),
            lambda job_id=job.id: second_store.claim(job_id, "r2", later, may_take_over=True),
        )
        assert wins.count(True) == 1, job.name
    assert {claim.owner for claim in store.active_claims()} <= {"r1", "r2"}


def test_an_expired_claim_is_kept_unless_the_claimant_may_take_over(store: SqlStore) -> None:
    """A host-bound job (the local executor's) stays its owner's even when that owner is gone."""
    job = make_job("host-bound")
    store.insert(job)
    store.renew_lease("owner", "host-0", T0 + LEASE)
    assert store.claim(job.id, "owner", T0)
    later = T0 + LEASE * 2
    assert not store.claim(job.id, "other", later)
    assert store.claim(job.id, "owner", later)  # the owner, restarted with its id, has it again
    assert not store.claim(job.id, "other", T0, may_take_over=True)  # not yet expired at T0


def test_a_claim_needs_no_version_and_changes_none(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    store.renew_lease("r1", "host-1", T0 + LEASE)
    assert store.claim(job.id, "r1", T0)
    # A writer that read the job before the claim still wins its compare-and-swap.
    stopped = store.save(job.advance(Event.STOP_REQUESTED, T0, "stop"), expected_version=job.version)
    assert store.get_by_id(job.id) == stopped
    [claim] = store.active_claims()
    assert (claim.owner, claim.version) == ("r1", stopped.version)


def test_finished_jobs_have_no_claims_and_cannot_be_claimed(store: SqlStore) -> None:
    running, done = make_job("running"), make_job("done")
    store.insert(running)
    store.insert(done)
    store.save(done.advance(Event.FAILED, T0, "x"), expected_version=done.version)
    store.renew_lease("r1", "host-1", T0 + LEASE)
    assert not store.claim(done.id, "r1", T0)
    assert [(claim.job_id, claim.owner, claim.owner_lease_expires_at) for claim in store.active_claims()] == [
        (running.id, None, None)
    ]


def test_a_claim_by_a_replica_without_a_lease_can_be_taken_over(store: SqlStore) -> None:
    """A lease makes a claim hold: a replica that never renewed one holds nothing against others."""
    job = make_job("a")
    store.insert(job)
    assert store.claim(job.id, "no-lease", T0)
    assert not store.claim(job.id, "r1", T0)
    assert store.claim(job.id, "r1", T0, may_take_over=True)


def test_renewing_a_lease_moves_its_expiry_and_host(store: SqlStore) -> None:
    job = make_job("a")
    store.insert(job)
    store.renew_lease("r1", "host-1", T0 + LEASE)
    assert store.claim(job.id, "r1", T0)
    store.renew_lease("r1", "host-2", T0 + LEASE * 3)
    later = T0 + LEASE * 2
    assert not store.claim(job.id, "r2", later, may_take_over=True)
    [claim] = store.active_claims()
    assert claim.owner_lease_expires_at == T0 + LEASE * 3


def test_a_stop_saved_by_one_store_is_announced_to_another_on_postgresql(postgres_url: str) -> None:
    """Migration 0003's trigger and the store's listener: only a job becoming Stopping is announced."""
    writer, watcher = SqlStore.open(postgres_url), SqlStore.open(postgres_url)
    heard: list[str] = []
    stopped: list[str] = []
    try:
        watcher.watch_stops(heard.append)

        def announce() -> bool:
            # The listener may still be connecting (a notice before its LISTEN is lost): stop another,
            # after another status change that is not a stop.
            quiet = make_job(f"quiet-{len(stopped)}")
            writer.insert(quiet)
            writer.save(
                quiet.advance(Event.SUPERVISOR_STARTED, T0, "staging"), expected_version=quiet.version
            )
            job = make_job(f"stopped-{len(stopped)}")
            writer.insert(job)
            writer.save(job.advance(Event.STOP_REQUESTED, T0, "stop"), expected_version=job.version)
            stopped.append(job.id)
            return bool(heard)

        wait_until(announce, 10, 0.1, message="a stop announced")
        assert heard and set(heard) <= set(stopped)
    finally:
        writer.close()
        watcher.close()
