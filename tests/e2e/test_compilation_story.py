"""The story a user runs: train the example, stop it mid-run, compile the model it saved in the grace
window, predict with the compiled model as well as with the original, make a model of it, and resume
the training where it stopped."""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from tests.e2e.conftest import ROLE_ARN, sagemaker_client
from tests.e2e.test_example_with_cli import trainplane
from tests.support import compilable
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until
from trainplane.runtime import compiled

ROOT = Path(__file__).resolve().parents[2]
EPOCH_LINE = re.compile(r"^epoch=(\d+) train_loss=([0-9.]+) val_accuracy=([0-9.]+)$", re.MULTILINE)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path_factory.mktemp("server"))
    process.start()
    yield process
    process.kill()


def training_request(tmp_path: Path, name: str) -> dict[str, Any]:
    request: dict[str, Any] = json.loads((ROOT / "examples" / "job.json").read_text())
    request["TrainingJobName"] = name
    request["AlgorithmSpecification"]["ContainerEntrypoint"] = [
        "python",
        str(ROOT / "examples/train_digits.py"),
    ]
    request["OutputDataConfig"]["S3OutputPath"] = (tmp_path / "output").as_uri()
    request["CheckpointConfig"]["S3Uri"] = (tmp_path / "checkpoints").as_uri()
    request["HyperParameters"]["seconds_per_epoch"] = "0.05"
    return request


def log_of(server: ServerProcess, name: str) -> str:
    response = httpx.get(f"{server.url}/trainplane/v1/training-jobs/{name}/logs")
    response.raise_for_status()
    return response.text


def epochs(log: str) -> list[tuple[int, float]]:
    return [(int(epoch), float(loss)) for epoch, loss, _ in EPOCH_LINE.findall(log)]


def stop_after_epochs(sm: Any, server: ServerProcess, name: str, count: int) -> dict[str, Any]:
    wait_until(lambda: len(epochs(log_of(server, name))) >= count, 60, 0.05, message=f"{count} epochs")
    sm.stop_training_job(TrainingJobName=name)
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300}
    )
    job: dict[str, Any] = sm.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Stopped"
    return job


def wait_compiled(sm: Any, name: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        job: dict[str, Any] = sm.describe_compilation_job(CompilationJobName=name)
        return job if job["CompilationJobStatus"] in ("COMPLETED", "FAILED", "STOPPED") else None

    return wait_until(finished, 90, 0.1, message=f"{name} compiled")


def test_train_stop_compile_predict_model_and_resume(server: ServerProcess, tmp_path: Path) -> None:
    sm = sagemaker_client(server.url)
    sm.create_training_job(**training_request(tmp_path, "story-digits"))
    trained = stop_after_epochs(sm, server, "story-digits", 3)
    artifact = trained["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(artifact.removeprefix("file://")) as archive:
        assert {"model.onnx", "model.npz"} <= set(archive.getnames())
        manifest = json.load(archive.extractfile("trainplane-manifest.json"))  # type: ignore[arg-type]
        weights = dict(np.load(archive.extractfile("model.npz")))  # type: ignore[arg-type]
    assert manifest["reason"] == "user" and manifest["has_complete_checkpoint"] is True

    sm.create_compilation_job(
        CompilationJobName="story-digits-c5",
        RoleArn=ROLE_ARN,
        InputConfig={"S3Uri": artifact, "Framework": "ONNX", "DataInputConfig": '{"x": [1, 64]}'},
        OutputConfig={"S3OutputLocation": (tmp_path / "compiled").as_uri(), "TargetDevice": "ml_c5"},
        StoppingCondition={"MaxRuntimeInSeconds": 900},
    )
    compilation = wait_compiled(sm, "story-digits-c5")

    assert compilation["CompilationJobStatus"] == "COMPLETED", compilation.get("FailureReason")
    digits = compilable.example_module()
    _, _, x_test, y_test = digits.load_data(seed=0)
    original = digits.forward(weights, x_test)[1]
    loaded = compiled.load(compilation["ModelArtifacts"]["S3ModelArtifacts"])
    predicted = np.concatenate([loaded.predict(row[None, :]) for row in x_test])  # batch 1, as compiled
    np.testing.assert_allclose(predicted, original, atol=1e-4)
    accuracy = float((predicted.argmax(axis=1) == y_test).mean())
    assert accuracy == pytest.approx(float((original.argmax(axis=1) == y_test).mean()))
    assert accuracy > 0.5

    sm.create_model(
        ModelName="story-digits",
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"ModelDataUrl": compilation["ModelArtifacts"]["S3ModelArtifacts"]},
    )
    assert sm.describe_model(ModelName="story-digits")["ModelName"] == "story-digits"

    last_epoch = epochs(log_of(server, "story-digits"))[-1][0]
    resumed = trainplane(server, "resume-training-job", "--training-job-name", "story-digits")
    assert resumed.returncode == 0, resumed.stderr
    new_name = json.loads(resumed.stdout)["TrainingJobName"]
    assert new_name == "story-digits-r1"
    wait_until(lambda: epochs(log_of(server, new_name)), 60, 0.05, message="the resumed job trains")
    log = log_of(server, new_name)
    stopped_epoch = int(
        re.findall(r"saved checkpoint and model at epoch=(\d+)", log_of(server, "story-digits"))[0]
    )
    assert f"resumed from epoch={stopped_epoch}" in log
    first_epoch, first_loss = epochs(log)[0]
    assert first_epoch == stopped_epoch + 1 and stopped_epoch >= last_epoch
    assert first_loss < epochs(log_of(server, "story-digits"))[0][1]  # continues, not from scratch
    stop_after_epochs(sm, server, new_name, 1)


def test_resume_refuses_a_running_job_and_one_without_checkpoints(
    server: ServerProcess, tmp_path: Path
) -> None:
    sm = sagemaker_client(server.url)
    request = training_request(tmp_path, "story-running")
    sm.create_training_job(**request)
    wait_until(lambda: epochs(log_of(server, "story-running")), 60, 0.05)

    running = trainplane(server, "resume-training-job", "--training-job-name", "story-running")

    assert running.returncode == 1 and "cannot resume: the job is in status InProgress" in running.stderr
    stop_after_epochs(sm, server, "story-running", 1)
    request = training_request(tmp_path, "story-no-checkpoints")
    del request["CheckpointConfig"]
    sm.create_training_job(**request)
    stop_after_epochs(sm, server, "story-no-checkpoints", 1)
    unresumable = trainplane(server, "resume-training-job", "--training-job-name", "story-no-checkpoints")
    assert unresumable.returncode == 1 and "nothing to resume from" in unresumable.stderr
    named = trainplane(
        server, "resume-training-job", "--training-job-name", "story-running", "--new-name", "x-1"
    )
    assert named.returncode == 0 and json.loads(named.stdout)["TrainingJobName"] == "x-1"
    stop_after_epochs(sm, server, "x-1", 1)
