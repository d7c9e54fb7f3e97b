"""SDK 3.x `ModelTrainer` with `SourceCode`, as a user runs it: the SDK uploads the source dir and its own
container drivers as channels, and the job runs `/opt/ml/input/data/sm_drivers/sm_train.sh`, whose
drivers read `/opt/ml/...` throughout (the job's private /opt/ml). Prints one JSON object last.
Runs in .venv-sdk3; argv: IMAGE OUTPUT_S3_URI JOB_PREFIX."""

from __future__ import annotations

import io
import json
import logging
import sys
import tarfile
from pathlib import Path

import boto3
from sagemaker.core.helper.session_helper import Session
from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, OutputDataConfig, SourceCode, StoppingCondition

ROLE_ARN = "arn:aws:iam::123456789012:role/trainplane-test"
SOURCE = Path(__file__).with_name("source")


def model_json(uri: str) -> dict[str, object]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        loaded: dict[str, object] = json.loads(member.read())
        return loaded


def main(image: str, output: str, prefix: str) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stdout)  # sagemaker-core logs job lines at INFO
    trainer = ModelTrainer(
        training_image=image,
        role=ROLE_ARN,
        base_job_name=prefix,
        source_code=SourceCode(source_dir=str(SOURCE), entry_script="train.py"),
        hyperparameters={"epochs": 3},
        compute=Compute(instance_type="ml.m5.large", instance_count=1),
        output_data_config=OutputDataConfig(s3_output_path=output),
        stopping_condition=StoppingCondition(max_runtime_in_seconds=600),
        sagemaker_session=Session(default_bucket=output.removeprefix("s3://").split("/")[0]),
    )
    trainer.train(wait=True, logs=True)
    job = trainer._latest_training_job
    model = job.model_artifacts.s3_model_artifacts
    print(json.dumps({"status": job.training_job_status, "model": model, "saved": model_json(model)}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
