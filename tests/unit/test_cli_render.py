"""Rich rendering of Describe and List answers, and the table output of the job commands."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from rich.console import Console

from trainplane.cli import render
from trainplane.cli.main import main
from trainplane.client import TrainingJob, TrainingJobSummary

FAILED_BODY: dict[str, Any] = {
    "TrainingJobName": "mnist-1",
    "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/mnist-1",
    "TrainingJobStatus": "Failed",
    "SecondaryStatus": "Failed",
    "CreationTime": 1704110400.0,
    "TrainingStartTime": 1704110401.0,
    "TrainingEndTime": 1704110460.0,
    "FailureReason": "AlgorithmError: CUDA out of memory",
    "ModelArtifacts": {"S3ModelArtifacts": "file:///data/mnist-1/output/model.tar.gz"},
    "SecondaryStatusTransitions": [
        {
            "Status": "Starting",
            "StartTime": 1704110400.0,
            "EndTime": 1704110401.0,
            "StatusMessage": "Starting the training job",
        },
        {
            "Status": "Training",
            "StartTime": 1704110401.0,
            "EndTime": 1704110460.0,
            "StatusMessage": "Training image download completed. Training in progress.",
        },
        {"Status": "Failed", "StartTime": 1704110460.0, "StatusMessage": "exit code 1"},
    ],
    "FinalMetricDataList": [{"MetricName": "val:accuracy", "Value": 0.875, "Timestamp": 1704110459.0}],
}


def _recorded(renderable: Any) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def test_describe_view_shows_status_times_transitions_metrics_and_reason() -> None:
    text = _recorded(render.training_job_view(TrainingJob.from_wire(FAILED_BODY)))
    for expected in (
        "mnist-1",
        "Failed",
        "2024-01-01 12:00:00Z",
        "2024-01-01 12:01:00Z",
        "Training image download completed. Training in progress.",
        "val:accuracy",
        "0.875",
        "file:///data/mnist-1/output/model.tar.gz",
        "AlgorithmError: CUDA out of memory",
    ):
        assert expected in text, expected


def test_describe_view_of_a_fresh_job_without_optional_fields_renders() -> None:
    body = {k: FAILED_BODY[k] for k in ("TrainingJobName", "TrainingJobArn", "CreationTime")}
    body.update(TrainingJobStatus="InProgress", SecondaryStatus="Starting")
    text = _recorded(render.training_job_view(TrainingJob.from_wire(body)))
    assert "InProgress" in text and "Starting" in text
    assert "Failure reason" not in text


def test_describe_view_of_a_stopped_job_shows_how_it_was_stopped() -> None:
    body = copy.deepcopy(FAILED_BODY)
    del body["FailureReason"]
    body.update(TrainingJobStatus="Stopped", SecondaryStatus="Stopped")
    body["TrainplaneDetails"] = {
        "StopReason": "user",
        "StopRequestedTime": 1704110450.0,
        "KillDeadline": 1704110570.0,
        "StopGraceSeconds": 120.0,
        "ModelPackaged": True,
        "ModelFromStop": True,
        "CompleteCheckpoint": True,
        "Signals": {"SigtermTime": 1704110450.1, "SigtermProcesses": 2, "Survivors": []},
    }
    text = _recorded(render.training_job_view(TrainingJob.from_wire(body)))
    for expected in (
        "Stop reason          user",
        "Stop requested       2024-01-01 12:00:50Z",
        "Grace window         2m00s",
        "Kill deadline        2024-01-01 12:02:50Z",
        "SIGTERM              2 processes at 2024-01-01 12:00:50Z",
        "Model from the stop  yes",
        "Complete checkpoint  yes",
    ):
        assert expected in text, text
    assert "SIGKILL" not in text and "Survivors" not in text  # it saved and exited in its window
    assert "Stop reason" not in _recorded(render.training_job_view(TrainingJob.from_wire(FAILED_BODY)))


def test_list_table_shows_name_status_secondary_created_ended() -> None:
    summary = TrainingJobSummary.from_wire(
        {
            "TrainingJobName": "mnist-1",
            "TrainingJobArn": "arn",
            "CreationTime": 1704110400,
            "TrainingJobStatus": "Stopped",
            "SecondaryStatus": "MaxRuntimeExceeded",
            "TrainingEndTime": 1704114000,
        }
    )
    text = _recorded(render.training_jobs_table([summary]))
    for expected in (
        "mnist-1",
        "Stopped",
        "MaxRuntimeExceeded",
        "2024-01-01 12:00:00Z",
        "2024-01-01 13:00:00Z",
    ):
        assert expected in text


def test_durations_read_naturally() -> None:
    assert render.format_duration(4.25) == "4.2s"
    assert render.format_duration(125) == "2m05s"
    assert render.format_duration(3725) == "1h02m05s"


def test_describe_defaults_to_the_wire_json_like_the_aws_cli_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=FAILED_BODY))
    assert main(["describe-training-job", "--training-job-name", "mnist-1"], transport=transport) == 0
    out = capsys.readouterr().out
    assert '    "TrainingJobName": "mnist-1"' in out
    assert '"CreationTime": 1704110400.0' in out


def test_describe_output_table_prints_the_summary_with_mock_transport(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    body = copy.deepcopy(FAILED_BODY)
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=body))
    code = main(
        ["describe-training-job", "--training-job-name", "mnist-1", "--output", "table"],
        transport=transport,
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "Secondary status" in out
    assert "AlgorithmError: CUDA out of memory" in out


def test_output_env_var_selects_the_format_with_mock_transport(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINPLANE_OUTPUT", "table")
    monkeypatch.setenv("COLUMNS", "200")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=FAILED_BODY))
    assert main(["describe-training-job", "--training-job-name", "mnist-1"], transport=transport) == 0
    assert "Status transitions" in capsys.readouterr().out


def test_unknown_output_env_value_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRAINPLANE_OUTPUT", "yaml")
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=FAILED_BODY))
    assert main(["describe-training-job", "--training-job-name", "x"], transport=transport) == 2
    assert "TRAINPLANE_OUTPUT" in capsys.readouterr().err
