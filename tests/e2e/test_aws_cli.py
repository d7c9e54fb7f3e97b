"""The real `aws` CLI (awscli 1.x from PyPI, and Debian's 2.x for `logs tail`) with --endpoint-url against a
real server."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import job_log, sagemaker_client
from tests.support.server import ServerProcess

AWS = str(Path(sys.executable).with_name("aws"))


CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
}


def aws(
    server: ServerProcess, *args: str, check: bool = True, service: str = "sagemaker"
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **CREDENTIALS}
    result = subprocess.run(
        [AWS, "--endpoint-url", server.url, service, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({result.returncode}): {result.stderr}")
    return result


def test_aws_cli_creates_stops_and_waits_for_a_job(
    server: ServerProcess, job_request: Any, tmp_path: Path
) -> None:
    request = job_request()
    name = request["TrainingJobName"]
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(request))

    created = json.loads(aws(server, "create-training-job", "--cli-input-json", f"file://{job_file}").stdout)
    assert created["TrainingJobArn"].endswith(f"training-job/{name}")
    aws(server, "stop-training-job", "--training-job-name", name)
    aws(server, "wait", "training-job-completed-or-stopped", "--training-job-name", name)

    described = json.loads(aws(server, "describe-training-job", "--training-job-name", name).stdout)
    assert described["TrainingJobStatus"] == "Stopped"
    assert described["ModelArtifacts"]["S3ModelArtifacts"].endswith(f"{name}/output/model.tar.gz")
    listed = json.loads(aws(server, "list-training-jobs", "--name-contains", name).stdout)
    assert [s["TrainingJobName"] for s in listed["TrainingJobSummaries"]] == [name]


def test_aws_cli_reports_errors_with_the_sagemaker_code(server: ServerProcess) -> None:
    result = aws(server, "stop-training-job", "--training-job-name", "missing-job", check=False)
    assert result.returncode == 255  # awscli v1's exit code for a service error
    assert "ResourceNotFound" in result.stderr

    result = aws(server, "describe-training-job", "--training-job-name", "bad_name", check=False)
    assert result.returncode == 255  # awscli v1's exit code for a service error
    assert "ValidationException" in result.stderr and "trainingJobName" in result.stderr


@pytest.mark.parametrize(
    ("option", "value", "member"),
    [("--max-results", "500", "maxResults"), ("--sort-order", "Sideways", "sortOrder")],
)
def test_aws_cli_list_out_of_range_values_are_validated_by_the_server(
    server: ServerProcess, option: str, value: str, member: str
) -> None:
    """botocore checks neither maxima nor enums: the server must."""
    result = aws(server, "list-training-jobs", option, value, check=False)
    assert result.returncode == 255
    assert "ValidationException" in result.stderr and f"at '{member}'" in result.stderr


def test_aws_logs_reads_the_jobs_lines(server: ServerProcess, job_request: Any) -> None:
    request = job_request()
    request["Environment"]["EXIT_AFTER_STEPS"] = "3"
    name = request["TrainingJobName"]
    aws(server, "create-training-job", "--cli-input-json", json.dumps(request))
    aws(server, "wait", "training-job-completed-or-stopped", "--training-job-name", name)
    group = ["--log-group-name", "/aws/sagemaker/TrainingJobs"]
    streams = aws(
        server, "describe-log-streams", *group, "--log-stream-name-prefix", f"{name}/", service="logs"
    )
    (stream,) = json.loads(streams.stdout)["logStreams"]
    read = aws(
        server,
        "get-log-events",
        *group,
        "--log-stream-name",
        stream["logStreamName"],
        "--start-from-head",
        service="logs",
    )
    messages = [event["message"] for event in json.loads(read.stdout)["events"]]
    assert messages == ["training started", "step=1 loss=1.0000", "step=2 loss=0.5000", "step=3 loss=0.3333"]


AWS_V2 = Path("/usr/bin/aws")  # Debian's awscli 2.x (scripts/install): `logs tail` exists only in v2


def test_aws_cli_v2_logs_tail_follows_a_running_job_until_its_stop(
    server: ServerProcess, job_request: Any
) -> None:
    version = subprocess.run([str(AWS_V2), "--version"], capture_output=True, text=True, check=False).stdout
    assert version.startswith("aws-cli/2."), "scripts/install installs Debian's awscli 2.x at /usr/bin/aws"
    request = job_request()
    name = request["TrainingJobName"]
    aws(server, "create-training-job", "--cli-input-json", json.dumps(request))
    env = {**os.environ, **CREDENTIALS}
    command = [str(AWS_V2), "--endpoint-url", server.url, "logs", "tail", "/aws/sagemaker/TrainingJobs"]
    command += ["--follow", "--format", "short", "--log-stream-name-prefix", f"{name}/"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as tail:
        assert tail.stdout is not None
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=_pump, args=(tail.stdout, lines), daemon=True).start()
        try:
            first = [lines.get(timeout=30) for _ in range(4)]
            assert first == [
                "training started",
                "step=1 loss=1.0000",
                "step=2 loss=0.5000",
                "step=3 loss=0.3333",
            ]
            # A step the job printed after tail's first poll: it comes from a later poll, while the job
            # still runs (tail asks from its last event on; not only once the job's status changes).
            later = job_log(sagemaker_client(server.url), name).count("step=") + 1
            _steps_until(lines, lambda line: line.startswith(f"step={later} "))
            aws(server, "stop-training-job", "--training-job-name", name)
            _steps_until(lines, lambda line: line == "saved model on stop")  # the stop window's line
        finally:
            tail.kill()


def _pump(stream: Iterable[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(_message(line))


def _steps_until(
    lines: queue.Queue[str], is_wanted: Callable[[str], bool], timeout_seconds: float = 30
) -> None:
    """Take tail's lines until a wanted one, within the timeout; every line before it is a step."""
    deadline = time.monotonic() + timeout_seconds
    while not is_wanted(line := lines.get(timeout=max(0.1, deadline - time.monotonic()))):
        assert line.startswith("step="), line


def _message(short_line: str) -> str:
    """`--format short` prints `<timestamp> <message>`."""
    return short_line.rstrip("\n").split(" ", 1)[1]
