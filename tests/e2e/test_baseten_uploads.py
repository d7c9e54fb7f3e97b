"""The upload target `truss train push` writes to, driven by boto3 itself: credentials from
`GET /v1/blobs/credentials/train`, a multipart upload (what boto3 does above its threshold), the code
unpacked and run by a job; other credentials refused in S3's XML; one tenant's upload never another's."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.baseten import wire
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("credentials") / "credentials.json"
    return {
        "file": path,
        "a": wire.add_credential(path, "team-a", "baseten")["api_key"],
        "b": wire.add_credential(path, "team-b", "baseten")["api_key"],
    }


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, Any]) -> Iterator[ServerProcess]:
    process = wire.server(tmp_path_factory.mktemp("baseten-uploads"), "--credentials-file", str(keys["file"]))
    process.start()
    yield process
    process.kill()


def upload_credentials(server: ServerProcess, api_key: str) -> dict[str, Any]:
    answer = httpx.get(
        f"{server.url}/v1/blobs/credentials/train", headers={"Authorization": f"Api-Key {api_key}"}
    )
    assert answer.status_code == 200, answer.text
    parsed: dict[str, Any] = answer.json()
    return parsed


def s3(creds: dict[str, Any]) -> Any:
    return boto3.resource("s3", **creds, config=Config(retries={"max_attempts": 1}))


def code_tarball(path: Path) -> Path:
    """A pushed project: train.py beside 3 MiB of data (so boto3 uploads it in parts below)."""
    script = b"import pathlib\nprint('data bytes', pathlib.Path('data.bin').stat().st_size, flush=True)\n"
    with tarfile.open(path, "w:gz") as archive:
        for name, content in (("train.py", script), ("data.bin", bytes(range(256)) * (3 * MIB // 256))):
            info = tarfile.TarInfo(name)
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return path


def test_a_multipart_upload_is_unpacked_and_run_by_the_job(
    server: ServerProcess, keys: dict[str, Any], tmp_path: Path
) -> None:
    blob = upload_credentials(server, keys["a"])
    tarball = code_tarball(tmp_path / "code.tgz")
    parts = TransferConfig(multipart_threshold=MIB, multipart_chunksize=MIB, use_threads=False)
    s3(blob["creds"]).Object(blob["s3_bucket"], blob["s3_key"]).upload_file(str(tarball), Config=parts)

    artifacts = [wire.api.CreateTrainingJobS3Artifact(s3_bucket=blob["s3_bucket"], s3_key=blob["s3_key"])]
    request = wire.job_request("python train.py", name="uploaded")
    assert request.training_job.runtime is not None
    request.training_job.runtime.artifacts = artifacts
    with wire.client(server.url, keys["a"]) as team_a, wire.client(server.url, keys["b"]) as team_b:
        project = wire.upsert(team_a, "uploads")
        job = team_a.api.post_training_projects_jobs(
            training_project_id=project.id, request=request
        ).training_job
        wait_until(lambda: wire.status(team_a, project.id, job.id) == "TRAINING_JOB_COMPLETED", 60, 0.1)
        logs = team_a.api.post_training_projects_jobs_logs(
            training_project_id=project.id,
            training_job_id=job.id,
            request=wire.api.GetTrainingJobLogsRequest(),
        ).logs
        assert [log.message for log in logs] == [f"data bytes {3 * MIB}"]

        other = wire.upsert(team_b, "uploads")  # the same key, another tenant: never uploaded there
        with pytest.raises(wire.api.ResponseError) as caught:
            team_b.api.post_training_projects_jobs(training_project_id=other.id, request=request)
        assert caught.value.status_code == 400 and "training_job.runtime.artifacts.0" in caught.value.body


def test_uploads_need_the_issued_credentials(
    server: ServerProcess, keys: dict[str, Any], tmp_path: Path
) -> None:
    blob = upload_credentials(server, keys["a"])
    forged = {**blob["creds"], "aws_secret_access_key": "not-the-secret"}
    with pytest.raises(ClientError) as caught:
        s3(forged).Object(blob["s3_bucket"], blob["s3_key"]).put(Body=b"x")
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = {**blob["creds"], "aws_access_key_id": "AKIANEVERISSUED0000"}
    with pytest.raises(ClientError):
        s3(unknown).Object(blob["s3_bucket"], blob["s3_key"]).put(Body=b"x")
    with pytest.raises(ClientError) as other_bucket:
        s3(blob["creds"]).Object("another-bucket", blob["s3_key"]).put(Body=b"x")
    assert other_bucket.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert httpx.get(f"{server.url}/v1/blobs/credentials/train").status_code == 401
