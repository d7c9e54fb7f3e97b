"""The SageMaker Python SDK 3.x `ModelTrainer`, unmodified, from its own environment (.venv-sdk3), configured
by AWS_ENDPOINT_URL_* settings alone (it ignores a passed client): train with logs, train and stop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import JOBS_DIR, serving
from tests.support.s3_moto import CREDENTIALS, MotoS3
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SDK3_PYTHON = REPO / ".venv-sdk3" / "bin" / "python"
BUCKET = "sdk3"
IMAGE = "trainplane-test/cooperative"  # the image map runs tests/jobs/cooperative.py for it
# A plain container image: the request's ContainerEntrypoint is what runs (ModelTrainer's SourceCode
# gives /bin/bash -c sm_train.sh), with the host's python3 as the image's Python.
CONTAINER_IMAGE = "trainplane-test/container"


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def sdk3_server(moto: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    images = {
        IMAGE: {"command": [sys.executable, str(JOBS_DIR / "cooperative.py")]},
        CONTAINER_IMAGE: {"command": [], "entrypoint_replaces_command": True},
    }
    process = ServerProcess(
        tmp_path_factory.mktemp("sdk3"),
        "--s3-endpoint-url",
        moto.url,
        "--images",
        json.dumps(images),
        env=dict(CREDENTIALS),
    )
    yield from serving(process)


def _run_sdk3(script: str, server: ServerProcess, moto: MotoS3, prefix: str, image: str = IMAGE) -> list[str]:
    """Run tests/sdk/<script> in .venv-sdk3 against `server`; its output lines (it prints JSON last)."""
    assert SDK3_PYTHON.exists(), "scripts/install makes .venv-sdk3 with the SageMaker SDK 3.x"
    environment = {
        **os.environ,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_SAGEMAKER": server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": server.url,
        "AWS_ENDPOINT_URL_STS": server.url,
        "AWS_ENDPOINT_URL_S3": moto.url,
        "SAGEMAKER_VALIDATE_ROLE": "false",  # ModelTrainer would ask IAM about the role otherwise
    }
    result = subprocess.run(
        [str(SDK3_PYTHON), str(REPO / "tests" / "sdk" / script), image, f"s3://{BUCKET}/out", prefix],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    return result.stdout.splitlines()


@pytest.mark.timeout(240)
def test_moto_model_trainer_trains_with_logs_and_stops(sdk3_server: ServerProcess, moto: MotoS3) -> None:
    prefix = f"mt-{uuid.uuid4().hex[:6]}"
    lines = _run_sdk3("model_trainer.py", sdk3_server, moto, prefix)
    seen = json.loads(lines[-1])
    assert seen["first_status"] == "Completed"
    assert seen["first_model"].startswith(f"s3://{BUCKET}/out/{prefix}-a-")
    assert seen["first_model"].endswith("/output/model.tar.gz")
    # train(logs=True) printed the job's own lines, read through trainplane's CloudWatch Logs.
    assert [line for line in lines if line.startswith("step=")] == [
        f"step={step} loss={1.0 / step:.4f}" for step in range(1, 6)
    ]
    assert seen["second_status"] == "Stopped"


@pytest.mark.timeout(240)
def test_moto_model_trainer_with_source_code_trains_with_logs_and_stops_in_the_jobs_own_opt_ml(
    sdk3_server: ServerProcess, moto: MotoS3
) -> None:
    prefix = f"sc-{uuid.uuid4().hex[:6]}"
    lines = _run_sdk3("model_trainer_source_code.py", sdk3_server, moto, prefix, CONTAINER_IMAGE)
    seen = json.loads(lines[-1])
    assert seen["first_status"] == "Completed"
    assert seen["first_saved"] == {"epochs": 3, "stopped": False}  # train.py ran with the hyperparameter
    assert seen["second_status"] == "Stopped"
    saved = seen["second_saved"]
    assert saved["stopped"] is True and saved["epochs"] >= 1  # saved by its SIGTERM handler
    # The SDK's driver ran the entry script from the uploaded source dir (settings.json beside it).
    assert any("script mode started, hello from source_dir" in line for line in lines)
