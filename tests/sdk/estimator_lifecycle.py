"""Drive one training job with the SageMaker Python SDK 2.x, as a user would; print what it saw as JSON.

Runs in .venv-sdk (the SDK's own environment), started by tests/e2e/test_sagemaker_sdk.py with
argv: ENDPOINT_URL JOB_NAME OUTPUT_PATH JOB_SCRIPT MARKER_DIR.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import boto3
import sagemaker
from sagemaker.estimator import Estimator
from sdk_common import ROLE_ARN


def main(endpoint_url: str, job_name: str, output_path: str, job_script: str, marker_dir: str) -> None:
    credentials = {
        "region_name": "us-east-1",
        "aws_access_key_id": "AKIDEXAMPLE",
        "aws_secret_access_key": "x",
    }
    client = boto3.client("sagemaker", endpoint_url=endpoint_url, **credentials)
    session = sagemaker.Session(
        boto_session=boto3.Session(**credentials), sagemaker_client=client, default_bucket="unused"
    )
    estimator = Estimator(
        image_uri="trainplane/python",
        role=ROLE_ARN,
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=output_path,
        sagemaker_session=session,
        container_entry_point=["python", job_script],
        environment={"TEST_MARKER_DIR": marker_dir},
        metric_definitions=[{"Name": "loss", "Regex": "loss=([0-9.]+)"}],
    )
    estimator.fit(wait=False, job_name=job_name)
    deadline = time.monotonic() + 30
    while not list(Path(marker_dir).glob("started-*")):
        if time.monotonic() > deadline:
            raise SystemExit("the job did not start within 30 s")
        time.sleep(0.05)
    seen = {"model_data_while_running": estimator.model_data}
    estimator.latest_training_job.stop()
    estimator.latest_training_job.wait(logs="None")
    attached = Estimator.attach(job_name, sagemaker_session=session)
    seen.update(
        status=session.describe_training_job(job_name)["TrainingJobStatus"],
        model_data_after=estimator.model_data,
        attached_model_data=attached.model_data,
        attached_output_path=attached.output_path,
        attached_instance_type=attached.instance_type,
        attached_role=attached.role,
    )
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:6])
