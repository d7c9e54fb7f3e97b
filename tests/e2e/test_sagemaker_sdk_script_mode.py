"""Script mode with the SageMaker Python SDK 2.x, unmodified: an `SKLearn` estimator with `entry_point` and
`source_dir`, its code and outputs on S3 (moto's S3 server as the stand-in), its framework image mapped to
the `sagemaker-training` toolkit (.venv-toolkit), which downloads the code and runs the entry point."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import serving
from tests.support.s3_moto import CREDENTIALS, MotoS3
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
TOOLKIT_TRAIN = REPO / ".venv-toolkit" / "bin" / "train"
BUCKET = "sdk-script-mode"


def images(s3_url: str) -> dict[str, object]:
    """The SDK's framework images (any account, region and tag) run the toolkit's `train` command. Jobs
    inherit no credentials from the server: the toolkit, which downloads the code itself as on
    SageMaker, gets its S3 endpoint and keys from the image map (what the job's role is on AWS).
    SM_STUDIO_LOCAL_MODE: the toolkit skips waiting for its host name ("algo-1") to resolve in DNS."""
    environment = {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": s3_url, "SM_STUDIO_LOCAL_MODE": "true"}
    toolkit = {"command": [str(TOOLKIT_TRAIN)], "environment": environment}
    return {
        "*.dkr.ecr.*.amazonaws.com/sagemaker-scikit-learn:*": toolkit,
        "*.dkr.ecr.*.amazonaws.com/pytorch-training:*": toolkit,
    }


@pytest.fixture(scope="module")
def moto() -> Iterator[MotoS3]:
    server = MotoS3()
    server.start()
    server.client().create_bucket(Bucket=BUCKET)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def script_server(moto: MotoS3, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    assert TOOLKIT_TRAIN.exists(), "scripts/install makes .venv-toolkit with sagemaker-training"
    process = ServerProcess(
        tmp_path_factory.mktemp("script-mode"),
        "--s3-endpoint-url",
        moto.url,
        "--images",
        json.dumps(images(moto.url)),
        env=dict(CREDENTIALS),
    )
    yield from serving(process)


@pytest.mark.timeout(300)
def test_moto_sklearn_script_mode_fits_streams_logs_stops_and_attaches(
    script_server: ServerProcess, moto: MotoS3, tmp_path: Path
) -> None:
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    environment = {
        **os.environ,
        **CREDENTIALS,
        "AWS_ENDPOINT_URL_SAGEMAKER": script_server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": script_server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": script_server.url,
        "AWS_ENDPOINT_URL_STS": script_server.url,
        "AWS_ENDPOINT_URL_S3": moto.url,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
    }
    prefix = f"sk-{uuid.uuid4().hex[:8]}"
    result = subprocess.run(
        [str(SDK_PYTHON), str(REPO / "tests" / "sdk" / "script_mode.py"), BUCKET, prefix],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    lines = result.stdout.splitlines()
    seen = json.loads(lines[-1])
    # fit() streamed the entry point's own output, read through trainplane's CloudWatch Logs.
    assert any(line.endswith("script mode started, hello from source_dir") for line in lines), result.stdout
    assert any(line.endswith("epoch=5 loss=0.2000") for line in lines), result.stdout
    assert "sagemaker-scikit-learn" in seen["image_uri"]
    assert seen["fit_model_data"] == f"s3://{BUCKET}/output/{prefix}-fit/output/model.tar.gz"
    assert seen["fit_model"] == {"epochs": 5, "stopped": False}
    assert seen["analytics_metrics"] == ["loss"]
    stopped_model = f"s3://{BUCKET}/output/{prefix}-stop/output/model.tar.gz"
    assert seen["model_data_while_running"] == seen["attached_model_data"] == stopped_model
    assert seen["stopped_status"] == "Stopped"
    assert seen["stopped_model"]["stopped"] is True  # saved by the entry point's SIGTERM handler
