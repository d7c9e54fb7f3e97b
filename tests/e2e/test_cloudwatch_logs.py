"""CloudWatch Logs (the reads the SageMaker SDK and `aws logs` make) from a job's real log, via boto3."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import JOBS_DIR
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

GROUP = "/aws/sagemaker/TrainingJobs"
STEPS = 20


def logs_client(url: str) -> Any:
    return boto3.client(
        "logs",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def logs(server: ServerProcess) -> Any:
    return logs_client(server.url)


@pytest.fixture(scope="module")
def finished_job(
    sm: Any, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, float, float]]:
    """A job that printed "training started" and STEPS step lines ~50 ms apart, then completed."""
    out = tmp_path_factory.mktemp("logs")
    name = f"logs-{int(time.time() * 1000)}"
    before = time.time()
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/trainplane-test",
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", str(JOBS_DIR / "cooperative.py")],
        },
        OutputDataConfig={"S3OutputPath": f"file://{out}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment={"TEST_MARKER_DIR": str(out / "markers"), "EXIT_AFTER_STEPS": str(STEPS)},
    )
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed", 60, 0.05
    )
    yield name, before, time.time()


def _stream_of(logs: Any, name: str) -> str:
    streams = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    assert len(streams) == 1
    stream: str = streams[0]["logStreamName"]
    return stream


def test_the_job_has_one_stream_named_as_on_sagemaker(
    logs: Any, sm: Any, finished_job: tuple[str, float, float]
) -> None:
    name, before, after = finished_job
    (stream,) = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    started = sm.describe_training_job(TrainingJobName=name)["TrainingStartTime"].timestamp()
    assert stream["logStreamName"] == f"{name}/algo-1-{int(started)}"
    assert before * 1000 <= stream["firstEventTimestamp"] <= stream["lastEventTimestamp"] <= after * 1000
    assert stream["arn"].endswith(f":log-group:{GROUP}:log-stream:{stream['logStreamName']}")


def test_events_from_the_head_are_every_line_in_order_with_times_as_written(
    logs: Any, finished_job: tuple[str, float, float]
) -> None:
    name, before, after = finished_job
    stream = _stream_of(logs, name)
    page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    messages = [event["message"] for event in page["events"]]
    assert messages[0] == "training started"
    assert [m for m in messages if m.startswith("step=")] == [
        f"step={step} loss={1.0 / step:.4f}" for step in range(1, STEPS + 1)
    ]
    times = [event["timestamp"] for event in page["events"]]
    assert times == sorted(times) and before * 1000 <= times[0] and times[-1] <= after * 1000
    # The job sleeps 50 ms a step: marks (at most 100 ms apart) keep lines apart in time.
    assert times[-1] - times[0] >= (STEPS - 3) * 50
    again = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, nextToken=page["nextForwardToken"])
    assert again["events"] == [] and again["nextForwardToken"] == page["nextForwardToken"]


def test_forward_pages_of_a_limit_cover_the_log_once(
    logs: Any, finished_job: tuple[str, float, float]
) -> None:
    stream = _stream_of(logs, finished_job[0])
    whole = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    seen: list[str] = []
    token: str | None = None
    for _ in range(len(whole) + 2):
        arguments: dict[str, Any] = {"nextToken": token} if token else {"startFromHead": True}
        page = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=4, **arguments)
        if not page["events"]:
            break
        assert len(page["events"]) <= 4
        seen += [event["message"] for event in page["events"]]
        token = page["nextForwardToken"]
    assert seen == [event["message"] for event in whole]


def test_without_start_from_head_the_latest_events_come_back(
    logs: Any, finished_job: tuple[str, float, float]
) -> None:
    stream = _stream_of(logs, finished_job[0])
    latest = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, limit=3)["events"]
    assert [event["message"] for event in latest][-1] == f"step={STEPS} loss={1.0 / STEPS:.4f}"
    assert len(latest) == 3


def test_a_time_window_selects_lines_by_when_they_were_written(
    logs: Any, finished_job: tuple[str, float, float]
) -> None:
    stream = _stream_of(logs, finished_job[0])
    whole = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    middle = whole[len(whole) // 2]["timestamp"]
    later = logs.get_log_events(
        logGroupName=GROUP, logStreamName=stream, startFromHead=True, startTime=middle
    )
    assert later["events"] and all(event["timestamp"] >= middle for event in later["events"])
    assert later["events"] == [event for event in whole if event["timestamp"] >= middle]


def test_filter_finds_a_term_across_the_group(logs: Any, finished_job: tuple[str, float, float]) -> None:
    name, before, _ = finished_job
    found = logs.filter_log_events(
        logGroupName=GROUP, filterPattern='"step=7 "', startTime=int(before * 1000)
    )["events"]
    assert [(event["logStreamName"], event["message"]) for event in found] == [
        (_stream_of(logs, name), f"step=7 loss={1.0 / 7:.4f}")
    ]


@pytest.mark.parametrize("start_ms", [10**17, 2**63 - 1])
def test_a_start_time_past_any_date_finds_nothing_rather_than_failing(
    logs: Any, finished_job: tuple[str, float, float], start_ms: int
) -> None:
    assert logs.filter_log_events(logGroupName=GROUP, startTime=start_ms)["events"] == []


def test_filter_pages_of_a_limit_cover_the_stream_once(
    logs: Any, finished_job: tuple[str, float, float]
) -> None:
    stream = _stream_of(logs, finished_job[0])
    whole = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    seen: list[str] = []
    arguments: dict[str, Any] = {"logGroupName": GROUP, "logStreamNames": [stream], "limit": 5}
    for _ in range(len(whole)):
        page = logs.filter_log_events(**arguments)
        assert len(page["events"]) <= 5
        seen += [event["message"] for event in page["events"]]
        if "nextToken" not in page:
            break
        arguments["nextToken"] = page["nextToken"]
    assert seen == [event["message"] for event in whole]


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (
            lambda logs: logs.get_log_events(logGroupName="/aws/nope", logStreamName="a/algo-1-1"),
            "ResourceNotFoundException",
        ),
        (
            lambda logs: logs.get_log_events(logGroupName=GROUP, logStreamName="never-ran/algo-1-1"),
            "ResourceNotFoundException",
        ),
        (
            lambda logs: logs.get_log_events(
                logGroupName=GROUP, logStreamName="x/algo-1-1", nextToken="f/-1"
            ),
            "InvalidParameterException",
        ),
        (
            lambda logs: logs.filter_log_events(logGroupName=GROUP, filterPattern="{ $.a = 1 }"),
            "InvalidParameterException",
        ),
    ],
)
def test_bad_requests_get_cloudwatchs_own_errors(logs: Any, call: Callable[[Any], object], code: str) -> None:
    with pytest.raises(ClientError) as caught:
        call(logs)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_a_value_outside_the_model_names_the_member(server: ServerProcess) -> None:
    """boto3 checks `limit` itself; a raw client reaches the server's own check."""
    answer = httpx.post(
        server.url,
        headers={"X-Amz-Target": "Logs_20140328.GetLogEvents", "Content-Type": "application/x-amz-json-1.1"},
        content=json.dumps({"logGroupName": GROUP, "logStreamName": "x/algo-1-1", "limit": 0}),
    )
    assert answer.status_code == 400
    assert answer.json() == {
        "__type": "InvalidParameterException",
        "message": "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1",
    }


