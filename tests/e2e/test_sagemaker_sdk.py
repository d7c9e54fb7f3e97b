"""The SageMaker Python SDK 2.x, unmodified, from its own environment (.venv-sdk), against trainplane."""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
import uuid
from pathlib import Path

from tests.e2e.conftest import JOBS_DIR
from tests.support.server import ServerProcess

REPO = Path(__file__).resolve().parents[2]
SDK_PYTHON = REPO / ".venv-sdk" / "bin" / "python"
SCRIPT = REPO / "tests" / "sdk" / "estimator_lifecycle.py"


def test_estimator_sees_its_model_while_running_stops_and_attaches(
    server: ServerProcess, tmp_path: Path
) -> None:
    assert SDK_PYTHON.exists(), "scripts/install makes .venv-sdk with the SageMaker SDK"
    name = f"sdk-{uuid.uuid4().hex[:12]}"
    output_path = tmp_path / "out"  # a plain path: the SDK refuses file:// outside its local mode
    result = subprocess.run(
        [
            str(SDK_PYTHON),
            str(SCRIPT),
            server.url,
            name,
            str(output_path),
            str(JOBS_DIR / "cooperative.py"),
            str(tmp_path / "markers"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    model = f"{output_path}/{name}/output/model.tar.gz"
    assert seen["model_data_while_running"] == model
    assert seen["status"] == "Stopped"
    assert seen["model_data_after"] == seen["attached_model_data"] == model
    assert seen["attached_output_path"] == str(output_path)
    assert seen["attached_instance_type"] == "ml.m5.large"
    assert seen["attached_role"].endswith("role/trainplane-test")
    with tarfile.open(model) as archive:
        saved = json.loads(archive.extractfile("model.json").read())  # type: ignore[union-attr]
    assert saved["stopped"] is True  # written by the job's SIGTERM handler in the grace window


def test_fit_with_its_default_logs_streams_the_jobs_output(server: ServerProcess, tmp_path: Path) -> None:
    """fit() blocks and prints the job's log lines, read through trainplane's CloudWatch Logs."""
    name = f"sdk-fit-{uuid.uuid4().hex[:12]}"
    environment = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": server.url,
    }
    result = subprocess.run(
        [
            str(SDK_PYTHON),
            str(REPO / "tests" / "sdk" / "fit_with_logs.py"),
            server.url,
            name,
            str(tmp_path / "out"),
            str(JOBS_DIR / "cooperative.py"),
            str(tmp_path / "markers"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=environment,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert any(line.endswith("training started") for line in lines), result.stdout
    steps = [line for line in lines if "step=" in line]
    assert [line[line.index("step=") :] for line in steps] == [
        f"step={step} loss={1.0 / step:.4f}" for step in range(1, 6)
    ]
    assert f"MODEL {tmp_path / 'out'}/{name}/output/model.tar.gz" in lines


def sdk_environment(server: ServerProcess, tmp_path: Path) -> dict[str, str]:
    """The settings a user gives the SDK: endpoint variables for each service, and telemetry off."""
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(
        "SchemaVersion: '1.0'\nSageMaker:\n  PythonSDK:\n    Modules:\n      TelemetryOptOut: true\n"
    )
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_SAGEMAKER": server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": server.url,
        "AWS_ENDPOINT_URL_CLOUDWATCH": server.url,
        "AWS_ENDPOINT_URL_STS": server.url,
        "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config),
    }


def test_training_job_analytics_dataframe_holds_the_jobs_metrics(
    server: ServerProcess, tmp_path: Path
) -> None:
    """training_job_analytics reads CloudWatch GetMetricStatistics (one row per metric and minute)."""
    name = f"sdk-metrics-{uuid.uuid4().hex[:12]}"
    result = subprocess.run(
        [
            str(SDK_PYTHON),
            str(REPO / "tests" / "sdk" / "analytics.py"),
            name,
            str(tmp_path / "out"),
            str(JOBS_DIR / "cooperative.py"),
            str(tmp_path / "markers"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        env=sdk_environment(server, tmp_path),
    )
    assert result.returncode == 0, result.stderr[-4000:]
    rows = json.loads(result.stdout.strip().splitlines()[-1])
    by_metric: dict[str, list[float]] = {}
    for row in rows:
        by_metric.setdefault(row["metric_name"], []).append(row["value"])
    assert set(by_metric) == {"train:loss", "step"}
    # The SDK asks for 60 s averages: 20 steps 50 ms apart fall in one minute, or across two.
    assert 1 <= len(by_metric["step"]) <= 2
    assert min(by_metric["step"]) <= 10.5 <= max(by_metric["step"])
