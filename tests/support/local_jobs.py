"""Build real jobs for the local executor and look for their processes in /proc."""

from __future__ import annotations

import functools
import json
import os
import tarfile
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.waiting import WaitTimeout, wait_until
from trainplane.domain.job import ExecutorHandle, Job, JobSpec, StopIntent, new_job
from trainplane.domain.status import JobKind, StopReason
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.service.ports import Executor, Observation, Phase

DONE_PHASES = (Phase.FINISHED, Phase.LOST)
CGROUP_PARENT = Path("/sys/fs/cgroup/unified/trainplane")


def make_job(tmp_path: Path, script: str, **spec_fields: Any) -> Job:
    """A job running `bash -c script`, tagged with a unique TEST_MARKER in its environment."""
    marker = f"tp-test-{uuid.uuid4().hex}"
    environment = {"TEST_MARKER": marker, "TEST_DIR": str(tmp_path), **spec_fields.pop("environment", {})}
    spec = JobSpec(
        image="local/bash",
        command=("bash", "-c", script),
        environment=environment,
        output_uri=spec_fields.pop("output_uri", (tmp_path / "output").as_uri()),
        **spec_fields,
    )
    name = f"job-{uuid.uuid4().hex[:8]}"
    return new_job(
        job_id=uuid.uuid4().hex,
        tenant="tenant",
        kind=JobKind.TRAINING,
        name=name,
        arn=f"arn:aws:sagemaker:local:000000000000:training-job/{name}",
        spec=spec,
        request={},
        dialect="native",
        at=datetime.now(UTC),
    )


def local_executor(tmp_path: Path, **options: Any) -> Iterator[LocalExecutor]:
    """A fixture's body: a LocalExecutor in `tmp_path/runs` (hints to `tmp_path/notify.sock`); afterwards
    kill what a failed test left, then close.

    Kill first, close after: the open fork server is the subreaper that reaps what is killed at once.
    Closed first, the orphans go to PID 1, which may take over 10 s to reap a zombie holding the cgroup.
    """
    executor = LocalExecutor(tmp_path / "runs", notify_socket_path=tmp_path / "notify.sock", **options)
    yield executor
    kill_leftovers(tmp_path / "runs")
    executor.close()


def marker_of(job: Job) -> str:
    return job.spec.environment["TEST_MARKER"]


def stop_intent(grace_seconds: float, reason: StopReason = StopReason.USER) -> StopIntent:
    now = datetime.now(UTC)
    return StopIntent(now, now + timedelta(seconds=grace_seconds), reason, grace_seconds)


def wait_for_phase(
    executor: Executor, handle: ExecutorHandle, phases: tuple[Phase, ...], timeout_seconds: float
) -> Observation:
    def reached() -> Observation | None:
        observation = executor.observe(handle)
        return observation if observation.phase in phases else None

    return wait_until(reached, timeout_seconds, message=f"phase in {phases}")


def wait_finished(executor: Executor, handle: ExecutorHandle, timeout_seconds: float) -> Observation:
    return wait_for_phase(executor, handle, DONE_PHASES, timeout_seconds)


def processes_with_marker(marker: str) -> list[int]:
    """Live (non-zombie) processes whose environment or argv holds `marker`."""
    needle = marker.encode()
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                state = stat.read().rsplit(b")", 1)[1].split()[0]
            if state in (b"Z", b"X"):
                continue
            with open(f"/proc/{entry.name}/environ", "rb") as environ:
                text = environ.read()
            with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                text += cmdline.read()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if needle in text:
            found.append(int(entry.name))
    return found


def status_of(handle: ExecutorHandle) -> dict[str, Any]:
    return json.loads(  # type: ignore[no-any-return]
        (Path(handle.ref["run_dir"]) / "status.json").read_text()
    )


def supervisor_pid(handle: ExecutorHandle) -> int:
    return int(json.loads((Path(handle.ref["run_dir"]) / "supervisor.pid").read_text())["pid"])


def model_members(model_uri: str) -> dict[str, bytes]:
    """Every regular file in the packaged model.tar.gz, by member name."""
    path = Path(model_uri.removeprefix("file://"))
    with tarfile.open(path) as archive:
        return {
            member.name: archive.extractfile(member).read()  # type: ignore[union-attr]
            for member in archive.getmembers()
            if member.isfile()
        }


def manifest_of(model_uri: str) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads(model_members(model_uri)["trainplane-manifest.json"])
    return manifest


def kill_leftovers(runs_dir: Path) -> None:
    """After a test: SIGKILL any supervisor and job process a failed test left behind."""
    if not runs_dir.is_dir():
        return
    for directory in runs_dir.iterdir():
        launch = directory / "launch.json"
        if launch.exists():
            marker = json.loads(launch.read_text())["environment"].get("TEST_MARKER")
            for pid in processes_with_marker(marker) if marker else ():
                _kill(pid)
        pid_file = directory / "supervisor.pid"
        if pid_file.exists():
            record = json.loads(pid_file.read_text())
            if _start_ticks(record["pid"]) == record["start_ticks"]:
                _kill(record["pid"])
        # PID 1 reaps orphaned zombies lazily (~1.6 s here) and a zombie still holds the cgroup.
        try:
            wait_until(functools.partial(_remove_cgroup, directory.name), 10, message="cgroup removed")
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}; left in it: {_cgroup_members(directory.name)}") from None


def _cgroup_members(job_id: str) -> list[str]:
    """Each process still in a job's cgroup, with its state and parent, to say why it is not empty."""
    members = []
    for leaf in sorted((CGROUP_PARENT / job_id).rglob("cgroup.procs")):
        for pid in leaf.read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                members.append(f"{pid} state={fields[0]} ppid={fields[1]} in {leaf.parent.name}")
            except (FileNotFoundError, ProcessLookupError, IndexError):
                members.append(f"{pid} (gone)")
    return members


def _remove_cgroup(job_id: str) -> bool:
    # cgroup.kill first: a job process forked just before its supervisor was killed carries the
    # marker only after its exec, so the marker scan above can miss it; the cgroup never does.
    try:
        (CGROUP_PARENT / job_id / "cgroup.kill").write_text("1")
    except OSError:
        pass  # gone already, or a kernel without cgroup.kill: the rmdir below says which
    try:
        (CGROUP_PARENT / job_id).rmdir()
    except FileNotFoundError:
        return True
    except OSError:
        return False
    return True


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def _start_ticks(pid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):  # gone, or exiting while it is read (ESRCH)
        return None
    return int(text[text.rindex(")") + 2 :].split()[19])
