"""Two control planes (replicas) on one PostgreSQL, with real local jobs: each step of the work once."""

from __future__ import annotations

import dataclasses
import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.support import local_jobs, replicas
from tests.support.waiting import wait_until
from trainplane.artifacts.local import LocalArtifacts
from trainplane.config import Settings
from trainplane.domain.status import JobKind, Secondary
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.server import ControlPlane, SystemClock, build, replica_id
from trainplane.service.claims import ReplicaSettings
from trainplane.service.jobs import NewJob
from trainplane.service.reconciler import Reconciler

TENANT = "default"
JOBS_DIR = Path(__file__).resolve().parent.parent / "jobs"
JOB_COUNT = 6
TIMEOUT_SECONDS = 30


def _settings(tmp_path: Path, database_url: str, replica: str) -> Settings:
    return Settings(
        data_dir=tmp_path / replica,
        database_url=database_url,
        stop_grace_seconds=30,
        reconcile_interval_seconds=1,
        allowed_roots=(tmp_path,),
        replica_id=replica,
        queue=False,  # six ml.m5.large jobs at once on a 2-core host: placement is test_resources_replicas'
    )


@pytest.fixture
def planes(tmp_path: Path, postgres_url: str) -> Iterator[list[ControlPlane]]:
    """Two replicas, built but not started."""
    yield from replicas.planes(tmp_path, lambda replica: _settings(tmp_path, postgres_url, replica))


def _counting_job(tmp_path: Path, name: str) -> NewJob:
    """tests/jobs/count_sigterms.py: a line per SIGTERM, a started-<pid> file per start."""
    return NewJob(
        name=name,
        kind=JobKind.TRAINING,
        dialect="test",
        image="trainplane/python",
        request={"TrainingJobName": name},
        entrypoint=("python", str(JOBS_DIR / "count_sigterms.py")),
        output_uri=f"file://{tmp_path / 'out'}",
        environment={
            "TEST_MARKER_DIR": str(tmp_path / "markers" / name),
            "LINGER_SECONDS": "0.3",
            "TEST_MARKER": f"tp-test-{uuid.uuid4().hex}",  # local_jobs.kill_leftovers finds it by this
        },
    )


def _status(plane: ControlPlane, name: str) -> Secondary:
    return plane.service.describe(TENANT, JobKind.TRAINING, name).status


def _starts(tmp_path: Path, name: str) -> int:
    return len(list((tmp_path / "markers" / name).glob("started-*")))


def _sigterms(tmp_path: Path, name: str) -> int:
    path = tmp_path / "markers" / name / "sigterms"
    return len(path.read_text().splitlines()) if path.exists() else 0


def _owner(plane: ControlPlane, name: str) -> str | None:
    job = plane.service.describe(TENANT, JobKind.TRAINING, name)
    return {claim.job_id: claim.owner for claim in plane.store.active_claims()}.get(job.id)


def test_each_job_is_launched_once_and_stopped_once_whichever_replica_is_asked(
    planes: list[ControlPlane], tmp_path: Path
) -> None:
    names = [f"job-{index}" for index in range(JOB_COUNT)]
    for index, name in enumerate(names):
        planes[index % 2].service.create(TENANT, _counting_job(tmp_path, name))
    replicas.start_together(planes)  # both see every job unlaunched: only the claim keeps one from launching
    for name in names:
        wait_until(lambda name=name: _starts(tmp_path, name) >= 1, TIMEOUT_SECONDS, message=f"{name} started")
    owners = {name: _owner(planes[0], name) for name in names}
    assert set(owners.values()) <= {"replica-a", "replica-b"}
    for index, name in enumerate(names):  # each stop through the replica that did NOT create the job
        planes[(index + 1) % 2].service.stop(TENANT, JobKind.TRAINING, name)
    for name in names:
        wait_until(
            lambda name=name: _status(planes[0], name) is Secondary.STOPPED, TIMEOUT_SECONDS, message=name
        )
    for name in names:
        history = [t.status for t in planes[1].service.describe(TENANT, JobKind.TRAINING, name).history]
        assert history.count(Secondary.STOPPED) == 1, (name, history)
        assert (_starts(tmp_path, name), _sigterms(tmp_path, name)) == (1, 1), name
        owner_runs = tmp_path / str(owners[name]) / "runs"
        other = "replica-b" if owners[name] == "replica-a" else "replica-a"
        job_id = planes[0].service.describe(TENANT, JobKind.TRAINING, name).id
        assert (owner_runs / job_id).is_dir() and not (tmp_path / other / "runs" / job_id).exists()


