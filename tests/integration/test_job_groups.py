"""Job groups through the service core (JobService, GroupService, reconciler) with real processes:
runs joining groups, jobs reached by id per tenant, and deletes that stop a running job first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.test_control_plane import LOOP_UNTIL_TERM, TENANT, _job
from tests.support.waiting import wait_until
from trainplane.config import Settings
from trainplane.domain import errors
from trainplane.domain.status import JobKind, Primary, Secondary
from trainplane.server import ControlPlane, build
from trainplane.service.groups import GroupService
from trainplane.service.ports import GroupQuery

WAIT_SECONDS = 30


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    built = build(
        Settings(
            data_dir=tmp_path / "data",
            stop_grace_seconds=5,
            reconcile_interval_seconds=1,
            allowed_roots=(tmp_path,),
        )
    )
    built.reconciler.recover()
    built.reconciler.start()
    yield built
    built.close()


def _groups(plane: ControlPlane) -> GroupService:
    assert plane.app.groups is not None
    return plane.app.groups


def _running(plane: ControlPlane, job_id: str) -> bool:
    return plane.service.get_job(TENANT, job_id).status is Secondary.TRAINING


def _gone(plane: ControlPlane, job_id: str) -> bool:
    try:
        plane.store.get_by_id(job_id)
    except errors.NotFound:
        return True
    return False


def test_a_job_without_a_group_joins_the_one_named_after_it(plane: ControlPlane, tmp_path: Path) -> None:
    first = plane.service.create(TENANT, _job(tmp_path, "solo", "pass"))
    assert first.group_id is not None and first.run_number == 1
    group = _groups(plane).get(TENANT, first.group_id)
    assert group.name == "solo"
    second = plane.service.create(TENANT, _job(tmp_path, "solo-v2", "pass", group_id=group.id))
    assert (second.group_id, second.run_number) == (group.id, 2)
    assert [run.id for run in _groups(plane).runs(TENANT, group.id)] == [first.id, second.id]
    summary = _groups(plane).list(TENANT, GroupQuery(name_contains="solo")).groups[0]
    assert summary.latest is not None and summary.latest.id == second.id


def test_another_tenants_job_is_not_found_by_id(plane: ControlPlane, tmp_path: Path) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "mine", "pass"))
    with pytest.raises(errors.NotFound):
        plane.service.get_job("intruder", job.id)
    with pytest.raises(errors.NotFound):
        plane.service.stop_job("intruder", job.id)
    with pytest.raises(errors.NotFound):
        plane.service.delete_job("intruder", job.id, stop_first=True)
    assert plane.service.get_job(TENANT, job.id).stop is None


def test_deleting_a_running_job_stops_it_first_and_removes_it_once_ended(
    plane: ControlPlane, tmp_path: Path
) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "doomed", LOOP_UNTIL_TERM))
    wait_until(lambda: _running(plane, job.id), WAIT_SECONDS)
    with pytest.raises(errors.InvalidState):
        plane.service.delete_job(TENANT, job.id)  # not without stop_first

    marked = plane.service.delete_job(TENANT, job.id, stop_first=True)

    assert marked is not None and marked.primary is Primary.STOPPING
    with pytest.raises(errors.NotFound):  # gone for every client at once
        plane.service.describe(TENANT, JobKind.TRAINING, "doomed")
    wait_until(lambda: _gone(plane, job.id), WAIT_SECONDS)
    assert job.group_id is not None
    assert _groups(plane).get(TENANT, job.group_id).run_count == 0
    name_is_free = plane.service.create(TENANT, _job(tmp_path, "doomed", "pass"))
    assert name_is_free.run_number == 2


def test_deleting_a_group_stops_its_running_runs_and_it_is_gone_with_the_last(
    plane: ControlPlane, tmp_path: Path
) -> None:
    group = _groups(plane).create(TENANT, "project", "two runs")
    done = plane.service.create(TENANT, _job(tmp_path, "project-1", "pass", group_id=group.id))
    wait_until(lambda: plane.service.get_job(TENANT, done.id).is_terminal, WAIT_SECONDS)
    running = plane.service.create(TENANT, _job(tmp_path, "project-2", LOOP_UNTIL_TERM, group_id=group.id))
    wait_until(lambda: _running(plane, running.id), WAIT_SECONDS)
    with pytest.raises(errors.InvalidState):
        _groups(plane).delete(TENANT, group.id)

    _groups(plane).delete(TENANT, group.id, stop_first=True)

    with pytest.raises(errors.NotFound):
        _groups(plane).get(TENANT, group.id)
    assert _gone(plane, done.id)
    wait_until(lambda: _gone(plane, running.id), WAIT_SECONDS)
    assert _groups(plane).find(TENANT, "project") is None
    assert _groups(plane).create(TENANT, "project").id != group.id


def test_a_group_name_or_description_longer_than_the_store_holds_is_refused_naming_the_group(
    plane: ControlPlane, tmp_path: Path
) -> None:
    too_long = "g" * 129
    for attempt in (
        lambda: _groups(plane).create(TENANT, too_long),
        lambda: _groups(plane).upsert(TENANT, too_long),
        lambda: _groups(plane).create(TENANT, "fine", "d" * 1025),
        lambda: plane.service.create(TENANT, _job(tmp_path, "job", "pass", group=too_long)),
    ):
        with pytest.raises(errors.Invalid) as refused:
            attempt()
        assert refused.value.field == "group"
    assert _groups(plane).list(TENANT, GroupQuery()).total == 0
