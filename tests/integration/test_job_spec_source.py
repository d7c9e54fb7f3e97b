"""The job's spec is the one source of its settings (issue 5): grace and executor are read once, at create."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.integration.test_control_plane import LOOP_UNTIL_TERM, TENANT, _job, _status
from tests.support import local_jobs
from tests.support.waiting import wait_until
from trainplane.api.sagemaker import translate
from trainplane.config import Settings
from trainplane.domain import errors
from trainplane.domain.job import Channel
from trainplane.domain.status import JobKind, Secondary, StopReason
from trainplane.server import ControlPlane, build
from trainplane.service.jobs import EXECUTOR_TAG, GRACE_TAG


@pytest.fixture
def plane(tmp_path: Path) -> Iterator[ControlPlane]:
    built = build(
        Settings(
            data_dir=tmp_path / "data",
            stop_grace_seconds=120,
            reconcile_interval_seconds=1,
            allowed_roots=(tmp_path,),
        )
    )
    yield built
    built.close()


def test_the_grace_tag_is_the_specs_grace_and_describe_shows_it_before_any_stop(
    plane: ControlPlane, tmp_path: Path
) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "tagged", LOOP_UNTIL_TERM, tags={GRACE_TAG: "300"}))
    assert job.spec.grace_seconds == 300
    described = plane.service.describe(TENANT, JobKind.TRAINING, "tagged")
    wire = translate.describe_training_job(described, datetime.now(UTC))
    assert wire["TrainplaneDetails"]["StopGraceSeconds"] == 300


def test_a_sigterm_from_outside_gets_the_jobs_own_grace_not_the_server_default(
    plane: ControlPlane, tmp_path: Path
) -> None:
    plane.reconciler.recover()
    plane.reconciler.start()
    plane.service.create(TENANT, _job(tmp_path, "preempted", LOOP_UNTIL_TERM, tags={GRACE_TAG: "300"}))
    wait_until(lambda: (tmp_path / "marker").exists(), 15, message="handler installed")
    job = plane.service.describe(TENANT, JobKind.TRAINING, "preempted")
    assert job.handle is not None
    os.kill(local_jobs.supervisor_pid(job.handle), signal.SIGTERM)
    wait_until(lambda: _status(plane, "preempted") is Secondary.STOPPED, 15)
    job = plane.service.describe(TENANT, JobKind.TRAINING, "preempted")
    assert job.stop is not None and job.stop.reason is StopReason.PREEMPTED
    assert job.stop.grace_seconds == 300
    assert (job.stop.deadline_at - job.stop.requested_at).total_seconds() == pytest.approx(300, abs=0.01)


@pytest.mark.parametrize("change", ["add", "delete"])
def test_changing_the_grace_tag_after_create_is_refused_and_changes_nothing(
    plane: ControlPlane, tmp_path: Path, change: str
) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "fixed", LOOP_UNTIL_TERM, tags={GRACE_TAG: "300"}))
    with pytest.raises(errors.Invalid, match=GRACE_TAG) as caught:
        if change == "add":
            plane.service.add_tags(TENANT, job.arn, {GRACE_TAG: "5", "team": "x"})
        else:
            plane.service.delete_tags(TENANT, job.arn, [GRACE_TAG])
    assert caught.value.field == "tags"
    assert plane.service.tags(TENANT, job.arn) == {GRACE_TAG: "300"}  # nothing of the call applied
    _, stopping = plane.service.stop(TENANT, JobKind.TRAINING, "fixed")
    assert stopping.stop is not None and stopping.stop.grace_seconds == 300


def test_other_tags_still_change_after_create(plane: ControlPlane, tmp_path: Path) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "free", LOOP_UNTIL_TERM, tags={"team": "a"}))
    plane.service.add_tags(TENANT, job.arn, {"team": "b", "owner": "me"})
    plane.service.delete_tags(TENANT, job.arn, ["owner"])
    assert plane.service.tags(TENANT, job.arn) == {"team": "b"}


def test_a_stored_unusable_grace_still_stops_the_job(plane: ControlPlane, tmp_path: Path) -> None:
    """issue 6: a NaN grace stored by an older version must not make the job unstoppable."""
    import dataclasses
    import math

    job = plane.service.create(TENANT, _job(tmp_path, "nan", LOOP_UNTIL_TERM))
    broken = dataclasses.replace(job, spec=dataclasses.replace(job.spec, grace_seconds=math.nan))
    # What an older version could have stored: the spec column is written by insert only.
    plane.store.delete(job)
    plane.store.insert(broken)
    _, stopping = plane.service.stop(TENANT, JobKind.TRAINING, "nan")
    assert stopping.stop is not None and stopping.stop.grace_seconds == 120


def test_the_executor_is_chosen_per_job_and_an_unknown_one_is_refused(
    plane: ControlPlane, tmp_path: Path
) -> None:
    default = plane.service.create(TENANT, _job(tmp_path, "default-executor", LOOP_UNTIL_TERM))
    assert default.spec.executor == "local"
    named = plane.service.create(
        TENANT, _job(tmp_path, "named", LOOP_UNTIL_TERM, tags={EXECUTOR_TAG: "local"})
    )
    assert named.spec.executor == "local"
    with pytest.raises(errors.Invalid, match="no executor 'mainframe'"):
        plane.service.create(TENANT, _job(tmp_path, "odd", LOOP_UNTIL_TERM, tags={EXECUTOR_TAG: "mainframe"}))
    with pytest.raises(errors.NotFound):
        plane.service.describe(TENANT, JobKind.TRAINING, "odd")


def test_duplicate_channel_names_are_refused_naming_the_second(plane: ControlPlane, tmp_path: Path) -> None:
    data = tmp_path / "data-in"
    data.mkdir()
    channels = (Channel("train", str(data)), Channel("eval", str(data)), Channel("train", str(data)))
    with pytest.raises(errors.Invalid, match="named twice") as caught:
        plane.service.create(TENANT, _job(tmp_path, "dup", LOOP_UNTIL_TERM, channels=channels))
    assert caught.value.field == "channels.3.name"


def test_create_stores_the_job_and_its_tags_in_one_transaction(plane: ControlPlane, tmp_path: Path) -> None:
    job = plane.service.create(TENANT, _job(tmp_path, "atomic", LOOP_UNTIL_TERM, tags={"a": "1", "b": "2"}))
    assert plane.service.tags(TENANT, job.arn) == {"a": "1", "b": "2"}
    # A create that loses on the name writes none of its tags onto anything.
    with pytest.raises(errors.NameInUse):
        plane.service.create(TENANT, _job(tmp_path, "atomic", LOOP_UNTIL_TERM, tags={"c": "3"}))
    assert plane.service.tags(TENANT, job.arn) == {"a": "1", "b": "2"}