def test_a_host_bound_job_waits_for_its_owner_and_its_stop_is_delivered_when_the_owner_returns(
    tmp_path: Path, postgres_url: str
) -> None:
    owner_settings = dataclasses.replace(_settings(tmp_path, postgres_url, "owner"), replica_lease_seconds=1)
    owner = build(owner_settings)
    other = build(dataclasses.replace(_settings(tmp_path, postgres_url, "other"), replica_lease_seconds=1))
    try:
        owner.reconciler.recover()
        owner.reconciler.start()
        owner.service.create(TENANT, _counting_job(tmp_path, "bound"))
        wait_until(lambda: _starts(tmp_path, "bound") == 1, TIMEOUT_SECONDS, message="started")
        owner.close()  # the owner replica is gone; its supervisor and job run on

        other.reconciler.recover()
        other.reconciler.start()
        other.service.stop(TENANT, JobKind.TRAINING, "bound")
        # The other replica polls every 0.25 s: eight of its polls after the owner's 1 s lease ran out,
        # the job is still the owner's, Stopping, and never signalled (its run dir is the owner's).
        expired_at = _lease_expiry(other, "bound")
        wait_until(
            lambda: datetime.now(UTC) > expired_at + timedelta(seconds=2), TIMEOUT_SECONDS, message="waited"
        )
        assert _status(other, "bound") is Secondary.STOPPING
        assert _sigterms(tmp_path, "bound") == 0 and _owner(other, "bound") == "owner"

        returned = build(owner_settings)  # same data dir, same replica id
        try:
            returned.reconciler.recover()
            returned.reconciler.start()
            wait_until(
                lambda: _status(other, "bound") is Secondary.STOPPED, TIMEOUT_SECONDS, message="Stopped"
            )
        finally:
            returned.close()
        assert (_starts(tmp_path, "bound"), _sigterms(tmp_path, "bound")) == (1, 1)
    finally:
        other.close()


def test_the_jobs_of_a_host_gone_for_good_are_settled_by_a_replica_started_with_its_id(
    tmp_path: Path, postgres_url: str
) -> None:
    """docs/postgresql.md: the host, its data dir and the job's processes are gone; the job's record
    is settled (Failed: its supervisor lost) by a server given the lost replica's id elsewhere."""
    lost_settings = _settings(tmp_path, postgres_url, "lost")
    lost = build(lost_settings)
    lost.reconciler.recover()
    lost.reconciler.start()
    lost.service.create(TENANT, _counting_job(tmp_path, "orphan"))
    wait_until(lambda: _starts(tmp_path, "orphan") == 1, TIMEOUT_SECONDS, message="started")
    lost.close()
    local_jobs.kill_leftovers(lost_settings.runs_dir)  # the host dies with everything on it
    lost_settings.data_dir.rename(tmp_path / "gone")
    elsewhere = build(dataclasses.replace(_settings(tmp_path, postgres_url, "elsewhere"), replica_id="lost"))
    try:
        elsewhere.service.stop(TENANT, JobKind.TRAINING, "orphan")
        elsewhere.reconciler.recover()
        elsewhere.reconciler.start()
        wait_until(
            lambda: _status(elsewhere, "orphan") is Secondary.FAILED, TIMEOUT_SECONDS, message="Failed"
        )
    finally:
        elsewhere.close()
    job = elsewhere.service.describe(TENANT, JobKind.TRAINING, "orphan")
    assert job.outcome is not None and job.outcome.failure is not None
    assert "supervisor disappeared" in job.outcome.failure.message
    assert _sigterms(tmp_path, "orphan") == 0  # nothing of it ran any more to be signalled


def _lease_expiry(plane: ControlPlane, name: str) -> datetime:
    job = plane.service.describe(TENANT, JobKind.TRAINING, name)
    [claim] = [claim for claim in plane.store.active_claims() if claim.job_id == job.id]
    assert claim.owner_lease_expires_at is not None
    return claim.owner_lease_expires_at


