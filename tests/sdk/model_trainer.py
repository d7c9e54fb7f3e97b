"""SDK 3.x `ModelTrainer`, configured by AWS_ENDPOINT_URL_* settings alone: train with logs, then train
without waiting, stop and wait. Prints one JSON object last. Runs in .venv-sdk3; argv: IMAGE OUTPUT_S3_URI
JOB_PREFIX."""

from __future__ import annotations

import json
import logging
import sys
import time

from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig, StoppingCondition
from sdk_common import ROLE_ARN, wait_for_training


def trainer(image: str, output: str, prefix: str, steps: str) -> ModelTrainer:
    return ModelTrainer(
        training_image=image,
        role=ROLE_ARN,
        base_job_name=prefix,
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=output),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        environment={"EXIT_AFTER_STEPS": steps, "TEST_MARKER_DIR": "/tmp/trainplane-sdk3-markers"},
        sagemaker_session=Session(default_bucket=output.removeprefix("s3://").split("/")[0]),
    )


def main(image: str, output: str, prefix: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)  # sagemaker-core logs job lines at INFO
    seen: dict[str, object] = {}
    first = trainer(image, output, f"{prefix}-a", "5")
    first.train(wait=True, logs=True)
    job = first._latest_training_job
    seen["first_status"] = job.training_job_status
    seen["first_model"] = job.model_artifacts.s3_model_artifacts
    second = trainer(image, output, f"{prefix}-b", "")
    second.train(wait=False)
    job = second._latest_training_job
    deadline = time.monotonic() + 60
    wait_for_training(job, deadline)
    job.stop()
    job.wait(logs=False)
    job.refresh()
    seen["second_status"] = job.training_job_status
    print(json.dumps(seen))


if __name__ == "__main__":
    main(*sys.argv[1:4])
