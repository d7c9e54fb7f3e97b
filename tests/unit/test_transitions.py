"""The one transition table: every (status, event) pair lands where the table says or raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from trainplane.domain import errors, transitions
from trainplane.domain.job import JobSpec, new_job
from trainplane.domain.status import JobKind, Primary, Secondary
from trainplane.domain.transitions import Event

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def _job(status: Secondary = Secondary.STARTING):
    job = new_job(
        job_id="id-1",
        tenant="t",
        kind=JobKind.TRAINING,
        name="job",
        arn="arn",
        spec=JobSpec(image="i", command=("true",), environment={}),
        request={},
        dialect="sagemaker",
        at=T0,
    )
    # Reach `status` the honest way, through the table.
    paths = {
        Secondary.STARTING: [],
        Secondary.DOWNLOADING: [Event.SUPERVISOR_STARTED],
        Secondary.TRAINING: [Event.SUPERVISOR_STARTED, Event.PROCESS_STARTED],
        Secondary.UPLOADING: [Event.PROCESS_STARTED, Event.PROCESS_SUCCEEDED],
        Secondary.STOPPING: [Event.STOP_REQUESTED],
        Secondary.STOPPED: [Event.STOP_REQUESTED, Event.STOP_FINISHED],
        Secondary.MAX_RUNTIME_EXCEEDED: [Event.MAX_RUNTIME_REACHED, Event.MAX_RUNTIME_STOP_FINISHED],
        Secondary.COMPLETED: [Event.PROCESS_STARTED, Event.PROCESS_SUCCEEDED, Event.MODEL_PACKAGED],
        Secondary.FAILED: [Event.FAILED],
    }
    for step, event in enumerate(paths[status], start=1):
        job = job.advance(event, T0 + timedelta(seconds=step), event.value)
    assert job.status is status
    return job


@pytest.mark.parametrize("status", list(Secondary))
@pytest.mark.parametrize("event", list(Event))
def test_every_pair_follows_the_table_or_raises(status: Secondary, event: Event) -> None:
    job = _job(status)
    expected = transitions.TRANSITIONS.get((status, event))
    if expected is None:
        with pytest.raises(errors.IllegalTransition):
            job.advance(event, T0 + timedelta(minutes=1), "x")
        return
    moved = job.advance(event, T0 + timedelta(minutes=1), "moved")
    assert moved.status is expected
    assert moved.version == job.version + 1
    assert moved.history[-1].status is expected and moved.history[-1].message == "moved"
    assert moved.history[-2].ended_at == T0 + timedelta(minutes=1)


def test_terminal_statuses_are_exactly_those_without_outgoing_moves() -> None:
    assert transitions.TERMINAL == {
        Secondary.STOPPED,
        Secondary.MAX_RUNTIME_EXCEEDED,
        Secondary.COMPLETED,
        Secondary.FAILED,
    }
    assert transitions.TERMINAL_PRIMARY == {Primary.STOPPED, Primary.COMPLETED, Primary.FAILED}


def test_every_in_progress_status_can_be_stopped_and_nothing_else() -> None:
    in_progress = {s for s, p in transitions.PRIMARY.items() if p is Primary.IN_PROGRESS}
    assert transitions.STOPPABLE == in_progress


def test_every_secondary_status_has_a_primary_status() -> None:
    assert set(transitions.PRIMARY) == set(Secondary)


def test_max_runtime_stop_ends_as_stopped_with_max_runtime_exceeded() -> None:
    job = _job(Secondary.MAX_RUNTIME_EXCEEDED)
    assert job.primary is Primary.STOPPED
    assert job.is_terminal and job.ended_at is not None


def test_advance_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        _job().advance(Event.STOP_REQUESTED, datetime(2026, 1, 1), "x")


def test_touched_never_changes_status() -> None:
    with pytest.raises(ValueError, match="advance"):
        _job().touched(status=Secondary.COMPLETED)


def test_mermaid_diagram_lists_every_row() -> None:
    diagram = transitions.mermaid()
    assert diagram.count("-->") == len(transitions.TRANSITIONS) + len(transitions.TERMINAL)
