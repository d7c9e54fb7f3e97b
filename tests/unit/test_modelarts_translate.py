"""A version's config in trainplane's terms and back: what runs (custom image or boot file on an
engine), where its outputs go, what a later version inherits, and the version object of any run."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

import pytest

from trainplane.api.modelarts import catalog, shapes, translate
from trainplane.domain import errors, images
from trainplane.domain.job import Channel, Job, JobSpec, new_job
from trainplane.domain.status import JobKind

AT = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
RULES = images.parse_rules(
    {"trainplane/python": {}, "trainplane/python:*": {}, "conda:py3": {"command": ["/opt/conda/bin/python"]}}
)
SPEC_ID = catalog.spec_id_of("ml.g4dn.xlarge")


def raw(**changes: object) -> dict[str, object]:
    config: dict[str, object] = {
        "worker_server_num": 1,
        "spec_id": SPEC_ID,
        "train_url": "file:///tmp/runs/a/",
        "data_url": "/tmp/data",
        "log_url": "/tmp/logs",
        "user_image_url": "trainplane/python",
        "user_command": "python train.py --fast",
        "parameter": [{"label": "epochs", "value": "3"}],
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


def request(config: dict[str, object]) -> translate.NewJob:
    return translate.new_version(
        shapes.config(config), config, name="a-v1", group_id=7, job_desc="d", job_name="a", rules=RULES
    )


def test_a_custom_image_runs_its_command_in_a_shell_with_parameters_as_environment() -> None:
    made = request(raw())
    assert made.image == "trainplane/python"
    assert tuple(made.entrypoint) == ("/bin/sh", "-c", "python train.py --fast")
    assert made.environment == {"epochs": "3"} and made.hyperparameters == {"epochs": "3"}
    assert made.output_uri == "file:///tmp/runs/a"
    assert made.checkpoint_uri == "file:///tmp/runs/a/checkpoints"  # durable: the next version resumes
    assert made.channels == (Channel("data", "/tmp/data"),)
    assert (made.instance_type, made.group_id, made.dialect) == ("ml.g4dn.xlarge", 7, "modelarts")
    assert made.request["config"] == raw()


def test_a_boot_file_runs_on_its_engine_with_parameters_as_arguments() -> None:
    boot = raw(user_image_url=None, user_command=None, boot_file_url="file:///code/train.py")
    made = request(boot)
    assert (made.image, tuple(made.entrypoint)) == ("trainplane/python", ("python", "/code/train.py"))
    assert tuple(made.arguments) == ("--epochs=3",) and made.environment == {}
    on_conda = request({**boot, "engine_id": 2})
    assert (on_conda.image, tuple(on_conda.entrypoint)) == ("conda:py3", ("/code/train.py",))


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"log_url": "logs/here"}, "config.log_url"),
        ({"user_image_url": None, "user_command": None, "boot_file_url": "train.py"}, "config.boot_file_url"),
        (
            {"user_image_url": None, "user_command": None, "boot_file_url": "/t.py", "engine_id": 9},
            "config.engine_id",
        ),
        ({"spec_id": 12345}, "config.spec_id"),
    ],
)
def test_what_cannot_run_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        request(raw(**changes))
    assert caught.value.field == field


def job(request: dict[str, object], dialect: str = "modelarts", **spec_changes: object) -> Job:
    spec = JobSpec(
        image="trainplane/python",
        command=("python", "/code/train.py", "--x=a b"),
        environment={},
        hyperparameters={"lr": "0.1"},
        channels=(Channel("training", "file:///tmp/d"),),
        output_uri="file:///tmp/out",
        instance_type="ml.m5.large",
    )
    made = new_job(
        job_id="id-1",
        tenant="t",
        kind=JobKind.TRAINING,
        name="a-v1",
        arn="arn",
        at=AT,
        spec=dataclasses.replace(spec, **spec_changes),
        request=request,
        dialect=dialect,  # type: ignore[arg-type]
    )
    return dataclasses.replace(made, group_id=7, run_number=3, started_at=AT + timedelta(seconds=1))


def test_a_later_version_inherits_a_modelarts_config_but_not_another_dialects() -> None:
    previous = job({"config": {**raw(), "pre_version_id": 1}})
    merged = translate.merged_config(previous, {"parameter": [], "pre_version_id": 3})
    assert merged == {**raw(), "parameter": [], "pre_version_id": 3}
    from_sagemaker = job({"TrainingJobName": "a"}, dialect="sagemaker")
    assert translate.merged_config(from_sagemaker, {"spec_id": 1}) == {"spec_id": 1}


def test_the_version_object_of_a_sagemaker_job_shows_its_spec() -> None:
    version = translate.version(
        job({"TrainingJobName": "a"}, dialect="sagemaker"), AT + timedelta(seconds=3), RULES
    )
    assert (version["version_id"], version["version_name"], version["status"]) == (3, "V0003", 7)
    assert version["user_image_url"] == "trainplane/python"
    assert version["user_command"] == "python /code/train.py '--x=a b'"
    assert (version["engine_id"], version["engine_name"], version["engine_version"]) == (
        1,
        "trainplane/python",
        "latest",
    )
    assert (version["train_url"], version["data_url"]) == ("file:///tmp/out", "file:///tmp/d")
    assert (version["spec_code"], version["core"], version["cpu"], version["gpu"]) == (
        "ml.m5.large",
        "2",
        "8GiB",
        False,
    )
    assert version["parameter"] == [{"label": "lr", "value": "0.1"}]
    assert (version["create_time"], version["start_time"], version["duration"]) == (
        int(AT.timestamp() * 1000),
        int(AT.timestamp() * 1000) + 1000,
        2000,
    )
    assert isinstance(version["system_metric_list"], dict)
    listed = translate.version(job({}), AT, RULES, is_listed=True)
    assert json.loads(listed["system_metric_list"])["interval"] == 1  # a JSON string in lists (§1.4)


def test_the_version_object_of_a_custom_image_names_no_engine() -> None:
    version = translate.version(job({"config": raw()}), AT, RULES)
    assert version["engine_id"] is None and version["user_command"] == "python train.py --fast"
    assert (version["train_url"], version["log_url"]) == ("file:///tmp/runs/a/", "/tmp/logs")
