"""STS GetCallerIdentity (query protocol, XML) through a real server: boto3 and the aws CLI learn the
caller's tenant account, as the SageMaker SDK does to name its default bucket."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.test_aws_cli import AWS
from tests.e2e.test_sigv4_auth import ACCOUNT_A, ACCOUNT_B, Keys, add_key
from tests.support.server import ServerProcess


def sts_client(url: str, key_id: str, secret: str) -> Any:
    return boto3.client(
        "sts",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
        config=Config(retries={"mode": "standard", "max_attempts": 1}),
    )


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, Keys, Keys]]:
    work = tmp_path_factory.mktemp("sts")
    path = work / "credentials.json"
    team_a = add_key(path, "team-a", ACCOUNT_A)
    team_b = add_key(path, "team-b", ACCOUNT_B)
    process = ServerProcess(work / "data", "--credentials-file", str(path))
    process.start()
    yield process, team_a, team_b
    process.kill()


def test_each_tenant_learns_its_own_account(keyed: tuple[ServerProcess, Keys, Keys]) -> None:
    server, team_a, team_b = keyed
    for keys, account, tenant in ((team_a, ACCOUNT_A, "team-a"), (team_b, ACCOUNT_B, "team-b")):
        identity = sts_client(
            server.url, keys["access_key_id"], keys["secret_access_key"]
        ).get_caller_identity()
        assert identity["Account"] == account
        assert identity["Arn"] == f"arn:aws:iam::{account}:user/{tenant}"
        assert identity["UserId"] == tenant


def test_a_wrong_secret_is_refused_in_sts_words(keyed: tuple[ServerProcess, Keys, Keys]) -> None:
    server, team_a, _ = keyed
    wrong = sts_client(server.url, team_a["access_key_id"], "x" * 40)
    with pytest.raises(ClientError) as caught:
        wrong.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unsigned = httpx.post(
        server.url,
        content=b"Action=GetCallerIdentity&Version=2011-06-15",
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    assert unsigned.status_code == 403
    assert b"<Code>MissingAuthenticationToken</Code>" in unsigned.content


def test_an_action_other_than_get_caller_identity_is_an_invalid_action(
    keyed: tuple[ServerProcess, Keys, Keys],
) -> None:
    server, team_a, _ = keyed
    sts = sts_client(server.url, team_a["access_key_id"], team_a["secret_access_key"])
    with pytest.raises(ClientError) as caught:
        sts.get_session_token()
    assert caught.value.response["Error"]["Code"] == "InvalidAction"


def test_aws_cli_and_the_endpoint_variable_reach_the_servers_account_without_credentials_file(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """`AWS_ENDPOINT_URL_STS` is how a client that builds its own STS client is pointed at trainplane."""
    process = ServerProcess(tmp_path_factory.mktemp("sts-open"), env={"TRAINPLANE_ACCOUNT": "123456789012"})
    process.start()
    try:
        environment = {
            **os.environ,
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "secret",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": process.url,
        }
        result = subprocess.run(
            [AWS, "sts", "get-caller-identity"], capture_output=True, text=True, env=environment, timeout=60
        )
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["Account"] == "123456789012"
    finally:
        process.kill()
