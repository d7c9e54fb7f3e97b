"""The server's Slurm settings: options and variables, what sbatch is asked for, and clear refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import local_jobs
from trainplane import config, server
from trainplane.domain import errors, instance_types
from trainplane.executors.slurm import batch


def test_sbatch_options_come_from_the_environment_as_shell_words() -> None:
    settings = config.from_env({"TRAINPLANE_SLURM_SBATCH_OPTIONS": "--qos=high '--comment=a b'"})
    assert settings.slurm_sbatch_options == ("--qos=high", "--comment=a b")
    assert settings.is_slurm_enabled and settings.executor == "local"
    assert not config.from_env({}).is_slurm_enabled


def test_sbatch_is_asked_for_one_node_the_partition_account_options_and_a_backup_time_limit(
    tmp_path: Path,
) -> None:
    job = local_jobs.make_job(tmp_path, "true", max_runtime_seconds=600, grace_seconds=30.0)
    settings = batch.SlurmSettings("gpu", "ml", ("--qos=high",), "/opt/tp/python")
    arguments = batch.sbatch_arguments(job, tmp_path / "run", settings)
    assert f"--job-name=tp-{job.id}" in arguments and "--nodes=1" in arguments
    assert "--partition=gpu" in arguments and "--account=ml" in arguments
    assert "--cpus-per-task=2" in arguments and "--mem=8192M" in arguments  # ml.m5.large
    assert "--time=12" in arguments  # 600 s + 30 s grace + 60 s margin, in whole minutes
    assert arguments.index("--qos=high") > arguments.index("--partition=gpu")  # the operator's win
    assert arguments[-1] == (
        f"--wrap=exec /opt/tp/python -m trainplane.executors.supervisor.supervisor {tmp_path / 'run'}"
    )


def test_the_instance_type_asks_slurm_for_its_cpus_memory_and_gpus() -> None:
    settings = batch.SlurmSettings()
    assert batch.resource_arguments("ml.g5.xlarge", settings) == [
        "--cpus-per-task=4",
        "--mem=16384M",
        "--gres=gpu:1",
    ]
    assert batch.resource_arguments("ml.unknown.large", settings) == []  # not guessed: Slurm's defaults
    own = batch.SlurmSettings(own_instance_types={"ml.m5.large": instance_types.InstanceResources(1, 512)})
    assert batch.resource_arguments("ml.m5.large", own) == ["--cpus-per-task=1", "--mem=512M"]


def test_several_instances_ask_for_one_task_per_node_and_srun_the_job_on_each(tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "true", instance_count=3)
    settings = batch.SlurmSettings(python_executable="/opt/tp/python")
    arguments = batch.sbatch_arguments(job, tmp_path / "run", settings)
    assert {"--nodes=3", "--ntasks=3", "--ntasks-per-node=1", "--cpus-per-task=2"} <= set(arguments)
    extras = batch.launch_extras(job, tmp_path / "run", settings)
    command = extras["command"]
    assert isinstance(command, list) and command[0] == "srun" and "--kill-on-bad-exit=1" in command
    assert "--cpus-per-task=2" in command  # srun does not inherit it from sbatch (Slurm 22.05)
    assert command[-4:] == ["/opt/tp/python", "-m", "trainplane.executors.slurm.node", str(tmp_path / "run")]
    assert extras["pass_environment"] == ["SLURM_"]
    assert set(extras["signal_commands"]) == {"TERM", "KILL"}
    assert batch.launch_extras(local_jobs.make_job(tmp_path, "true"), tmp_path / "run", settings) == {}


def test_no_instance_at_all_is_refused_clearly(tmp_path: Path) -> None:
    job = local_jobs.make_job(tmp_path, "true", instance_count=0)
    with pytest.raises(errors.Invalid, match="InstanceCount 0 must be at least 1"):
        batch.sbatch_arguments(job, tmp_path / "run", batch.SlurmSettings())


def test_an_unknown_default_executor_is_refused_at_start() -> None:
    with pytest.raises(errors.Invalid, match="--executor / TRAINPLANE_EXECUTOR"):
        config.validate(config.Settings(executor="kubernetes", allow_root_jobs=True))


def test_slurm_without_sbatch_on_path_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch there
    with pytest.raises(errors.Invalid, match="sbatch is not on PATH"):
        server.check(config.Settings(slurm_partition="debug"))