def test_another_tenants_stream_does_not_exist(
    tmp_path_factory: pytest.TempPathFactory, job_request: Callable[..., dict[str, Any]]
) -> None:
    tokens = {"token-a": "team-a", "token-b": "team-b"}
    server = ServerProcess(
        tmp_path_factory.mktemp("tenants"), env={"TRAINPLANE_AUTH_TOKENS": json.dumps(tokens)}
    )
    server.start()

    def call(token: str, target: str, body: dict[str, Any]) -> httpx.Response:
        headers = {
            "X-Amz-Target": target,
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": f"Bearer {token}",
        }
        return httpx.post(server.url, headers=headers, content=json.dumps(body))

    try:
        request = job_request()
        request["Environment"]["EXIT_AFTER_STEPS"] = "2"
        name = request["TrainingJobName"]
        assert call("token-a", "SageMaker.CreateTrainingJob", request).status_code == 200

        def streams_of(token: str) -> list[str]:
            answer = call(token, "Logs_20140328.DescribeLogStreams", {"logGroupName": GROUP})
            assert answer.status_code == 200, answer.text
            return [stream["logStreamName"] for stream in answer.json()["logStreams"]]

        (stream,) = wait_until(lambda: streams_of("token-a"), 30, 0.05, message="team a's stream")
        assert stream.startswith(f"{name}/")
        assert streams_of("token-b") == []
        read = call("token-b", "Logs_20140328.GetLogEvents", {"logGroupName": GROUP, "logStreamName": stream})
        assert read.status_code == 400 and read.json()["__type"] == "ResourceNotFoundException"
        refused = call("wrong", "Logs_20140328.DescribeLogStreams", {"logGroupName": GROUP})
        assert refused.status_code == 400 and refused.json()["__type"] == "UnrecognizedClientException"
        wait_until(
            lambda: (
                call("token-a", "SageMaker.DescribeTrainingJob", {"TrainingJobName": name}).json()[
                    "TrainingJobStatus"
                ]
                == "Completed"
            ),
            30,
            0.05,
        )
    finally:
        server.kill()
