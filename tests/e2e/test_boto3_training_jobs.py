"""Unmodified boto3 against a real `trainplane serve`: the whole life of a training job."""

from __future__ import annotations

import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import wait_for_first_loss
from tests.support.waiting import wait_until


def _status(sm: Any, name: str) -> str:
    return sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]


def _markers(directory: Path, prefix: str) -> list[Path]:
    return sorted(directory.glob(f"{prefix}-*")) if directory.exists() else []


def test_stopped_job_leaves_the_model_it_saved_in_the_grace_window(
    sm: Any, job_request: Any, tmp_path: Path
) -> None:
    request = job_request()
    name = request["TrainingJobName"]
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    assert arn.endswith(f":training-job/{name}")
    wait_until(lambda: _markers(tmp_path / "markers", "started"), 20, message="job started")
    assert sm.describe_training_job(TrainingJobName=name)["SecondaryStatus"] == "Training"
    wait_for_first_loss(sm, name)

    sm.stop_training_job(TrainingJobName=name)
    assert _status(sm, name) in ("Stopping", "Stopped")
    wait_until(lambda: _status(sm, name) == "Stopped", 20, message="Stopped")

    job = sm.describe_training_job(TrainingJobName=name)
    assert job["SecondaryStatus"] == "Stopped"
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses[0] == "Starting" and statuses[-2:] == ["Stopping", "Stopped"]
    assert all("EndTime" in t for t in job["SecondaryStatusTransitions"][:-1])
    assert job["TrainingStartTime"] <= job["TrainingEndTime"]
    assert job["BillableTimeInSeconds"] >= 1
    model = Path(job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("file://"))
    assert model == tmp_path / "output" / name / "output" / "model.tar.gz"
    with tarfile.open(model) as archive:
        assert "model.json" in archive.getnames()
    assert _markers(tmp_path / "markers", "sigterm"), "the job's SIGTERM handler ran"
    assert job["FinalMetricDataList"][0]["MetricName"] == "loss"


