"""The real `aws` CLI (awscli from PyPI) with --endpoint-url against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import ServerProcess

AWS = str(Path(sys.executable).with_name("aws"))


def aws(
    server: ServerProcess, *args: str, check: bool = True, service: str = "sagemaker"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
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
