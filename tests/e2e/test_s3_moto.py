"""s3:// channels, checkpoints and outputs for real, against moto's S3 server as the stand-in for an
S3-compatible store (MinIO, Ceph RGW, AWS S3): a real trainplane server configured with
--s3-endpoint-url and credentials from the environment, real jobs, real uploads and downloads."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import JOBS_DIR, ROLE_ARN, sagemaker_client, serving
from tests.support.s3_moto import CREDENTIALS, MotoS3
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

BUCKET = "trainplane-test"

JOB = JOBS_DIR / "s3_job.py"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_server(moto: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    environment = {**CREDENTIALS, "TRAINPLANE_S3_CHECKPOINT_SYNC_SECONDS": "0.2"}
    process = ServerProcess(
        tmp_path_factory.mktemp("s3-server"), "--s3-endpoint-url", moto.url, env=environment
    )
    yield from serving(process)


def create(sm: Any, name: str, prefix: str, **environment: str) -> None:
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE_ARN,
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", str(JOB)],
        },
        InputDataConfig=[
            {
                "ChannelName": "train",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{BUCKET}/{prefix}/data"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/{prefix}/output"},
        CheckpointConfig={"S3Uri": f"s3://{BUCKET}/{prefix}/checkpoints"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment=environment,
    )


def status(sm: Any, name: str) -> str:
    found: str = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return found


def members(moto: MotoS3, key: str) -> dict[str, bytes]:
    body = moto.client().get_object(Bucket=BUCKET, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers() if m.isfile()}  # type: ignore[union-attr]


def keys(moto: MotoS3, prefix: str) -> set[str]:
    listed = moto.client().list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
    return {item["Key"].removeprefix(prefix) for item in listed}


def test_moto_s3_channel_is_downloaded_checkpoints_resume_and_outputs_are_uploaded(
    s3_server: ServerProcess, moto: MotoS3
) -> None:
    sm = sagemaker_client(s3_server.url)
    prefix = f"run-{uuid.uuid4().hex[:8]}"
    s3 = moto.client()
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/data/a.csv", Body=b"1,2\n")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/data/nested/b.csv", Body=b"3,4\n")
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}/checkpoints/step-0", Body=b"0")
    name = f"s3-{uuid.uuid4().hex[:10]}"
    create(sm, name, prefix)
    wait_until(lambda: status(sm, name) in ("Completed", "Failed"), 90, 0.1)
    job = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    model_key = f"{prefix}/output/{name}/output/model.tar.gz"
    assert job["ModelArtifacts"]["S3ModelArtifacts"] == f"s3://{BUCKET}/{model_key}"
    saved = json.loads(members(moto, model_key)["model.json"])
    assert saved == {"files": ["a.csv", "nested/b.csv"], "resumed": ["step-0"]}
    assert members(moto, f"{prefix}/output/{name}/output/output.tar.gz") == {"report.txt": b"report"}
    assert keys(moto, f"{prefix}/checkpoints/") == {"step-0", "step-1"}


def test_moto_s3_checkpoints_go_up_while_running_and_from_the_stop_window(
    s3_server: ServerProcess, moto: MotoS3
) -> None:
    sm = sagemaker_client(s3_server.url)
    prefix = f"stop-{uuid.uuid4().hex[:8]}"
    moto.client().put_object(Bucket=BUCKET, Key=f"{prefix}/data/a.csv", Body=b"1\n")
    name = f"s3-stop-{uuid.uuid4().hex[:10]}"
    create(sm, name, prefix, RUN_UNTIL_STOPPED="1")
    wait_until(
        lambda: "step-1" in keys(moto, f"{prefix}/checkpoints/"), 60, 0.1, message="synced while running"
    )
    assert status(sm, name) == "InProgress"
    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: status(sm, name) == "Stopped", 60, 0.1)
    assert keys(moto, f"{prefix}/checkpoints/") == {"step-1", "in-the-window"}
    model = members(moto, f"{prefix}/output/{name}/output/model.tar.gz")
    assert json.loads(model["model.json"]) == {"stopped": True}


def test_moto_s3_a_stop_during_a_channel_download_never_starts_the_job(
    s3_server: ServerProcess, moto: MotoS3
) -> None:
    sm = sagemaker_client(s3_server.url)
    prefix = f"big-{uuid.uuid4().hex[:8]}"
    s3 = moto.client()
    for index in range(300):  # many objects: the download takes a while, and is checked between them
        s3.put_object(Bucket=BUCKET, Key=f"{prefix}/data/part-{index:04d}", Body=b"x" * 1024)
    name = f"s3-early-{uuid.uuid4().hex[:10]}"
    create(sm, name, prefix)
    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: status(sm, name) == "Stopped", 60, 0.1)
    job = sm.describe_training_job(TrainingJobName=name)
    assert "TrainingStartTime" not in job or "Training" not in [
        t["Status"] for t in job["SecondaryStatusTransitions"]
    ]
    model = members(moto, f"{prefix}/output/{name}/output/model.tar.gz")
    assert "model.json" not in model  # the job never ran
    assert "step-1" not in keys(moto, f"{prefix}/checkpoints/")


def test_moto_s3_a_missing_channel_fails_the_job_naming_the_uri(s3_server: ServerProcess) -> None:
    sm = sagemaker_client(s3_server.url)
    name = f"s3-missing-{uuid.uuid4().hex[:10]}"
    create(sm, name, f"absent-{uuid.uuid4().hex[:8]}")
    wait_until(lambda: status(sm, name) == "Failed", 60, 0.1)
    reason = sm.describe_training_job(TrainingJobName=name)["FailureReason"]
    assert "no objects under s3://" in reason


def test_s3_locations_are_refused_by_a_server_without_an_s3_endpoint(server: ServerProcess) -> None:
    sm = sagemaker_client(server.url)
    with pytest.raises(ClientError) as caught:
        create(sm, f"s3-refused-{uuid.uuid4().hex[:8]}", "x")
    assert "--s3-endpoint-url" in caught.value.response["Error"]["Message"]


def test_moto_s3_bad_bucket_names_are_refused_at_create(s3_server: ServerProcess, tmp_path: Path) -> None:
    sm = sagemaker_client(s3_server.url)
    with pytest.raises(ClientError) as caught:
        sm.create_training_job(
            TrainingJobName=f"s3-bad-{uuid.uuid4().hex[:8]}",
            RoleArn=ROLE_ARN,
            AlgorithmSpecification={"TrainingImage": "trainplane/python", "TrainingInputMode": "File"},
            OutputDataConfig={"S3OutputPath": "s3://Bad_Bucket/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
    assert "not a valid S3 bucket name" in caught.value.response["Error"]["Message"]
