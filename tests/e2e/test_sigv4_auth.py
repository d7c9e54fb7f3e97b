"""SigV4 with configured keys, through a real server and the real clients (boto3, the aws CLI and
trainplane's own CLI): signed requests act for the key's tenant; a wrong secret, an unknown key, a
stale date and no signature are refused in SageMaker's words; another tenant's jobs are not there.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.test_aws_cli import AWS
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

ACCOUNT_A, ACCOUNT_B = "111111111111", "222222222222"
Keys = dict[str, str]


def trainplane(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "trainplane.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


def add_key(path: Path, tenant: str, account_id: str | None = None) -> Keys:
    """`trainplane credentials add --kind aws`, as an operator runs it; the one JSON object it prints."""
    extra = ("--account-id", account_id) if account_id else ()
    result = trainplane(
        "credentials", "add", "--file", str(path), "--tenant", tenant, "--kind", "aws", *extra
    )
    assert result.returncode == 0, result.stderr
    shown: Keys = json.loads(result.stdout)
    return shown


def client(url: str, keys: Keys, *, secret: str | None = None) -> Any:
    return boto3.client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=keys["access_key_id"],
        aws_secret_access_key=secret or keys["secret_access_key"],
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


def error_of(call: Callable[[], object]) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Keys, Keys]]:
    work = tmp_path_factory.mktemp("keyed")
    path = work / "credentials.json"
    team_a = add_key(path, "team-a", ACCOUNT_A)
    team_b = add_key(path, "team-b", ACCOUNT_B)
    process = ServerProcess(work / "data", "--credentials-file", str(path))
    process.start()
    yield process, team_a, team_b
    process.kill()  # the tests' jobs exit by themselves and were waited for


def run_to_completion(sm: Any, request: dict[str, Any]) -> str:
    request["Environment"]["EXIT_AFTER_STEPS"] = "1"
    arn: str = sm.create_training_job(**request)["TrainingJobArn"]
    name = request["TrainingJobName"]
    wait_until(
        lambda: sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Completed",
        60,
        0.05,
        message=f"{name} Completed",
    )
    return arn


def test_boto3_signing_with_a_configured_key_acts_for_its_tenant_in_its_account(
    keyed: tuple[ServerProcess, Keys, Keys], job_request: Callable[..., dict[str, Any]]
) -> None:
    server, team_a, _ = keyed
    sm = client(server.url, team_a)
    request = job_request()
    arn = run_to_completion(sm, request)
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT_A}:training-job/{request['TrainingJobName']}"
    assert sm.list_tags(ResourceArn=arn)["Tags"] == []


def test_a_wrong_secret_an_unknown_key_and_no_signature_are_refused_as_sagemaker_does(
    keyed: tuple[ServerProcess, Keys, Keys],
) -> None:
    server, team_a, _ = keyed
    wrong_secret = client(server.url, team_a, secret="x" * 40)
    status, code, message = error_of(lambda: wrong_secret.list_training_jobs())
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )
    unknown = client(server.url, {"access_key_id": "TPAKNOSUCHKEYNOSUCHK", "secret_access_key": "x"})
    assert error_of(lambda: unknown.describe_training_job(TrainingJobName="any"))[:2] == (
        400,
        "UnrecognizedClientException",
    )
    unsigned = httpx.post(
        server.url,
        content=b"{}",
        headers={"X-Amz-Target": "SageMaker.ListTrainingJobs", "Content-Type": "application/x-amz-json-1.1"},
    )
    assert unsigned.status_code == 403
    assert unsigned.json()["__type"] == "MissingAuthenticationTokenException"


def test_a_signature_made_more_than_five_minutes_ago_has_expired(
    keyed: tuple[ServerProcess, Keys, Keys],
) -> None:
    server, team_a, _ = keyed
    sm = client(server.url, team_a)
    stale = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    with mock.patch("botocore.auth.get_current_datetime", return_value=stale):  # boto3 with a frozen clock
        status, code, message = error_of(lambda: sm.list_training_jobs())
    assert (status, code) == (400, "InvalidSignatureException")
    assert message.startswith(f"Signature expired: {stale:%Y%m%dT%H%M%SZ} is now earlier than ")
    assert message.endswith(" - 5 min.)")


def test_another_tenants_job_is_not_found_not_listed_and_not_stoppable(
    keyed: tuple[ServerProcess, Keys, Keys], job_request: Callable[..., dict[str, Any]]
) -> None:
    server, team_a, team_b = keyed
    sm_a, sm_b = client(server.url, team_a), client(server.url, team_b)
    request = job_request()
    name = request["TrainingJobName"]
    arn_a = run_to_completion(sm_a, request)

    never_made = error_of(lambda: sm_b.describe_training_job(TrainingJobName="never-made"))
    assert never_made[:2] == (400, "ValidationException")
    assert error_of(lambda: sm_b.describe_training_job(TrainingJobName=name))[:2] == never_made[:2]
    assert error_of(lambda: sm_b.stop_training_job(TrainingJobName=name))[:2] == (400, "ResourceNotFound")
    assert error_of(lambda: sm_b.list_tags(ResourceArn=arn_a))[:2] == (400, "ResourceNotFound")
    assert error_of(lambda: sm_b.delete_training_job(TrainingJobName=name))[:2] == (400, "ResourceNotFound")
    assert name not in [s["TrainingJobName"] for s in sm_b.list_training_jobs()["TrainingJobSummaries"]]

    # Names are unique per account, as on AWS: team-b may use the same name, in its own account.
    arn_b = run_to_completion(sm_b, job_request(name=name))
    assert arn_b == f"arn:aws:sagemaker:us-east-1:{ACCOUNT_B}:training-job/{name}"
    assert sm_a.describe_training_job(TrainingJobName=name)["TrainingJobArn"] == arn_a


def aws_env(keys: Keys, secret: str | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ACCESS_KEY_ID": keys["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": secret or keys["secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }


def test_the_aws_cli_signs_with_configured_keys_and_fails_with_a_wrong_secret(
    keyed: tuple[ServerProcess, Keys, Keys],
) -> None:
    server, team_a, _ = keyed
    command = [AWS, "--endpoint-url", server.url, "sagemaker", "list-training-jobs"]
    good = subprocess.run(
        command, capture_output=True, text=True, env=aws_env(team_a), timeout=120, check=False
    )
    assert good.returncode == 0, good.stderr
    assert "TrainingJobSummaries" in json.loads(good.stdout)
    bad = subprocess.run(
        command, capture_output=True, text=True, env=aws_env(team_a, "y" * 40), timeout=120, check=False
    )
    assert bad.returncode != 0
    assert "InvalidSignatureException" in bad.stderr
    unknown = aws_env({"access_key_id": "TPAKNOSUCHKEYNOSUCHK", "secret_access_key": "y" * 40})
    refused = subprocess.run(command, capture_output=True, text=True, env=unknown, timeout=120, check=False)
    assert refused.returncode != 0
    assert "UnrecognizedClientException" in refused.stderr


def without_aws_settings(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, "HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"}


def test_the_trainplane_cli_signs_with_options_or_aws_variables(
    keyed: tuple[ServerProcess, Keys, Keys], job_request: Callable[..., dict[str, Any]], tmp_path: Path
) -> None:
    server, team_a, _ = keyed
    request = job_request()
    run_to_completion(client(server.url, team_a), request)
    name = request["TrainingJobName"]
    base = ["--endpoint-url", server.url]
    env = without_aws_settings(tmp_path)
    by_option = trainplane(
        "list-training-jobs",
        *base,
        "--output",
        "json",
        "--access-key-id",
        team_a["access_key_id"],
        "--secret-access-key",
        team_a["secret_access_key"],
        env=env,
    )
    assert by_option.returncode == 0, by_option.stderr
    assert name in by_option.stdout
    by_env = aws_env(team_a) | {"HOME": str(tmp_path)}
    logs = trainplane("logs", name, *base, env=by_env)
    assert logs.returncode == 0, logs.stderr
    assert "training started" in logs.stdout
    unsigned = trainplane("list-training-jobs", *base, env=env)
    assert unsigned.returncode == 1
    assert "Request is missing Authentication Token" in unsigned.stderr
    wrong = trainplane("logs", name, *base, env=aws_env(team_a, "z" * 40) | {"HOME": str(tmp_path)})
    assert wrong.returncode == 1
    assert "does not match the signature you provided" in wrong.stderr


def test_sighup_reloads_the_file_keeping_the_old_keys_when_it_is_broken(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    first = add_key(path, "team-a")
    process = ServerProcess(tmp_path / "data", "--credentials-file", str(path))
    process.start()
    try:
        assert process.process is not None
        second = add_key(path, "team-a")
        late = client(process.url, second)
        assert error_of(lambda: late.list_training_jobs())[1] == "UnrecognizedClientException"
        os.kill(process.process.pid, signal.SIGHUP)
        wait_until(lambda: _lists(late), 30, 0.05, message="the added key works after SIGHUP")

        path.write_text("{ not json")  # still 0600: a typo, not an attack
        os.kill(process.process.pid, signal.SIGHUP)
        wait_until(lambda: "credentials_reload_failed" in process.logs(), 30, 0.05, message="reload refused")
        assert _lists(client(process.url, first)) and _lists(late)
        assert process.process.poll() is None
    finally:
        process.kill()


def _lists(sm: Any) -> bool:
    try:
        sm.list_training_jobs()
    except ClientError:
        return False
    return True


def serve(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`trainplane serve` that is expected to refuse at once (a timeout fails the test)."""
    return trainplane(
        "serve", "--port", "0", "--data-dir", str(tmp_path / "data"), "--allow-root-jobs", *args
    )


