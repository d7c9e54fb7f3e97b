"""Job commands, `logs` and error handling of the CLI, over httpx.MockTransport (no server yet)."""

from __future__ import annotations

import json
import socket
from typing import Any

import httpx
import pytest

from trainplane.cli.main import main

ARN = "arn:aws:sagemaker:us-east-1:000000000000:training-job/a"


def _summary(name: str) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn/{name}",
        "CreationTime": 1704110400,
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Training",
    }


class Pages:
    """ListTrainingJobs over `names`, honouring MaxResults, with the start index as NextToken."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.requests: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        self.requests.append(body)
        start = int(body.get("NextToken", 0))
        end = start + body.get("MaxResults", 2)
        answer: dict[str, Any] = {"TrainingJobSummaries": [_summary(n) for n in self.names[start:end]]}
        if end < len(self.names):
            answer["NextToken"] = str(end)
        return httpx.Response(200, json=answer)


def test_create_prints_the_arn_as_json_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json={"TrainingJobArn": ARN}))
    request = {
        "TrainingJobName": "a",
        "RoleArn": "arn:aws:iam::000000000000:role/r",
        "OutputDataConfig": {"S3OutputPath": "file:///tmp"},
    }
    code = main(["create-training-job", "--cli-input-json", json.dumps(request)], transport=transport)
    assert code == 0
    assert json.loads(capsys.readouterr().out) == {"TrainingJobArn": ARN}


def test_list_follows_every_page_by_default_with_mock_transport(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    pages = Pages(["job-a", "job-b", "job-c", "job-d", "job-e"])
    assert main(["list-training-jobs"], transport=httpx.MockTransport(pages)) == 0
    out = capsys.readouterr().out
    assert all(f"job-{x}" in out for x in "abcde")
    assert len(pages.requests) == 3


def test_list_max_items_stops_on_a_page_boundary_and_gives_the_token_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    pages = Pages(["job-a", "job-b", "job-c", "job-d", "job-e"])
    code = main(
        ["list-training-jobs", "--max-items", "3", "--output", "json"], transport=httpx.MockTransport(pages)
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert [s["TrainingJobName"] for s in out["TrainingJobSummaries"]] == ["job-a", "job-b", "job-c"]
    assert out["NextToken"] == "3"
    # Resuming from the printed token gives the rest.
    code = main(
        ["list-training-jobs", "--next-token", "3", "--output", "json"], transport=httpx.MockTransport(pages)
    )
    assert code == 0
    rest = json.loads(capsys.readouterr().out)["TrainingJobSummaries"]
    assert [s["TrainingJobName"] for s in rest] == ["job-d", "job-e"]


def test_stop_prints_nothing_and_exits_0_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    transport = httpx.MockTransport(lambda r: httpx.Response(200, content=b""))
    assert main(["stop-training-job", "--training-job-name", "a"], transport=transport) == 0
    assert capsys.readouterr().out == ""


def test_server_error_prints_error_message_and_exits_1_without_traceback_with_mock_transport(
    capsys: pytest.CaptureFixture[str],
) -> None:
    message = "The request was rejected because the training job is in status Completed."
    transport = httpx.MockTransport(
        lambda r: httpx.Response(400, json={"__type": "ValidationException", "message": message})
    )
    assert main(["stop-training-job", "--training-job-name", "a"], transport=transport) == 1
    captured = capsys.readouterr()
    assert captured.err == f"error: {message}\n"
    assert "Traceback" not in captured.err


def test_unreachable_server_exits_1_naming_the_endpoint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("TRAINPLANE_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    assert main(["describe-training-job", "--training-job-name", "a"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach trainplane at http://127.0.0.1:")
    assert str(port) in err


def test_endpoint_url_option_beats_the_env_var_with_mock_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TRAINPLANE_ENDPOINT_URL", "http://from-env.test")
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(200, content=b"")

    transport = httpx.MockTransport(handler)
    main(["delete-training-job", "--training-job-name", "a"], transport=transport)
    main(
        ["delete-training-job", "--training-job-name", "a", "--endpoint-url", "http://from-flag.test"],
        transport=transport,
    )
    assert hosts == ["from-env.test", "from-flag.test"]


def test_logs_reads_until_the_log_is_drained_with_mock_transport(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    log = b"epoch 1 loss 0.5\nepoch 2 loss 0.25\n"

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params["offset"])
        piece = log[offset : offset + 10]  # a server that answers in 10-byte pieces
        return httpx.Response(
            200, content=piece, headers={"X-Trainplane-Next-Offset": str(offset + len(piece))}
        )

    assert main(["logs", "a"], transport=httpx.MockTransport(handler)) == 0
    assert capsysbinary.readouterr().out == log


def test_logs_follow_writes_the_stream_with_mock_transport(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.params["follow"] == "true"
        return httpx.Response(200, stream=httpx.ByteStream(b"\xffbinary-safe\n"))

    assert main(["logs", "a", "--follow"], transport=httpx.MockTransport(handler)) == 0
    assert capsysbinary.readouterr().out == b"\xffbinary-safe\n"


def test_logs_of_unknown_job_exits_1_with_mock_transport(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    body = {"__type": "ResourceNotFound", "message": "training job 'x' does not exist"}
    transport = httpx.MockTransport(lambda r: httpx.Response(404, json=body))
    assert main(["logs", "x"], transport=transport) == 1
    assert capsysbinary.readouterr().err == b"error: training job 'x' does not exist\n"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: trainplane" in capsys.readouterr().err


def test_serve_help_names_every_setting_env_var(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    for env in (
        "TRAINPLANE_HOST",
        "TRAINPLANE_PORT",
        "TRAINPLANE_DATA_DIR",
        "TRAINPLANE_STOP_GRACE_SECONDS",
        "TRAINPLANE_IMAGES",
        "TRAINPLANE_MAX_ACTIVE_JOBS",
        "TRAINPLANE_LOG_LEVEL",
    ):
        assert env in out