def test_completed_job_is_completed_with_model_and_metrics(sm: Any, job_request: Any) -> None:
    request = job_request(Environment={**job_request()["Environment"], "EXIT_AFTER_STEPS": "3"})
    sm.create_training_job(**request)
    waiter = sm.get_waiter("training_job_completed_or_stopped")
    waiter.wait(TrainingJobName=request["TrainingJobName"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    job = sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Completed", "Completed")
    assert [t["Status"] for t in job["SecondaryStatusTransitions"]][-2:] == ["Uploading", "Completed"]
    assert job["FinalMetricDataList"][0]["Value"] == pytest.approx(1 / 3, abs=1e-3)


def test_failed_job_reports_exit_code_as_failure_reason(sm: Any, job_request: Any) -> None:
    env = {**job_request()["Environment"], "EXIT_AFTER_STEPS": "1", "EXIT_CODE": "3"}
    request = job_request(Environment=env)
    sm.create_training_job(**request)
    waiter = sm.get_waiter("training_job_completed_or_stopped")
    with pytest.raises(Exception, match="Failed"):
        waiter.wait(TrainingJobName=request["TrainingJobName"], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    job = sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
    assert job["TrainingJobStatus"] == "Failed"
    assert "3" in job["FailureReason"]


def test_waiter_fails_fast_for_an_unknown_job(sm: Any) -> None:
    waiter = sm.get_waiter("training_job_completed_or_stopped")
    started = time.monotonic()
    with pytest.raises(Exception, match=r"terminal failure state.*ValidationException"):
        waiter.wait(TrainingJobName="never-created", WaiterConfig={"Delay": 5, "MaxAttempts": 3})
    assert time.monotonic() - started < 4, "the first answer ends the wait; no retry delay"


def test_describe_unknown_job_is_a_validation_exception(sm: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sm.describe_training_job(TrainingJobName="no-such-job")
    error = caught.value.response["Error"]
    assert (error["Code"], error["Message"]) == ("ValidationException", "Requested resource not found.")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_stop_unknown_job_is_resource_not_found(sm: Any) -> None:
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.stop_training_job(TrainingJobName="no-such-job")


def test_stop_finished_job_is_rejected_like_sagemaker(sm: Any, job_request: Any) -> None:
    request = job_request()
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: _status(sm, name) == "Stopped", 20)
    with pytest.raises(ClientError) as caught:
        sm.stop_training_job(TrainingJobName=name)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert caught.value.response["Error"]["Message"] == (
        "The request was rejected because the training job is in status Stopped."
    )


def test_duplicate_name_is_resource_in_use_until_deleted(sm: Any, job_request: Any) -> None:
    request = job_request()
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    with pytest.raises(sm.exceptions.ResourceInUse) as caught:
        sm.create_training_job(**request)
    assert f"training-job/{name}" in caught.value.response["Error"]["Message"]
    with pytest.raises(sm.exceptions.ResourceInUse):
        sm.delete_training_job(TrainingJobName=name)  # still running
    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: _status(sm, name) == "Stopped", 20)
    sm.delete_training_job(TrainingJobName=name)
    with pytest.raises(ClientError):
        sm.describe_training_job(TrainingJobName=name)
    sm.create_training_job(**request)  # the name is free again
    sm.stop_training_job(TrainingJobName=name)


def test_invalid_name_gets_aws_validation_message(sm: Any, job_request: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**job_request(name="bad_name"))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"].startswith("1 validation error detected: Value 'bad_name' at 'trainingJobName'")
    assert "regular expression pattern" in error["Message"]


def test_unknown_image_names_the_setting(sm: Any, job_request: Any) -> None:
    request = job_request()
    request["AlgorithmSpecification"]["TrainingImage"] = "123.dkr.ecr.us-east-1.amazonaws.com/x:1"
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**request)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "TRAINPLANE_IMAGES" in caught.value.response["Error"]["Message"]


def test_s3_output_is_rejected_clearly(sm: Any, job_request: Any) -> None:
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**job_request(OutputDataConfig={"S3OutputPath": "s3://bucket/out"}))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "s3://" in caught.value.response["Error"]["Message"]


def test_list_paginates_filters_and_sorts(sm: Any, job_request: Any) -> None:
    prefix = f"lst{int(time.time() * 1000) % 100000}"
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        sm.create_training_job(**job_request(name=name))
    paginator = sm.get_paginator("list_training_jobs")
    pages = list(paginator.paginate(NameContains=prefix, PaginationConfig={"PageSize": 2}))
    assert len(pages) == 3
    listed = [s["TrainingJobName"] for p in pages for s in p["TrainingJobSummaries"]]
    assert listed == names
    descending = sm.list_training_jobs(NameContains=prefix, SortBy="Name", SortOrder="Descending")
    assert [s["TrainingJobName"] for s in descending["TrainingJobSummaries"]] == names[::-1]
    for name in names:
        sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: all(_status(sm, n) == "Stopped" for n in names), 30)
    stopped = sm.list_training_jobs(NameContains=prefix, StatusEquals="Stopped")["TrainingJobSummaries"]
    assert len(stopped) == 5 and all(s["SecondaryStatus"] == "Stopped" for s in stopped)


def test_tags_add_list_delete_by_arn(sm: Any, job_request: Any) -> None:
    request = job_request(Tags=[{"Key": "team", "Value": "vision"}])
    arn = sm.create_training_job(**request)["TrainingJobArn"]
    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "owner", "Value": "ana"}])
    tags = {t["Key"]: t["Value"] for t in sm.list_tags(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "vision", "owner": "ana"}
    sm.delete_tags(ResourceArn=arn, TagKeys=["team"])
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "owner", "Value": "ana"}]
    sm.stop_training_job(TrainingJobName=request["TrainingJobName"])
