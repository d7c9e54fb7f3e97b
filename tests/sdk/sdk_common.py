"""What the SDK scripts here share. Each script runs in its SDK's own environment, with this directory first
on sys.path (it is the script's own), so they import it by name."""

from __future__ import annotations

import io
import json
import tarfile
import time
from typing import Any

import boto3

ROLE_ARN = "arn:aws:iam::123456789012:role/trainplane-test"


def model_json(uri: str) -> dict[str, object]:
    """model.json inside the model.tar.gz at an s3:// URI (the S3 endpoint from AWS_ENDPOINT_URL_S3)."""
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        loaded: dict[str, object] = json.loads(member.read())
        return loaded


def wait_for_training(job: Any, deadline: float) -> None:
    """Refresh a sagemaker-core TrainingJob until it has reached Training (before `deadline`, monotonic)."""
    while "Training" not in [t.status for t in (job.secondary_status_transitions or [])]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
        job.refresh()
