"""`trainplane wait` exit codes and progress, driven by a MockTransport sequence of Describe answers."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from rich.console import Console

from trainplane.cli.commands import wait
from trainplane.cli.main import main
from trainplane.client import Client

T0 = 1704110400.0


def _describe(status: str, secondary: str, *history: tuple[str, str], **extra: Any) -> dict[str, Any]:
    transitions = [
        {"Status": s, "StartTime": T0 + i, "StatusMessage": message} for i, (s, message) in enumerate(history)
    ]
    return {
        "TrainingJobName": "job-1",
        "TrainingJobArn": "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-1",
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "CreationTime": T0,
        "SecondaryStatusTransitions": transitions,
        **extra,
    }


STARTING = ("Starting", "Starting the training job")
TRAINING = ("Training", "Training in progress")


class Sequence:
    """Answers Describe with the next response each poll; the last one repeats."""

    def __init__(self, *responses: httpx.Response) -> None:
        self.responses = list(responses)
        self.polls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["X-Amz-Target"] == "SageMaker.DescribeTrainingJob"
        assert json.loads(request.content) == {"TrainingJobName": "job-1"}
        self.polls += 1
        return self.responses.pop(0) if len(self.responses) > 1 else self.responses[0]

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)


def _ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body)


def _run(sequence: Sequence, *extra: str) -> int:
    return main(["wait", "job-1", "--poll-seconds", "0.01", *extra], transport=sequence.transport)


def test_completed_job_exits_0_printing_each_transition_once_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sequence = Sequence(
        _ok(_describe("InProgress", "Starting", STARTING)),
        _ok(_describe("InProgress", "Starting", STARTING)),
        _ok(_describe("InProgress", "Training", STARTING, TRAINING)),
        _ok(
            _describe(
                "Completed",
                "Completed",
                STARTING,
                TRAINING,
                ("Completed", "Done"),
                ModelArtifacts={"S3ModelArtifacts": "file:///m/model.tar.gz"},
            )
        ),
    )
    assert _run(sequence) == wait.EXIT_SUCCEEDED == 0
    out = capsys.readouterr().out
    assert out.count("Starting the training job") == 1
    assert out.count("Training in progress") == 1
    assert "job-1 Completed (Completed)" in out
    assert "file:///m/model.tar.gz" in out
    assert sequence.polls == 4


def test_plain_lines_without_control_codes_when_stdout_is_not_a_tty_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sequence = Sequence(
        _ok(_describe("InProgress", "Training", STARTING, TRAINING)),
        _ok(_describe("Stopped", "Stopped", STARTING, TRAINING, ("Stopped", "stopped by user"))),
    )
    assert _run(sequence) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out
    assert out.splitlines()[0].endswith("Starting  Starting the training job")


def test_stopped_job_exits_0_like_the_sagemaker_waiter_with_mock_transport() -> None:
    body = _describe("Stopped", "MaxRuntimeExceeded", STARTING)
    assert _run(Sequence(_ok(body))) == 0


def test_failed_job_exits_1_and_prints_the_failure_reason_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sequence = Sequence(
        _ok(_describe("InProgress", "Training", STARTING, TRAINING)),
        _ok(
            _describe(
                "Failed",
                "Failed",
                STARTING,
                TRAINING,
                ("Failed", "exit code 3"),
                FailureReason="AlgorithmError: loss is NaN",
            )
        ),
    )
    assert _run(sequence) == wait.EXIT_FAILED == 1
    assert "FailureReason: AlgorithmError: loss is NaN" in capsys.readouterr().out


def test_timeout_exits_3_with_a_clear_message_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sequence = Sequence(_ok(_describe("InProgress", "Training", STARTING, TRAINING)))
    assert _run(sequence, "--timeout-seconds", "0.05") == wait.EXIT_TIMED_OUT == 3
    err = capsys.readouterr().err
    assert "timed out after 0.05 s waiting for job-1" in err
    assert "InProgress/Training" in err


def test_unknown_job_exits_1_with_the_servers_message_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    sequence = Sequence(
        httpx.Response(
            400, json={"__type": "ValidationException", "message": "Requested resource not found."}
        )
    )
    assert _run(sequence) == 1
    assert capsys.readouterr().err == "error: Requested resource not found.\n"


def test_wait_rides_out_a_server_restart_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Jobs outlive a control-plane restart, so a 503 mid-wait is not the end of the wait."""
    sequence = Sequence(
        httpx.Response(503, content=b""),
        _ok(_describe("Completed", "Completed", STARTING)),
    )
    assert _run(sequence) == 0
    assert "server unavailable, retrying" in capsys.readouterr().out


def test_terminal_spinner_mode_renders_without_error_with_mock_transport() -> None:
    sequence = Sequence(
        _ok(_describe("InProgress", "Training", STARTING, TRAINING)),
        _ok(_describe("Completed", "Completed", STARTING, TRAINING)),
    )
    console = Console(force_terminal=True, record=True, width=120)
    with Client("http://trainplane.test", transport=sequence.transport) as client:
        code = wait.wait_for(client, "job-1", timeout_seconds=5, poll_seconds=0.01, console=console)
    assert code == 0
    assert "Training in progress" in console.export_text()


def test_timeout_comes_from_the_env_var_and_a_bad_value_is_a_usage_error_with_mock_transport(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sequence = Sequence(_ok(_describe("InProgress", "Training", STARTING)))
    monkeypatch.setenv(wait.TIMEOUT_ENV, "0.05")
    assert _run(sequence) == wait.EXIT_TIMED_OUT
    monkeypatch.setenv(wait.TIMEOUT_ENV, "soon")
    assert _run(sequence) == 2
    assert "--timeout-seconds" in capsys.readouterr().err
