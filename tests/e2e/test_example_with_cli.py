"""The demo's story through the trainplane CLI: train, stop, keep the model, resume from the checkpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def trainplane(server: ServerProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRAINPLANE_ENDPOINT_URL": server.url}
    return subprocess.run(
        [sys.executable, "-m", "trainplane.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _digits_job(tmp_path: Path, name: str) -> Path:
    job = json.loads((ROOT / "examples" / "job.json").read_text())
    job["TrainingJobName"] = name
    job["AlgorithmSpecification"]["ContainerEntrypoint"] = ["python", str(ROOT / "examples/train_digits.py")]
    job["OutputDataConfig"]["S3OutputPath"] = f"file://{tmp_path / 'output'}"
    job["CheckpointConfig"]["S3Uri"] = f"file://{tmp_path / 'checkpoints'}"
    job["HyperParameters"]["seconds_per_epoch"] = "0.1"
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(job))
    return path


def _log(server: ServerProcess, name: str) -> str:
    return trainplane(server, "logs", name).stdout


def test_digits_job_stops_with_its_model_and_the_next_job_resumes(
    server: ServerProcess, tmp_path: Path
) -> None:
    first = trainplane(
        server, "create-training-job", "--cli-input-json", f"file://{_digits_job(tmp_path, 'digits-a')}"
    )
    assert first.returncode == 0, first.stderr
    wait_until(lambda: _log(server, "digits-a").count("epoch=") >= 3, 60, message="three epochs")

    stopped = trainplane(server, "stop-training-job", "--training-job-name", "digits-a")
    assert stopped.returncode == 0, stopped.stderr
    waited = trainplane(server, "wait", "digits-a", "--timeout-seconds", "60")
    assert waited.returncode == 0, waited.stdout + waited.stderr
    described: dict[str, Any] = json.loads(
        trainplane(
            server, "describe-training-job", "--training-job-name", "digits-a", "--output", "json"
        ).stdout
    )
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["TrainplaneDetails"]["CompleteCheckpoint"] is True
    accuracy = {m["MetricName"]: m["Value"] for m in described["FinalMetricDataList"]}["val_accuracy"]
    assert accuracy > 0.8, "the model really learned"
    model = Path(described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("file://"))
    with tarfile.open(model) as archive:
        assert {"model.npz", "model.json", "trainplane-manifest.json"} <= set(archive.getnames())
        manifest = json.load(archive.extractfile("trainplane-manifest.json"))  # type: ignore[arg-type]
    assert manifest["reason"] == "user" and manifest["has_complete_checkpoint"] is True

    second = trainplane(
        server, "create-training-job", "--cli-input-json", f"file://{_digits_job(tmp_path, 'digits-b')}"
    )
    assert second.returncode == 0, second.stderr
    log = wait_until(
        lambda: (text := _log(server, "digits-b")) and "resumed from epoch=" in text and text, 60
    )
    saved_epoch = json.loads(tarfile.open(model).extractfile("model.json").read())["epoch"]  # type: ignore[union-attr]
    resumed_epoch = int(log.split("resumed from epoch=")[1].split()[0])
    assert resumed_epoch >= saved_epoch
    trainplane(server, "stop-training-job", "--training-job-name", "digits-b")
    assert trainplane(server, "wait", "digits-b", "--timeout-seconds", "60").returncode == 0


def test_cli_errors_are_one_line_and_exit_1(server: ServerProcess) -> None:
    result = trainplane(server, "describe-training-job", "--training-job-name", "never-was")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: Requested resource not found."
    usage = trainplane(server, "describe-training-job")
    assert usage.returncode == 2
