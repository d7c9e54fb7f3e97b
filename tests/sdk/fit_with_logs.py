"""`Estimator.fit()` with its defaults (wait, logs="All"), as most SDK users call it; its output is the test.

Runs in .venv-sdk with AWS_ENDPOINT_URL_CLOUDWATCH_LOGS pointing at trainplane; argv: ENDPOINT_URL
JOB_NAME OUTPUT_PATH JOB_SCRIPT MARKER_DIR.
"""

from __future__ import annotations

import sys

import boto3
import sagemaker
from sagemaker.estimator import Estimator


def main(endpoint_url: str, job_name: str, output_path: str, job_script: str, marker_dir: str) -> None:
    client = boto3.client("sagemaker", endpoint_url=endpoint_url)
    session = sagemaker.Session(sagemaker_client=client, default_bucket="unused")
    estimator = Estimator(
        image_uri="trainplane/python",
        role="arn:aws:iam::123456789012:role/trainplane-test",
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=output_path,
        sagemaker_session=session,
        container_entry_point=["python", job_script],
        environment={"TEST_MARKER_DIR": marker_dir, "EXIT_AFTER_STEPS": "5"},
    )
    estimator.fit(job_name=job_name)
    print(f"MODEL {estimator.model_data}")


if __name__ == "__main__":
    main(*sys.argv[1:6])
