"""`trainplane serve` on PostgreSQL: a real job created, described, listed and stopped through boto3."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.e2e.conftest import sagemaker_client, serving
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until


@pytest.fixture
def pg_server(postgres_url: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(tmp_path / "data", "--stop-grace-seconds", "30", "--database-url", postgres_url)
    yield from serving(process)


def _status(sm: Any, name: str) -> str:
    status: str = sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"]
    return status


def test_a_job_on_postgresql_is_created_described_listed_and_stopped(
    pg_server: ServerProcess, postgres_url: str, job_request: Any, tmp_path: Path
) -> None:
    sm = sagemaker_client(pg_server.url)
    request = job_request()
    name = request["TrainingJobName"]
    sm.create_training_job(**request)
    markers = tmp_path / "markers"
    wait_until(lambda: markers.exists() and any(markers.glob("started-*")), 20, message="job started")
    assert _status(sm, name) == "InProgress"
    listed = sm.list_training_jobs(NameContains=name[-8:].upper())["TrainingJobSummaries"]
    assert [summary["TrainingJobName"] for summary in listed] == [name]

    sm.stop_training_job(TrainingJobName=name)
    wait_until(lambda: _status(sm, name) == "Stopped", 20, message="Stopped")
    model = sm.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
    with tarfile.open(model.removeprefix("file://")) as archive:
        assert "model.json" in archive.getnames()

    # The job lives in PostgreSQL, not in a SQLite file in the data dir.
    with psycopg.connect(postgres_url) as connection:
        row = connection.execute("SELECT status, version FROM jobs WHERE name = %s", (name,)).fetchone()
    assert row is not None and row[0] == "Stopped" and row[1] > 1
    assert not (pg_server.data_dir / "trainplane.db").exists()


def test_nul_characters_are_validation_errors_on_postgresql_not_server_errors(
    pg_server: ServerProcess, job_request: Any
) -> None:
    """PostgreSQL text cannot hold NUL (SQLite can): a NUL in any stored or compared string is a 400."""
    import base64
    import json

    sm = sagemaker_client(pg_server.url)
    request = job_request(Tags=[{"Key": "k", "Value": "v"}])
    sm.create_training_job(**request)
    arn = sm.describe_training_job(TrainingJobName=request["TrainingJobName"])["TrainingJobArn"]
    token = base64.urlsafe_b64encode(json.dumps({"s": "Name", "a": True, "k": ["a\x00", "b"]}).encode())
    attempts = [
        lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k", "Value": "a\x00b"}]),
        lambda: sm.add_tags(ResourceArn=arn, Tags=[{"Key": "k\x00", "Value": "v"}]),
        lambda: sm.list_training_jobs(NameContains="a\x00b"),
        lambda: sm.list_training_jobs(SortBy="Name", NextToken=token.decode()),
        lambda: sm.describe_training_job(TrainingJobName="a\x00b"),
    ]
    for attempt in attempts:
        with pytest.raises(sm.exceptions.ClientError) as caught:
            attempt()
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, caught.value
    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "k", "Value": "v"}]
