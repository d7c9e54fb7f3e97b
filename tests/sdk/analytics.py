"""`estimator.training_job_analytics.dataframe()` after `fit()`, with the SDK configured by environment
variables alone (AWS_ENDPOINT_URL_SAGEMAKER, ..._CLOUDWATCH, ..._CLOUDWATCH_LOGS); prints the rows as JSON.

Runs in .venv-sdk; argv: JOB_NAME OUTPUT_PATH JOB_SCRIPT MARKER_DIR.
"""

from __future__ import annotations

import json
import sys

import sagemaker
from sagemaker.estimator import Estimator


def main(job_name: str, output_path: str, job_script: str, marker_dir: str) -> None:
    session = sagemaker.Session(default_bucket="unused")
    estimator = Estimator(
        image_uri="trainplane/python",
        role="arn:aws:iam::123456789012:role/trainplane-test",
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=output_path,
        sagemaker_session=session,
        container_entry_point=["python", job_script],
        environment={"TEST_MARKER_DIR": marker_dir, "EXIT_AFTER_STEPS": "20"},
        metric_definitions=[
            {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
            {"Name": "step", "Regex": r"step=(\d+)"},
        ],
    )
    estimator.fit(job_name=job_name, logs="None")
    frame = estimator.training_job_analytics.dataframe()
    print(json.dumps(frame.to_dict(orient="records"), default=str))


if __name__ == "__main__":
    main(*sys.argv[1:5])
