"""Script mode with the SDK 2.x, as a user runs it: an `SKLearn` estimator with `entry_point` and
`source_dir` on S3 (moto's S3 server standing in), configured by environment variables alone.

Job 1: `fit()` with its default logs, then `model_data` and `training_job_analytics.dataframe()`.
Job 2: `fit(wait=False)`, `model_data` while running, stop mid-run, wait, `attach`: the model saved on
SIGTERM is in `model_data`. Prints one JSON object last. Runs in .venv-sdk; argv: BUCKET JOB_PREFIX.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import sagemaker
from sagemaker.estimator import Estimator
from sagemaker.sklearn import SKLearn
from sdk_common import ROLE_ARN, model_json

SOURCE = Path(__file__).with_name("source")


def estimator(session: sagemaker.Session, bucket: str, **hyperparameters: int) -> SKLearn:
    return SKLearn(
        entry_point="train.py",
        source_dir=str(SOURCE),
        framework_version="1.2-1",
        instance_type="ml.m5.large",
        instance_count=1,
        role=ROLE_ARN,
        output_path=f"s3://{bucket}/output",
        sagemaker_session=session,
        hyperparameters=hyperparameters,
        metric_definitions=[{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
    )


def main(bucket: str, prefix: str) -> None:
    session = sagemaker.Session(default_bucket=bucket)
    seen: dict[str, object] = {}
    first = estimator(session, bucket, epochs=5)
    first.fit(job_name=f"{prefix}-fit")  # logs="All": the job's output is printed here
    seen["image_uri"] = first.training_image_uri()
    seen["fit_model_data"] = first.model_data
    seen["fit_model"] = model_json(first.model_data)
    frame = first.training_job_analytics.dataframe()
    seen["analytics_metrics"] = sorted(set(frame["metric_name"]))
    second = estimator(session, bucket, until_stopped=1)
    second.fit(job_name=f"{prefix}-stop", wait=False)
    seen["model_data_while_running"] = second.model_data
    client = session.sagemaker_client
    logs = session.boto_session.client("logs")  # AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: trainplane
    deadline = time.monotonic() + 60
    while not logs.filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs",
        logStreamNamePrefix=f"{prefix}-stop/",
        filterPattern="epoch=",
    )["events"]:  # the entry point runs (the toolkit has downloaded and started it)
        assert time.monotonic() < deadline, "the entry point never started"
        time.sleep(0.1)
    second.latest_training_job.stop()  # SIGTERM to the toolkit and the entry point; the grace window
    second.latest_training_job.wait(logs="None")
    attached = Estimator.attach(f"{prefix}-stop", sagemaker_session=session)  # blocks while a job runs
    seen["stopped_status"] = client.describe_training_job(TrainingJobName=f"{prefix}-stop")[
        "TrainingJobStatus"
    ]
    seen["stopped_model"] = model_json(attached.model_data)
    seen["attached_model_data"] = attached.model_data
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:3])
