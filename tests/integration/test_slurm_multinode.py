"""InstanceCount > 1 on a real multi-node Slurm (scripts/slurm-up with TRAINPLANE_SLURM_NODES=3: node2 and
node3 are slurmds in their own network and UTS namespaces): one task per node, SageMaker's host
variables on each, the stop protocol ours on every node, and nothing left behind on any of them.
"""

from __future__ import annotations

import json
import shlex
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.support import local_jobs, slurm
from tests.support.waiting import wait_until
from trainplane.executors.slurm import batch, commands
from trainplane.executors.slurm.executor import SlurmExecutor
from trainplane.service.ports import Phase

# Each node records what it sees, saves a model on SIGTERM (a file naming its host) and exits 0;
# with IGNORE_ON set to a host name, that host ignores SIGTERM instead (killed at the deadline).
NODE_JOB = f"exec {shlex.quote(sys.executable)} -c " + shlex.quote(
    textwrap.dedent(
        """
        import json, os, pathlib, signal, socket, sys, time
        host = os.environ["SM_CURRENT_HOST"]
        out = pathlib.Path(os.environ["TEST_DIR"])
        def on_term(signum, frame):
            if os.environ.get("IGNORE_ON") == host:
                return
            pathlib.Path(os.environ["SM_MODEL_DIR"], f"model-{host}.txt").write_text(host + "\\n")
            with open(out / "sigterms", "a") as log:
                log.write(f"{host}\\n")
            sys.exit(0)
        signal.signal(signal.SIGTERM, on_term)
        config = pathlib.Path(os.environ["SM_INPUT_CONFIG_DIR"], "resourceconfig.json").read_text()
        seen = {
            "hostname": socket.gethostname(),
            "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "TRAINPLANE_H"))},
            "resourceconfig": json.loads(config),
            "cwd": os.getcwd(),
            "pid": os.getpid(),
        }
        (out / f"seen-{host}.tmp").write_text(json.dumps(seen))
        os.replace(out / f"seen-{host}.tmp", out / f"seen-{host}.json")  # whole, or not there
        while True:
            time.sleep(0.05)
        """
    )
)


@pytest.fixture
def partition() -> str:
    return slurm.require_nodes(2)


@pytest.fixture
def executor(tmp_path: Path, partition: str) -> Iterator[SlurmExecutor]:
    made = SlurmExecutor(tmp_path / "runs", batch.SlurmSettings(partition=partition))
    yield made
    made.close()
    slurm.kill_leftovers(tmp_path / "runs")


def _seen(tmp_path: Path, host: str) -> dict[str, object] | None:
    path = tmp_path / f"seen-{host}.json"
    return json.loads(path.read_text()) if path.exists() else None


def _both_running(tmp_path: Path) -> tuple[dict[str, object], dict[str, object]]:
    first = wait_until(lambda: _seen(tmp_path, "algo-1"), 60, message="algo-1 running")
    second = wait_until(lambda: _seen(tmp_path, "algo-2"), 30, message="algo-2 running")
    return first, second


def test_two_nodes_run_with_their_hosts_and_a_stop_saves_and_packages_the_first(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(tmp_path, NODE_JOB, instance_count=2, grace_seconds=60.0)
    handle = executor.launch(job)
    first, second = _both_running(tmp_path)
    assert first["hostname"] != second["hostname"]  # two Slurm nodes, each its own host name
    for seen, host in ((first, "algo-1"), (second, "algo-2")):
        env = seen["env"]
        assert isinstance(env, dict)
        assert env["SM_CURRENT_HOST"] == host
        assert json.loads(env["SM_HOSTS"]) == ["algo-1", "algo-2"]
        assert json.loads(env["SM_TRAINING_ENV"])["is_master"] is (host == "algo-1")
        config = seen["resourceconfig"]
        assert isinstance(config, dict)
        assert config["current_host"] == host and config["hosts"] == ["algo-1", "algo-2"]
        assert config["network_interface_name"] == env["SM_NETWORK_INTERFACE_NAME"] != ""
        assert set(json.loads(env["TRAINPLANE_HOST_ADDRESSES"])) == {"algo-1", "algo-2"}
    assert first["cwd"] != second["cwd"]  # each host its own /opt/ml
    assert local_jobs.wait_for_phase(executor, handle, (Phase.RUNNING,), 10).started_at is not None

    executor.request_stop(handle, local_jobs.stop_intent(grace_seconds=60.0))
    observation = local_jobs.wait_finished(executor, handle, 20)  # far less than the 60 s grace
    assert observation.phase is Phase.FINISHED and observation.was_stopped
    assert observation.outcome.failure is None and observation.outcome.exit_code == 0
    assert sorted((tmp_path / "sigterms").read_text().split()) == ["algo-1", "algo-2"]  # one each
    report = observation.outcome.stop_report
    assert report is not None and report.term_pids == 2 and report.kill_pids == 0
    assert observation.outcome.model_uri is not None
    members = local_jobs.model_members(observation.outcome.model_uri)
    assert members["model-algo-1.txt"] == b"algo-1\n" and "model-algo-2.txt" not in members  # algo-1's
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []
    assert wait_until(lambda: _ended(handle.ref["slurm_job_id"]), 10) == "COMPLETED"


def test_a_node_ignoring_sigterm_is_killed_at_the_deadline_with_no_survivor_on_any_node(
    executor: SlurmExecutor, tmp_path: Path
) -> None:
    job = local_jobs.make_job(
        tmp_path, NODE_JOB, instance_count=2, environment={"IGNORE_ON": "algo-2"}, grace_seconds=2.0
    )
    handle = executor.launch(job)
    _both_running(tmp_path)
    intent = local_jobs.stop_intent(grace_seconds=2.0)
    executor.request_stop(handle, intent)
    observation = local_jobs.wait_finished(executor, handle, 20)
    assert observation.was_stopped and observation.stop == intent
    assert (tmp_path / "sigterms").read_text().split() == ["algo-1"]  # algo-2 ignored it
    report = observation.outcome.stop_report
    assert report is not None and report.kill_sent_at is not None
    assert intent.deadline_at <= report.kill_sent_at <= intent.deadline_at + timedelta(seconds=0.5)
    assert report.kill_pids >= 1 and report.survivors == ()
    assert local_jobs.processes_with_marker(local_jobs.marker_of(job)) == []  # on every node: one pid space
    assert wait_until(lambda: _ended(handle.ref["slurm_job_id"]), 10) == "COMPLETED"


def _ended(slurm_job_id: str) -> str | None:
    state = slurm.state_of(slurm_job_id)
    return None if state in commands.ACTIVE_STATES else state or "purged"
