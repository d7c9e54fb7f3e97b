"""CloudWatch metrics (GetMetricStatistics, GetMetricData, ListMetrics) from a real job's log through a
real server, with boto3 (smithy-rpc-v2-cbor, botocore's choice) and AWS JSON 1.0 (its fallback)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.e2e.conftest import JOBS_DIR, sagemaker_client
from tests.e2e.test_sigv4_auth import ACCOUNT_A, ACCOUNT_B, Keys, add_key, client
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

NAMESPACE = "/aws/sagemaker/TrainingJobs"
STEPS = 20
SCOPE = "20260101/us-east-1/monitoring/aws4_request"  # any credentials do, on a server without keys


def cloudwatch_client(url: str, key_id: str = "AKIDEXAMPLE", secret: str = "secret") -> Any:
    return boto3.client(
        "cloudwatch",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def run_job(sm: Any, out: Any, name: str) -> None:
    """A job printing "step=<n> loss=<1/n>" STEPS times, ~50 ms apart, with both as MetricDefinitions."""
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn="arn:aws:iam::123456789012:role/trainplane-test",
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", str(JOBS_DIR / "cooperative.py")],
            "MetricDefinitions": [
                {"Name": "train:loss", "Regex": r"loss=([0-9.]+)"},
                {"Name": "step", "Regex": r"step=(\d+)"},
            ],
        },
        OutputDataConfig={"S3OutputPath": f"file://{out}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
        Environment={"TEST_MARKER_DIR": str(out / "markers"), "EXIT_AFTER_STEPS": str(STEPS)},
    )
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed", 60, 0.05
    )


@pytest.fixture(scope="module")
def finished_job(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    name = f"metrics-{int(time.time() * 1000)}"
    run_job(sm, tmp_path_factory.mktemp("metrics"), name)
    yield name


def window() -> dict[str, datetime]:
    now = datetime.now(UTC)
    return {"StartTime": now - timedelta(hours=1), "EndTime": now + timedelta(minutes=1)}


def statistics(cloudwatch: Any, name: str, metric: str, period: int) -> list[dict[str, Any]]:
    points: list[dict[str, Any]] = cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        Dimensions=[{"Name": "TrainingJobName", "Value": name}],
        Period=period,
        Statistics=["SampleCount", "Average", "Minimum", "Maximum", "Sum"],
        **window(),
    )["Datapoints"]
    return points


def test_get_metric_statistics_sees_every_logged_value_once(server: ServerProcess, finished_job: str) -> None:
    cloudwatch = cloudwatch_client(server.url)
    points = statistics(cloudwatch, finished_job, "step", 3600)
    assert len(points) in (1, 2)  # the hour boundary may fall inside the run
    assert sum(point["SampleCount"] for point in points) == STEPS
    assert sum(point["Sum"] for point in points) == STEPS * (STEPS + 1) / 2
    assert min(point["Minimum"] for point in points) == 1
    assert max(point["Maximum"] for point in points) == STEPS
    losses = statistics(cloudwatch, finished_job, "train:loss", 1)
    assert sum(point["SampleCount"] for point in losses) == STEPS
    assert min(point["Minimum"] for point in losses) == pytest.approx(1 / STEPS)
    stamps = [point["Timestamp"] for point in losses]
    assert stamps == sorted(stamps) and all(stamp.microsecond == 0 for stamp in stamps)


def test_get_metric_data_answers_each_query_newest_first(server: ServerProcess, finished_job: str) -> None:
    cloudwatch = cloudwatch_client(server.url)
    metric = {"Namespace": NAMESPACE, "Dimensions": [{"Name": "TrainingJobName", "Value": finished_job}]}
    results = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "steps",
                "MetricStat": {"Metric": {**metric, "MetricName": "step"}, "Period": 1, "Stat": "Maximum"},
            },
            {
                "Id": "loss",
                "MetricStat": {"Metric": {**metric, "MetricName": "train:loss"}, "Period": 1, "Stat": "p50"},
            },
            {
                "Id": "none",
                "MetricStat": {"Metric": {**metric, "MetricName": "absent"}, "Period": 1, "Stat": "Sum"},
            },
        ],
        **window(),
    )["MetricDataResults"]
    by_id = {result["Id"]: result for result in results}
    assert by_id["steps"]["Values"][0] == STEPS  # newest first: the last step
    assert by_id["steps"]["Timestamps"] == sorted(by_id["steps"]["Timestamps"], reverse=True)
    assert by_id["steps"]["StatusCode"] == "Complete" and by_id["steps"]["Label"] == "step"
    assert len(by_id["loss"]["Values"]) == len(by_id["loss"]["Timestamps"]) >= 1
    assert by_id["none"]["Values"] == []


def test_list_metrics_names_the_jobs_metric_definitions(server: ServerProcess, finished_job: str) -> None:
    found = cloudwatch_client(server.url).list_metrics(
        Namespace=NAMESPACE, Dimensions=[{"Name": "TrainingJobName", "Value": finished_job}]
    )["Metrics"]
    assert sorted(metric["MetricName"] for metric in found) == ["step", "train:loss"]


def test_the_json_protocol_fallback_answers_too(server: ServerProcess, finished_job: str) -> None:
    now = time.time()
    body = {
        "Namespace": NAMESPACE,
        "MetricName": "step",
        "Dimensions": [{"Name": "TrainingJobName", "Value": finished_job}],
        "StartTime": now - 3600,
        "EndTime": now + 60,
        "Period": 3600,
        "Statistics": ["Maximum"],
    }
    answer = httpx.post(
        server.url,
        content=json.dumps(body),
        headers={
            "X-Amz-Target": "GraniteServiceVersion20100801.GetMetricStatistics",
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/{SCOPE}",
        },
    )
    assert answer.status_code == 200, answer.text
    assert max(point["Maximum"] for point in answer.json()["Datapoints"]) == STEPS


def test_a_bad_statistic_is_an_invalid_parameter_value(server: ServerProcess, finished_job: str) -> None:
    cloudwatch = cloudwatch_client(server.url)
    with pytest.raises(cloudwatch.exceptions.InvalidParameterValueException):
        cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="step",
            Period=60,
            Statistics=["Average"],
            ExtendedStatistics=["x"],
            **window(),
        )


def test_another_tenants_job_has_no_datapoints(sm: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    work = tmp_path_factory.mktemp("metrics-keyed")
    path = work / "credentials.json"
    team_a: Keys = add_key(path, "team-a", ACCOUNT_A)
    team_b: Keys = add_key(path, "team-b", ACCOUNT_B)
    process = ServerProcess(work / "data", "--credentials-file", str(path))
    process.start()
    try:
        name = f"metrics-a-{int(time.time() * 1000)}"
        run_job(client(process.url, team_a), work, name)
        own = cloudwatch_client(process.url, team_a["access_key_id"], team_a["secret_access_key"])
        other = cloudwatch_client(process.url, team_b["access_key_id"], team_b["secret_access_key"])
        assert sum(point["SampleCount"] for point in statistics(own, name, "step", 3600)) == STEPS
        assert statistics(other, name, "step", 3600) == []
        wrong = cloudwatch_client(process.url, team_a["access_key_id"], "x" * 40)
        with pytest.raises(wrong.exceptions.ClientError) as caught:
            statistics(wrong, name, "step", 60)
        assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    finally:
        process.kill()


def test_cpu_and_memory_utilization_come_from_the_supervisors_usage_samples(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """SageMaker's instance metrics (dimension Host "<job>/algo-1") from the samples of its job's usage."""
    work = tmp_path_factory.mktemp("metrics-usage")
    process = ServerProcess(work / "data", "--usage-interval-seconds", "0.1")
    process.start()
    try:
        sm = sagemaker_client(process.url)
        name = f"usage-{int(time.time() * 1000)}"
        burn = "import time; end = time.time() + 1.5; [0 for _ in iter(lambda: time.time() < end, False)]"
        sm.create_training_job(
            TrainingJobName=name,
            RoleArn="arn:aws:iam::123456789012:role/trainplane-test",
            AlgorithmSpecification={
                "TrainingImage": "trainplane/python",
                "TrainingInputMode": "File",
                "ContainerEntrypoint": ["python", "-c", burn],
            },
            OutputDataConfig={"S3OutputPath": f"file://{work}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 600},
        )
        wait_until(
            lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed",
            60,
            0.1,
        )
        cloudwatch = cloudwatch_client(process.url)
        host = [{"Name": "Host", "Value": f"{name}/algo-1"}]
        cpu = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="CPUUtilization",
            Dimensions=host,
            Period=3600,
            Statistics=["SampleCount", "Maximum"],
            **window(),
        )["Datapoints"]
        assert sum(point["SampleCount"] for point in cpu) >= 3
        assert max(point["Maximum"] for point in cpu) > 20  # a busy loop: most of one core
        memory = cloudwatch.get_metric_statistics(
            Namespace=NAMESPACE,
            MetricName="MemoryUtilization",
            Dimensions=host,
            Period=3600,
            Statistics=["Maximum"],
            **window(),
        )["Datapoints"]
        assert 0 < max(point["Maximum"] for point in memory) < 100
        listed = cloudwatch.list_metrics(Namespace=NAMESPACE, Dimensions=host)["Metrics"]
        assert {metric["MetricName"] for metric in listed} >= {"CPUUtilization", "MemoryUtilization"}
    finally:
        process.kill()
