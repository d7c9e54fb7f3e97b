"""Names, ARNs, the image map and the job codec."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trainplane.domain import documents, errors, images, names
from trainplane.domain.job import (
    Channel,
    ExecutorHandle,
    JobSpec,
    Metric,
    MetricDefinition,
    Outcome,
    StopIntent,
    StopReport,
    check_aware,
    new_job,
)
from trainplane.domain.status import JobKind, StopReason
from trainplane.domain.transitions import Event

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("name", ["a", "job-1", "A--b", "x" * 63])
def test_valid_job_names(name: str) -> None:
    assert names.is_valid_job_name(name)


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "x" * 64, "a.b"])
def test_invalid_job_names(name: str) -> None:
    assert not names.is_valid_job_name(name)


def test_arn_round_trip_lower_cases_the_name() -> None:
    arn = names.job_arn("training", "My-Job", region="eu-west-1", account="123456789012")
    assert arn == "arn:aws:sagemaker:eu-west-1:123456789012:training-job/my-job"
    assert names.parse_job_arn(arn) == ("training", "my-job")
    assert names.parse_job_arn("arn:aws:sagemaker:eu-west-1:123456789012:endpoint/x") is None
    assert names.parse_job_arn("not-an-arn") is None


def test_image_exact_match_wins_over_glob() -> None:
    rules = images.parse_rules(
        {"repo/*": {"command": ["glob"]}, "repo/exact": {"command": ["exact"], "environment": {"A": "1"}}}
    )
    assert images.resolve(rules, "repo/exact").command == ("exact",)
    assert images.resolve(rules, "repo/other").command == ("glob",)


def test_unknown_image_names_the_setting() -> None:
    with pytest.raises(errors.Invalid) as caught:
        images.resolve([], "nvcr.io/pytorch:24")
    assert images.IMAGES_SETTING in caught.value.message
    assert caught.value.field == "image"


@pytest.mark.parametrize(
    "bad", [{"x": {"command": "python"}}, {"x": {"environment": {"A": 1}}}, {"x": {"command": [1]}}]
)
def test_malformed_image_rules_are_rejected(bad: dict) -> None:
    with pytest.raises(errors.Invalid):
        images.parse_rules(bad)


def test_entrypoint_appends_to_or_replaces_the_runtime_command() -> None:
    appended = images.Runtime(command=("python", "-u"))
    replaced = images.Runtime(command=("python",), entrypoint_replaces_command=True)
    assert images.build_command(appended, ["train.py"], ["--x"]) == ("python", "-u", "train.py", "--x")
    assert images.build_command(replaced, ["bash", "t.sh"], []) == ("bash", "t.sh")
    assert images.build_command(replaced, [], ["a"]) == ("python", "a")


def test_check_aware_rejects_naive() -> None:
    assert check_aware(T0) is T0
    with pytest.raises(ValueError):
        check_aware(datetime(2026, 1, 1))


def test_job_codec_round_trips_every_field() -> None:
    spec = JobSpec(
        image="trainplane/python",
        command=("python", "t.py"),
        environment={"A": "1"},
        hyperparameters={"epochs": "3"},
        channels=(Channel("train", "file:///data", "text/csv"),),
        output_uri="file:///out",
        checkpoint_uri="file:///ckpt",
        checkpoint_local_path="/opt/ml/checkpoints",
        max_runtime_seconds=60,
        grace_seconds=5.0,
        signal_policy="main",
        metric_definitions=(MetricDefinition("acc", "acc=([0-9.]+)"),),
    )
    job = new_job(
        job_id="i",
        tenant="t",
        kind=JobKind.TRAINING,
        name="n",
        arn="a",
        spec=spec,
        request={"TrainingJobName": "n"},
        dialect="sagemaker",
        at=T0,
    )
    job = job.advance(Event.STOP_REQUESTED, T0, "stop").with_stop(StopIntent(T0, T0, StopReason.USER, 5.0))
    job = job.touched(
        handle=ExecutorHandle("local", {"run_dir": "/r"}),
        outcome=Outcome(
            exit_code=0,
            model_uri="file:///m",
            metrics=(Metric("acc", 0.9, T0),),
            stop_report=StopReport(term_sent_at=T0, term_pids=2, survivors=(7,)),
        ),
    )
    assert documents.job_from_dict(documents.job_to_dict(job)) == job


def test_a_failure_stored_by_an_older_version_as_prefixed_text_decodes_to_its_kind() -> None:
    from trainplane.domain.documents import failure_from_dict, failure_to_dict
    from trainplane.domain.job import Failure, FailureKind

    assert failure_from_dict(None, "ClientError: bad input") == Failure(FailureKind.USER, "bad input")
    assert failure_from_dict(None, "InternalServerError: x") == Failure(FailureKind.PLATFORM, "x")
    assert failure_from_dict(None, "loss is NaN") == Failure(FailureKind.ALGORITHM, "loss is NaN")
    assert failure_from_dict(None, None) is None
    failure = Failure(FailureKind.USER, "m")
    assert failure_from_dict(failure_to_dict(failure)) == failure