@pytest.mark.parametrize("is_crash", [True, False], ids=["owner-crashed", "owner-shut-down"])
def test_a_job_any_replica_reaches_is_taken_over_once_its_owners_lease_ends(
    tmp_path: Path, postgres_url: str, is_crash: bool
) -> None:
    """Slurm and Ray jobs are reachable from every replica; here two replicas share one runs dir.
    A crashed owner's lease runs out (1 s here); a clean shutdown ends it at once (60 s lease here)."""
    settings = _settings(tmp_path, postgres_url, "first")
    first, second = build(settings), build(_settings(tmp_path, postgres_url, "second"))
    shared = LocalExecutor(settings.runs_dir)  # the second replica reaches the first one's jobs
    replicas = []
    for plane, executor, name in ((first, first.executor, "first"), (second, shared, "second")):
        artifacts = LocalArtifacts(
            settings.runs_dir, allowed_roots=settings.location_roots, protected=settings.protected_paths
        )
        lease_seconds = 1 if is_crash or name == "second" else 2 * TIMEOUT_SECONDS
        replica = ReplicaSettings(
            replica_id=name, lease_seconds=lease_seconds, host_bound_executors=frozenset()
        )
        reconciler = Reconciler(
            plane.store, plane.service, {"local": executor}, artifacts, SystemClock(), 1, replica
        )
        plane.service.set_on_change(reconciler.wake)
        plane.service.set_is_driven_here(reconciler.owns)
        replicas.append(reconciler)
    try:
        replicas[0].recover()
        replicas[0].start()
        first.service.create(TENANT, _counting_job(tmp_path, "reachable"))
        wait_until(lambda: _starts(tmp_path, "reachable") == 1, TIMEOUT_SECONDS, message="started")
        replicas[0].stop()
        if is_crash:  # as if it died right after its last renewal, without ending its lease
            first.store.renew_lease("first", "localhost", datetime.now(UTC) + timedelta(seconds=1))
        second.service.stop(TENANT, JobKind.TRAINING, "reachable")
        replicas[1].recover()
        replicas[1].start()
        wait_until(lambda: _owner(second, "reachable") == "second", TIMEOUT_SECONDS, message="taken over")
        wait_until(
            lambda: _status(second, "reachable") is Secondary.STOPPED, TIMEOUT_SECONDS, message="Stopped"
        )
        assert (_starts(tmp_path, "reachable"), _sigterms(tmp_path, "reachable")) == (1, 1)
    finally:
        replicas[1].stop()
        first.close()
        second.close()


def test_a_stop_persisted_by_another_replica_is_heard_at_once_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    """LISTEN/NOTIFY: with the claims poll and the sweep 60 s apart, only the notification can bring
    the owner the stop another replica persisted within the 20 s allowed."""
    planes = [build(_settings(tmp_path, postgres_url, name)) for name in ("owner", "other")]
    reconcilers = []
    for plane, name in zip(planes, ("owner", "other"), strict=True):
        settings = _settings(tmp_path, postgres_url, name)
        artifacts = LocalArtifacts(
            settings.runs_dir, allowed_roots=settings.location_roots, protected=settings.protected_paths
        )
        slow = ReplicaSettings(replica_id=name, lease_seconds=600, poll_interval_seconds=60)
        reconciler = Reconciler(
            plane.store, plane.service, {"local": plane.executor}, artifacts, SystemClock(), 60, slow
        )
        plane.service.set_on_change(reconciler.wake)
        plane.service.set_is_driven_here(reconciler.owns)
        reconcilers.append(reconciler)
    try:
        reconcilers[0].recover()
        reconcilers[0].start()
        planes[0].service.create(TENANT, _counting_job(tmp_path, "heard"))
        wait_until(lambda: _starts(tmp_path, "heard") == 1, TIMEOUT_SECONDS, message="started")
        reconcilers[1].recover()
        reconcilers[1].start()
        planes[1].service.stop(TENANT, JobKind.TRAINING, "heard")
        wait_until(lambda: _sigterms(tmp_path, "heard") == 1, 20, message="SIGTERM delivered by the owner")
        wait_until(lambda: _status(planes[1], "heard") is Secondary.STOPPED, 20, message="Stopped")
    finally:
        for reconciler in reconcilers:
            reconciler.stop()
        for plane in planes:
            plane.close()


def test_a_server_restarted_on_its_data_dir_is_the_same_replica(tmp_path: Path) -> None:
    """The default id is chosen once per data dir (its run dirs are there), not per start or host name."""
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    chosen = replica_id(settings)
    assert chosen.startswith(f"{socket.gethostname()[:160]}-")
    assert replica_id(settings) == chosen
    (tmp_path / "other").mkdir()
    assert replica_id(Settings(data_dir=tmp_path / "other")) != chosen
    assert replica_id(dataclasses.replace(settings, replica_id="named")) == "named"