def test_a_credentials_file_readable_by_others_is_refused_at_start(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    add_key(path, "team-a")
    path.chmod(0o644)
    result = serve(tmp_path, "--credentials-file", str(path))
    assert result.returncode == 2
    assert "--credentials-file" in result.stderr and "chmod 600" in result.stderr, result.stderr
    assert not (tmp_path / "data").exists()


def test_a_non_loopback_address_without_credentials_is_refused(tmp_path: Path) -> None:
    result = serve(tmp_path, "--host", "0.0.0.0")
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "--credentials-file" in result.stderr, result.stderr
    assert result.stderr.count("\n") == 1


def test_insecure_any_credentials_serves_every_interface_with_a_warning(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data", "--host", "0.0.0.0", "--insecure-any-credentials")
    url = process.start()
    try:
        anyone = client(
            url.replace("0.0.0.0", "127.0.0.1"), {"access_key_id": "any", "secret_access_key": "any"}
        )
        assert anyone.list_training_jobs()["TrainingJobSummaries"] == []
        assert "WARNING: INSECURE" in process.logs()
    finally:
        process.kill()


def test_without_credentials_the_server_says_it_accepts_anyone_on_loopback(tmp_path: Path) -> None:
    process = ServerProcess(tmp_path / "data")
    process.start()
    try:
        assert "no credentials file" in process.logs() and "loopback only" in process.logs()
    finally:
        process.kill()


def test_jobs_made_without_credentials_stay_with_tenant_default_once_keys_are_required(
    tmp_path: Path, job_request: Callable[..., dict[str, Any]]
) -> None:
    open_server = ServerProcess(tmp_path / "data")
    open_server.start()
    try:
        request = job_request()
        arn = run_to_completion(
            client(open_server.url, {"access_key_id": "any", "secret_access_key": "any"}), request
        )
    finally:
        assert open_server.terminate() == 0
    path = tmp_path / "credentials.json"
    default = add_key(path, "default", "000000000000")
    other = add_key(path, "team-a")
    keyed_server = ServerProcess(tmp_path / "data", "--credentials-file", str(path))
    keyed_server.start()
    try:
        name = request["TrainingJobName"]
        assert (
            client(keyed_server.url, default).describe_training_job(TrainingJobName=name)["TrainingJobArn"]
            == arn
        )
        assert error_of(lambda: client(keyed_server.url, other).stop_training_job(TrainingJobName=name))[
            1
        ] == ("ResourceNotFound")
    finally:
        keyed_server.kill()


def test_cloudwatch_logs_reads_are_signed_as_logs_and_scoped_to_the_tenant(
    keyed: tuple[ServerProcess, Keys, Keys], job_request: Callable[..., dict[str, Any]]
) -> None:
    """boto3's logs client signs with service "logs"; the same keys and tenants apply."""
    server, team_a, team_b = keyed

    def logs(keys: Keys, *, secret: str | None = None) -> Any:
        return boto3.client(
            "logs",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id=keys["access_key_id"],
            aws_secret_access_key=secret or keys["secret_access_key"],
            config=Config(retries={"mode": "standard", "max_attempts": 1}),
        )

    request = job_request()
    run_to_completion(client(server.url, team_a), request)
    prefix = f"{request['TrainingJobName']}/"
    group = "/aws/sagemaker/TrainingJobs"
    (stream,) = logs(team_a).describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)[
        "logStreams"
    ]
    events = logs(team_a).get_log_events(
        logGroupName=group, logStreamName=stream["logStreamName"], startFromHead=True
    )["events"]
    assert events[0]["message"] == "training started"
    assert (
        logs(team_b).describe_log_streams(logGroupName=group, logStreamNamePrefix=prefix)["logStreams"] == []
    )
    wrong = logs(team_a, secret="x" * 40)
    assert error_of(lambda: wrong.describe_log_streams(logGroupName=group))[:2] == (
        400,
        "InvalidSignatureException",
    )
