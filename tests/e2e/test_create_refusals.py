"""Requests SageMaker refuses at create are refused here too, naming the wire field (issue 6), and the
core's neutral field names reach boto3 as SageMaker's own paths (issue 5)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError


def _refusal(sm: Any, request: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(**request)
    error = caught.value.response["Error"]
    with pytest.raises(ClientError):  # nothing was created under that name
        sm.describe_training_job(TrainingJobName=request["TrainingJobName"])
    return error["Code"], error["Message"]


def test_duplicate_tag_keys_are_refused(sm: Any, job_request: Callable[..., dict[str, Any]]) -> None:
    tags = [{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}]
    code, message = _refusal(sm, job_request(Tags=tags))
    assert code == "ValidationException"
    assert message.startswith("tags.2.member.key: duplicate tag keys")


def test_aws_prefixed_tag_keys_are_refused(sm: Any, job_request: Callable[..., dict[str, Any]]) -> None:
    code, message = _refusal(sm, job_request(Tags=[{"Key": "aws:cloudformation:stack", "Value": "x"}]))
    assert code == "ValidationException"
    assert message.startswith("tags.1.member.key: tag keys starting with 'aws:' are reserved")
    arn = sm.create_training_job(**job_request(Tags=[{"Key": "ok", "Value": "1"}]))["TrainingJobArn"]
    with pytest.raises(ClientError, match="reserved for AWS use"):
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "AWS:x", "Value": "y"}])


def test_duplicate_channel_names_are_refused_with_the_wire_path(
    sm: Any, job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    channel = {
        "ChannelName": "train",
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": str(data)}},
    }
    code, message = _refusal(sm, job_request(InputDataConfig=[channel, channel]))
    assert code == "ValidationException"
    assert message == "inputDataConfig.2.member.channelName: channel 'train' is named twice"


def test_the_cores_neutral_fields_reach_the_client_as_sagemaker_paths(
    sm: Any, job_request: Callable[..., dict[str, Any]]
) -> None:
    code, message = _refusal(sm, job_request(OutputDataConfig={"S3OutputPath": "s3://bucket/out"}))
    assert code == "ValidationException"
    assert message.startswith("outputDataConfig.s3OutputPath: s3:// URIs are not supported")
    request = job_request()
    request["AlgorithmSpecification"]["TrainingImage"] = "nobody/knows:1"
    code, message = _refusal(sm, request)
    assert message.startswith("algorithmSpecification.trainingImage: image 'nobody/knows:1'")


def test_the_grace_tag_cannot_be_changed_after_create(
    sm: Any, job_request: Callable[..., dict[str, Any]]
) -> None:
    grace = [{"Key": "trainplane:stop-grace-seconds", "Value": "300"}]
    arn = sm.create_training_job(**job_request(Tags=grace))["TrainingJobArn"]
    with pytest.raises(ClientError) as caught:
        sm.add_tags(ResourceArn=arn, Tags=[{"Key": "trainplane:stop-grace-seconds", "Value": "5"}])
    assert caught.value.response["Error"]["Message"].startswith(
        "tags: tag trainplane:stop-grace-seconds is read once, when the job is created"
    )
    assert sm.list_tags(ResourceArn=arn)["Tags"] == grace


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"Environment": {"A": "x\x00y"}}, "environment"),
        ({"HyperParameters": {"lr": "0.1\x00"}}, "hyperParameters"),
    ],
)
def test_a_nul_no_process_can_carry_is_refused_at_create(
    sm: Any, job_request: Callable[..., dict[str, Any]], changes: dict[str, Any], field: str
) -> None:
    """It used to be accepted, then fail as 'AlgorithmError: ... could not start: embedded null byte'."""
    code, message = _refusal(sm, job_request(**changes))
    assert code == "ValidationException"
    assert message.startswith(f"{field}: contains a NUL character")


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (0, "resourceConfig.instanceCount: instance count 0 must be at least 1"),
        (
            2,
            "resourceConfig.instanceCount: instance count 2 needs an executor that runs a job on "
            "several hosts",
        ),
    ],
)
def test_an_instance_count_this_server_cannot_run_is_refused_naming_the_field(
    sm: Any, job_request: Callable[..., dict[str, Any]], count: int, expected: str
) -> None:
    resources = {"InstanceType": "ml.m5.large", "InstanceCount": count, "VolumeSizeInGB": 1}
    code, message = _refusal(sm, job_request(ResourceConfig=resources))
    assert code == "ValidationException"
    assert message.startswith(expected)
    if count > 1:  # and it says where several instances can run
        assert "docs/slurm.md" in message
