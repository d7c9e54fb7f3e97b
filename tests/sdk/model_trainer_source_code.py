"""SDK 3.x `ModelTrainer` with `SourceCode`, as a user runs it: the SDK uploads the source dir and its own
container drivers as channels, and the job runs `/opt/ml/input/data/sm_drivers/sm_train.sh`, whose
drivers read `/opt/ml/...` throughout (the job's private /opt/ml). Job 1 trains 3 epochs with logs;
job 2 trains until stopped, is stopped mid-run and keeps what it saved. Prints one JSON object last.
Runs in .venv-sdk3; argv: IMAGE OUTPUT_S3_URI JOB_PREFIX."""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig, SourceCode, StoppingCondition
from sdk_common import ROLE_ARN, model_json, wait_for_training

SOURCE = Path(__file__).with_name("source")


def job_lines(job_name: str) -> list[str]:
    """The job's output so far, through CloudWatch Logs (AWS_ENDPOINT_URL_CLOUDWATCH_LOGS)."""
    logs = boto3.client("logs")
    group = "/aws/sagemaker/TrainingJobs"
    streams = logs.describe_log_streams(logGroupName=group, logStreamNamePrefix=f"{job_name}/")["logStreams"]
    return [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(
            logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
        )["events"]
    ]


def trainer(image: str, output: str, prefix: str, **hyperparameters: int) -> ModelTrainer:
    return ModelTrainer(
        training_image=image,
        role=ROLE_ARN,
        base_job_name=prefix,
        source_code=SourceCode(source_dir=str(SOURCE), entry_script="train.py"),
        hyperparameters=hyperparameters,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=output),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        sagemaker_session=Session(default_bucket=output.removeprefix("s3://").split("/")[0]),
    )


def main(image: str, output: str, prefix: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)  # sagemaker-core logs job lines at INFO
    first = trainer(image, output, f"{prefix}-a", epochs=3)
    first.train(wait=True, logs=True)
    job = first._latest_training_job
    seen: dict[str, object] = {"first_status": job.training_job_status}
    seen["first_saved"] = model_json(job.model_artifacts.s3_model_artifacts)
    second = trainer(image, output, f"{prefix}-b", until_stopped=1)
    second.train(wait=False)
    job = second._latest_training_job
    deadline = time.monotonic() + 60
    wait_for_training(job, deadline)
    # Stop once the entry script has trained an epoch (before it, the SDK's drivers are still starting).
    while not any("epoch=" in line for line in job_lines(job.training_job_name)):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    job.stop()
    job.wait(logs=False)
    job.refresh()
    seen["second_status"] = job.training_job_status
    seen["second_saved"] = model_json(job.model_artifacts.s3_model_artifacts)
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:4])
