"""SqlStore's read path: a cheap (id, version) probe, then a Job decoded once per version.

The decoded-job cache must never hide a change: not another replica's save on the same database, not a
delete, not a re-creation under the same name. And it must actually be used.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.test_store import T0, make_job
from trainplane.domain import errors
from trainplane.domain.status import JobKind
from trainplane.domain.transitions import Event
from trainplane.store.sql_store import SqlStore


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two stores on one database file, as two control-plane replicas would be."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = SqlStore.open(url), SqlStore.open(url)
    yield first, second
    first.close()
    second.close()


def test_a_job_read_twice_at_one_version_is_decoded_once(replicas: tuple[SqlStore, SqlStore]) -> None:
    store, _ = replicas
    job = make_job("a")
    store.insert(job)
    first = store.get("t", JobKind.TRAINING, "a")
    assert store.get("t", JobKind.TRAINING, "a") is first
    assert store.get_by_id(job.id) is first


def test_another_replicas_save_is_seen_by_the_next_read(replicas: tuple[SqlStore, SqlStore]) -> None:
    reader, writer = replicas
    job = make_job("a")
    writer.insert(job)
    assert reader.get("t", JobKind.TRAINING, "a") == job  # now cached in the reader
    stopping = job.advance(Event.STOP_REQUESTED, T0, "stop")
    writer.save(stopping, expected_version=job.version)
    seen = reader.get("t", JobKind.TRAINING, "a")
    assert (seen.status, seen.version) == (stopping.status, job.version + 1)
    careless = dataclasses.replace(seen, started_at=T0)  # version not bumped by the caller
    writer.save(careless, expected_version=seen.version)
    assert reader.get_by_id(job.id).started_at == T0


def test_a_deleted_or_recreated_job_is_never_served_from_the_cache(
    replicas: tuple[SqlStore, SqlStore],
) -> None:
    reader, writer = replicas
    job = make_job("a")
    writer.insert(job)
    reader.get("t", JobKind.TRAINING, "a")
    writer.delete(job)
    with pytest.raises(errors.NotFound):
        reader.get("t", JobKind.TRAINING, "a")
    with pytest.raises(errors.NotFound):
        reader.get_by_id(job.id)
    again = make_job("a")
    writer.insert(again)
    assert reader.get("t", JobKind.TRAINING, "a").id == again.id


def test_the_probe_keeps_tenants_apart(replicas: tuple[SqlStore, SqlStore]) -> None:
    store, _ = replicas
    store.insert(make_job("a", tenant="other"))
    with pytest.raises(errors.NotFound):
        store.get("t", JobKind.TRAINING, "a")
