"""The environment a SageMaker-toolkit user relies on, built by job_environment."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainplane.artifacts.environment import job_environment
from trainplane.artifacts.layout import JobLayout
from trainplane.domain import errors
from trainplane.domain.job import Channel, JobSpec

BASE = Path("/runs/job-1/base")
ARN = "arn:aws:sagemaker:us-east-1:000000000000:training-job/digits"


def _spec(**changes: object) -> JobSpec:
    fields: dict[str, object] = {
        "image": "trainplane/python",
        "command": ("python", "train.py"),
        "environment": {"FROM_REQUEST": "yes", "SHARED": "request"},
        "hyperparameters": {
            "epochs": "10",
            "lr": "0.1",
            "optimizer": "adam",
            "sagemaker_program": "train.py",
        },
        "channels": (Channel("train", "/data/train", "text/csv"), Channel("test", "/data/test")),
        "output_uri": "file:///tmp/out",
        "instance_type": "ml.m5.large",
    }
    fields.update(changes)
    return JobSpec(**fields)  # type: ignore[arg-type]


def _env(spec: JobSpec | None = None, base_env: dict[str, str] | None = None) -> dict[str, str]:
    return job_environment(
        job_name="digits",
        job_arn=ARN,
        spec=spec or _spec(),
        layout=JobLayout(BASE),
        base_env=base_env if base_env is not None else {"PATH": "/usr/bin", "SHARED": "server"},
    )


def test_directories_follow_the_opt_ml_layout_under_the_base_dir() -> None:
    env = _env()
    assert env["SAGEMAKER_BASE_DIR"] == str(BASE)
    assert env["SM_MODEL_DIR"] == str(BASE / "model")
    assert env["SM_INPUT_DIR"] == str(BASE / "input")
    assert env["SM_INPUT_CONFIG_DIR"] == str(BASE / "input/config")
    assert env["SM_OUTPUT_DIR"] == str(BASE / "output")
    assert env["SM_OUTPUT_DATA_DIR"] == str(BASE / "output/data")
    assert env["SM_OUTPUT_INTERMEDIATE_DIR"] == str(BASE / "output/intermediate")
    assert env["SM_CHECKPOINT_DIR"] == str(BASE / "checkpoints")


def test_channels_are_a_sorted_json_list_and_one_variable_each() -> None:
    env = _env()
    assert env["SM_CHANNELS"] == '["test","train"]'
    assert env["SM_CHANNEL_TRAIN"] == str(BASE / "input/data/train")
    assert env["SM_CHANNEL_TEST"] == str(BASE / "input/data/test")


def test_hyperparameters_are_json_decoded_as_the_toolkit_does() -> None:
    env = _env()
    assert json.loads(env["SM_HPS"]) == {"epochs": 10, "lr": 0.1, "optimizer": "adam"}
    assert env["SM_HPS"] == '{"epochs":10,"lr":0.1,"optimizer":"adam"}'
    assert env["SM_HP_EPOCHS"] == "10"
    assert env["SM_HP_LR"] == "0.1"
    assert env["SM_HP_OPTIMIZER"] == "adam"
    assert json.loads(env["SM_USER_ARGS"]) == ["--epochs", "10", "--lr", "0.1", "--optimizer", "adam"]
    # SDK-internal hyperparameters are framework parameters, not user ones.
    assert "SM_HP_SAGEMAKER_PROGRAM" not in env
    assert json.loads(env["SM_FRAMEWORK_PARAMS"]) == {"sagemaker_program": "train.py"}
    assert env["SM_USER_ENTRY_POINT"] == "train.py"
    assert env["SM_MODULE_NAME"] == "train"


def test_host_and_resource_variables_describe_one_local_host() -> None:
    env = _env()
    assert env["SM_CURRENT_HOST"] == "algo-1"
    assert env["SM_HOSTS"] == '["algo-1"]'
    assert env["SM_CURRENT_INSTANCE_TYPE"] == "ml.m5.large"
    assert int(env["SM_NUM_CPUS"]) >= 1
    assert int(env["SM_NUM_GPUS"]) >= 0
    resource = json.loads(env["SM_RESOURCE_CONFIG"])
    assert resource["current_host"] == "algo-1"
    assert resource["hosts"] == ["algo-1"]
    data_config = json.loads(env["SM_INPUT_DATA_CONFIG"])
    assert data_config["train"]["ContentType"] == "text/csv"
    assert data_config["test"]["TrainingInputMode"] == "File"


def test_training_env_holds_everything_as_one_json_document() -> None:
    training_env = json.loads(_env()["SM_TRAINING_ENV"])
    assert training_env["job_name"] == "digits"
    assert training_env["hyperparameters"]["epochs"] == 10
    assert training_env["channel_input_dirs"]["train"] == str(BASE / "input/data/train")
    assert training_env["model_dir"] == str(BASE / "model")


def test_precedence_is_server_then_request_then_sagemaker_variables() -> None:
    spec = _spec(environment={"SHARED": "request", "SM_MODEL_DIR": "/elsewhere", "TRAINING_JOB_NAME": "x"})
    env = _env(spec, base_env={"PATH": "/usr/bin", "TZ": "UTC", "SM_CHANNEL_STALE": "/old"})
    assert env["PATH"] == "/usr/bin"
    assert env["SHARED"] == "request"
    assert env["SM_MODEL_DIR"] == str(BASE / "model")
    assert env["TRAINING_JOB_NAME"] == "digits"
    assert env["TRAINING_JOB_ARN"] == ARN
    assert "SM_CHANNEL_STALE" not in env


def test_checkpoint_local_path_under_opt_ml_is_mapped_into_the_base_dir() -> None:
    assert _env(_spec(checkpoint_local_path="/opt/ml/checkpoints/run"))["SM_CHECKPOINT_DIR"] == str(
        BASE / "checkpoints/run"
    )


@pytest.mark.parametrize(
    "local_path",
    [
        "/scratch/ckpt",
        "/opt/mlx",
        "/opt/ml",
        "/opt/ml/../../etc",
        "checkpoints",
        "../x",
        "/opt/ml/model",
        "/opt/ml/input/data",
    ],
)
def test_a_checkpoint_local_path_outside_the_jobs_own_part_of_the_tree_is_refused(local_path: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        _env(_spec(checkpoint_local_path=local_path))
    assert caught.value.field == "checkpoint_local_path"


def test_the_server_environment_is_not_passed_on_beyond_the_allow_list() -> None:
    base = {"PATH": "/usr/bin", "HOME": "/home/u", "LC_ALL": "C.UTF-8", "AWS_SECRET_ACCESS_KEY": "s"}
    env = _env(base_env={**base, "TRAINPLANE_DATABASE_URL": "postgresql://u:pw@db/x", "SECRET": "x"})
    assert {key: env[key] for key in base if key in env} == {
        k: v for k, v in base.items() if k != "AWS_SECRET_ACCESS_KEY"
    }
    assert "TRAINPLANE_DATABASE_URL" not in env and "SECRET" not in env


def test_the_largest_valid_hyperparameters_keep_every_variable_under_the_kernel_limits() -> None:
    hyperparameters = {f"hp_{index:03d}": "x" * 2500 for index in range(100)}
    env = _env(_spec(hyperparameters=hyperparameters))
    sizes = [len(key) + len(value) + 2 for key, value in env.items()]
    assert max(sizes) < 128 * 1024 and sum(sizes) < 1024 * 1024
    assert env["SM_HP_HP_042"] == "x" * 2500
    assert set(env["TRAINPLANE_OMITTED_ENV"].split(",")) >= {"SM_HPS", "SM_TRAINING_ENV"}


def test_small_hyperparameters_keep_every_toolkit_variable() -> None:
    env = _env()
    assert "TRAINPLANE_OMITTED_ENV" not in env and json.loads(env["SM_HPS"])["epochs"] == 10


def test_every_value_is_a_string() -> None:
    assert all(isinstance(value, str) for value in _env().values())


def test_a_hyperparameter_no_variable_name_can_hold_is_left_out_and_named() -> None:
    """SageMaker accepts the key `a=b`; SM_HP_A=B is no variable name (exec refused the whole job)."""
    env = _env(_spec(hyperparameters={"a=b": "1", "lr": "0.1"}))
    assert "SM_HP_A=B" not in env and env["SM_HP_LR"] == "0.1"
    assert env["TRAINPLANE_OMITTED_ENV"] == "SM_HP_A=B"
    assert json.loads(env["SM_HPS"])["a=b"] == 1
