"""Each local job sees its own tree at /opt/ml (a private mount namespace), as in a SageMaker container,
while the host's /opt/ml stays untouched. Root only, as the feature is (CI runs as root)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import local_jobs
from trainplane.executors.local.launcher import LocalExecutor
from trainplane.executors.supervisor import opt_ml

# Both jobs run at once: each waits for the other before it writes, then reads back its own write.
OVERLAPPING_JOB = """
set -e
touch "$TEST_DIR/ready-$NAME"
for _ in $(seq 500); do [ -e "$TEST_DIR/ready-$OTHER" ] && break; sleep 0.01; done
cp /opt/ml/input/config/hyperparameters.json /opt/ml/model/hyperparameters.json
echo "$NAME" > /opt/ml/model/who.txt
sleep 0.2
[ "$(cat /opt/ml/model/who.txt)" = "$NAME" ]
"""


@pytest.fixture
def executor(tmp_path: Path) -> Iterator[LocalExecutor]:
    yield from local_jobs.local_executor(tmp_path)


def test_two_jobs_at_once_each_see_their_own_opt_ml_and_the_host_sees_neither(
    executor: LocalExecutor, tmp_path: Path
) -> None:
    assert os.geteuid() == 0, "a private /opt/ml needs a root supervisor; the suite runs as root"
    host_had = sorted(p.name for p in opt_ml.OPT_ML.iterdir()) if opt_ml.OPT_ML.is_dir() else []
    jobs = {
        name: local_jobs.make_job(
            tmp_path,
            OVERLAPPING_JOB,
            environment={"NAME": name, "OTHER": other},
            hyperparameters={"learner": name},
        )
        for name, other in (("first", "second"), ("second", "first"))
    }
    handles = {name: executor.launch(job) for name, job in jobs.items()}
    for name, handle in handles.items():
        observation = local_jobs.wait_finished(executor, handle, 30)
        assert observation.outcome.exit_code == 0, executor.read_log(handle, 0, 1 << 16)
        assert observation.outcome.model_uri is not None
        members = local_jobs.model_members(observation.outcome.model_uri)
        assert members["who.txt"] == f"{name}\n".encode()
        assert json.loads(members["hyperparameters.json"]) == {"learner": name}
    assert not os.path.ismount(opt_ml.OPT_ML)  # nothing reached the host's mounts
    assert sorted(p.name for p in opt_ml.OPT_ML.iterdir()) == host_had


def test_a_tree_under_opt_ml_itself_is_not_bound_over(tmp_path: Path) -> None:
    reason = opt_ml.bind_private(opt_ml.OPT_ML / "runs" / "job" / "base")
    assert reason is not None and "would hide it" in reason  # refused before any namespace change
    assert not os.path.ismount(opt_ml.OPT_ML)
