"""ModelArts with a credentials file, through the real clients: huaweicloudsdkcore signs with AK/SK
(SDK-HMAC-SHA256, verified by the server), otcextensions sends X-Auth-Token; the URL's project must be
the credential's; a tenant sees and stops its own jobs, whichever dialect made them, and never another
tenant's (reference/modelarts_baseten.md §1.7, §3.4, §3.5)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openstack
import pytest
from huaweicloudsdkcore.auth.credentials import BasicCredentials
from huaweicloudsdkcore.exceptions import exceptions as sdk_errors
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkmodelarts.v1 import ModelArtsClient
from otcextensions import sdk as otc_sdk

from tests.e2e.conftest import JOBS_DIR, ROLE_ARN, stop_every_job
from tests.e2e.test_modelarts_api import SPEC_ID
from tests.e2e.test_sigv4_auth import client as boto3_client
from tests.e2e.test_sigv4_auth import trainplane
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

# openstacksdk's deprecation notices about what otcextensions calls (not about these tests' code).
pytestmark = [
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK50Warning"),
    pytest.mark.filterwarnings("ignore::openstack.warnings.RemovedInSDK60Warning"),
]
PROJECT_A, PROJECT_B = "proj-a", "proj-b"
Keys = dict[str, str]
RESPONSE_TYPE = "DeleteTrainingJobResponse"  # any generated response type: the raw body is read


def add_key(path: Path, tenant: str, kind: str, *extra: str) -> Keys:
    """`trainplane credentials add`, as an operator runs it; the one JSON object it prints."""
    result = trainplane("credentials", "add", "--file", str(path), "--tenant", tenant, "--kind", kind, *extra)
    assert result.returncode == 0, result.stderr
    shown: Keys = json.loads(result.stdout)
    return shown


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, dict[str, Keys]]]:
    work = tmp_path_factory.mktemp("modelarts-keyed")
    path = work / "credentials.json"
    keys = {
        "aws_a": add_key(path, "team-a", "aws"),
        "aksk_a": add_key(path, "team-a", "modelarts-aksk", "--project-id", PROJECT_A),
        "token_a": add_key(path, "team-a", "modelarts-token"),
        "aws_b": add_key(path, "team-b", "aws"),
        "token_b": add_key(path, "team-b", "modelarts-token", "--project-id", PROJECT_B),
    }
    server = ServerProcess(work / "data", "--credentials-file", str(path), "--stop-grace-seconds", "30")
    server.start()
    yield server, keys
    try:
        stop_every_job(boto3_client(server.url, keys["aws_a"]))
        stop_every_job(boto3_client(server.url, keys["aws_b"]))
    finally:
        server.kill()


def signed_client(url: str, keys: Keys, *, project: str = PROJECT_A, sk: str | None = None) -> Any:
    """huaweicloudsdkcore's client as §3.4 builds it: it signs every request with AK/SK."""
    config = HttpConfig.get_default_config()
    config.retry_times = 0
    credentials = BasicCredentials(ak=keys["ak"], sk=sk or keys["sk"], project_id=project)
    return (
        ModelArtsClient.new_builder()
        .with_http_config(config)
        .with_credentials(credentials)
        .with_endpoints([url])
        .build()
    )


def call(client: Any, method: str, path: str, body: Any = None, **options: Any) -> dict[str, Any]:
    """`call_api` on a v1 path (no generated v1 method exists); the raw JSON body."""
    response = client.call_api(
        resource_path="/v1/{project_id}" + path,
        method=method,
        path_params=options.pop("path_params", {}),
        query_params=list(options.pop("query", {}).items()),
        header_params={"Content-Type": "application/json", **options.pop("headers", {})},
        body=body,
        response_type=RESPONSE_TYPE,
    )
    assert response.status_code == 200
    document: dict[str, Any] = json.loads(response.raw_content)
    assert document["is_success"] is True
    return document


def refusal(client: Any, method: str, path: str, **options: Any) -> tuple[int, str]:
    with pytest.raises(sdk_errors.ClientRequestException) as caught:
        call(client, method, path, **options)
    return caught.value.status_code, caught.value.error_code


def token_connection(url: str, token: str, project: str = PROJECT_A) -> Any:
    """otcextensions' ModelArts v1 proxy over openstacksdk, as §3.5 sets it up: X-Auth-Token."""
    connection = openstack.connect(
        auth_type="admin_token",
        auth={"token": token, "endpoint": url},
        region_name="local",
        modelartsv1_endpoint_override=f"{url}/v1/{project}",
        load_yaml_config=False,
        load_envvars=False,
    )
    otc_sdk.register_otc_extensions(connection)
    return connection


def new_config(tmp_path: Path) -> dict[str, Any]:
    return {
        "worker_server_num": 1,
        "spec_id": SPEC_ID,
        "train_url": str(tmp_path / "train"),
        "user_image_url": "trainplane/python",
        "user_command": f"python {JOBS_DIR / 'cooperative.py'}",
        "parameter": [{"label": "TEST_MARKER_DIR", "value": str(tmp_path / "markers")}],
    }


def test_the_sdk_signs_create_list_stop_and_delete(
    keyed: tuple[ServerProcess, dict[str, Keys]], tmp_path: Path
) -> None:
    server, keys = keyed
    client = signed_client(server.url, keys["aksk_a"])
    name = f"sdk_{uuid.uuid4().hex[:8]}"
    created = call(client, "POST", "/training-jobs", {"job_name": name, "config": new_config(tmp_path)})
    job = {"job_id": created["job_id"], "version_id": 1}
    listed = call(client, "GET", "/training-jobs", query={"search_content": name, "per_page": 10})
    assert [found["job_id"] for found in listed["jobs"]] == [created["job_id"]]
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 30, message="job started")
    stopped = call(client, "POST", "/training-jobs/{job_id}/versions/{version_id}/stop", path_params=job)
    assert stopped["status"] in (9, 12)
    wait_until(
        lambda: (
            call(client, "GET", "/training-jobs/{job_id}/versions/{version_id}", path_params=job)["status"]
            == 12
        ),
        60,
        0.05,
        message="version KILLED",
    )
    call(client, "DELETE", "/training-jobs/{job_id}", path_params={"job_id": created["job_id"]})
    assert call(client, "GET", "/training-jobs", query={"search_content": name})["jobs"] == []


def test_a_wrong_secret_key_or_unknown_ak_is_refused(keyed: tuple[ServerProcess, dict[str, Keys]]) -> None:
    server, keys = keyed
    wrong = signed_client(server.url, keys["aksk_a"], sk=keys["aksk_a"]["sk"] + "x")
    assert refusal(wrong, "GET", "/training-jobs") == (401, "ModelArts.0206")
    unknown = signed_client(server.url, {"ak": "NOTAKEY", "sk": "whatever"})
    assert refusal(unknown, "GET", "/training-jobs") == (401, "ModelArts.0206")


def test_a_stale_signature_date_is_refused(keyed: tuple[ServerProcess, dict[str, Keys]]) -> None:
    server, keys = keyed
    client = signed_client(server.url, keys["aksk_a"])
    stale = (datetime.now(UTC) - timedelta(minutes=20)).strftime("%Y%m%dT%H%M%SZ")
    # The SDK signs with the X-Sdk-Date it is given: a replayed request 20 minutes late.
    assert refusal(client, "GET", "/training-jobs", headers={"X-Sdk-Date": stale}) == (401, "ModelArts.0206")


def test_another_project_in_the_url_is_refused(keyed: tuple[ServerProcess, dict[str, Keys]]) -> None:
    server, keys = keyed
    client = signed_client(server.url, keys["aksk_a"], project=PROJECT_B)
    assert refusal(client, "GET", "/training-jobs") == (403, "ModelArts.0210")


def test_otcextensions_lists_and_stops_with_a_token(
    keyed: tuple[ServerProcess, dict[str, Keys]], tmp_path: Path
) -> None:
    server, keys = keyed
    signed = signed_client(server.url, keys["aksk_a"])
    name = f"otc_{uuid.uuid4().hex[:8]}"
    created = call(signed, "POST", "/training-jobs", {"job_name": name, "config": new_config(tmp_path)})
    proxy = token_connection(server.url, keys["token_a"]["token"]).modelartsv1
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 30, message="job started")
    running = {job.id for job in proxy.training_jobs(status=8, limit=100)}  # ?per_page=100&status=8
    assert created["job_id"] in running
    suffix = uuid.uuid4().hex[:8]
    for first in ("zz", "aa"):  # created in the opposite order of their names; sort_by goes as sortBy
        quick = {**new_config(tmp_path), "user_command": "true"}
        call(signed, "POST", "/training-jobs", {"job_name": f"{first}_{suffix}", "config": quick})
    newest_first = [job.name for job in proxy.training_jobs(sort_by="create_time", order="desc", limit=1000)]
    assert [n for n in newest_first if n.endswith(suffix)] == [f"aa_{suffix}", f"zz_{suffix}"]
    versions = list(proxy.training_job_versions(created["job_id"]))
    assert [(v.version_id, v.status) for v in versions] == [(1, 8)]
    # stop_training_job_version() fails inside otcextensions before sending (reference §3.5): raw adapter.
    stopped = proxy.post(f"/training-jobs/{created['job_id']}/versions/1/stop").json()
    assert stopped["is_success"] is True and stopped["status"] in (9, 12)
    proxy.delete_training_job(created["job_id"])
    assert proxy.get(f"/training-jobs/{created['job_id']}/versions").status_code == 404


def test_a_wrong_token_or_none_is_refused(keyed: tuple[ServerProcess, dict[str, Keys]]) -> None:
    server, keys = keyed
    proxy = token_connection(server.url, keys["token_a"]["token"] + "x").modelartsv1
    response = proxy.get("/training-jobs", raise_exc=False)
    assert (response.status_code, response.json()["error_code"]) == (401, "ModelArts.0203")
    other_project = token_connection(server.url, keys["token_a"]["token"], PROJECT_B).modelartsv1
    response = other_project.get("/training-jobs", raise_exc=False)
    assert (response.status_code, response.json()["error_code"]) == (403, "ModelArts.0210")


def test_a_boto3_job_is_seen_and_stopped_by_its_tenant_only(
    keyed: tuple[ServerProcess, dict[str, Keys]], tmp_path: Path
) -> None:
    server, keys = keyed
    sm = boto3_client(server.url, keys["aws_a"])
    name = f"cross-{uuid.uuid4().hex[:8]}"
    sm.create_training_job(
        TrainingJobName=name,
        RoleArn=ROLE_ARN,
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", str(JOBS_DIR / "cooperative.py")],
        },
        OutputDataConfig={"S3OutputPath": f"file://{tmp_path / 'output'}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        Environment={"TEST_MARKER_DIR": str(tmp_path / "markers")},
    )
    owner = signed_client(server.url, keys["aksk_a"])
    found = call(owner, "GET", "/training-jobs", query={"search_content": name})["jobs"]
    assert [(job["job_name"], job["version_count"]) for job in found] == [(name, 1)]
    job = {"job_id": found[0]["job_id"], "version_id": 1}

    other = token_connection(server.url, keys["token_b"]["token"], PROJECT_B).modelartsv1
    assert [j for j in other.training_jobs(limit=1000) if j.name == name] == []
    for method, path in (("GET", ""), ("POST", "/stop"), ("DELETE", "")):
        response = other.request(f"/training-jobs/{job['job_id']}/versions/1{path}", method, raise_exc=False)
        assert (response.status_code, response.json()["error_code"]) == (404, "ModelArts.0015")
    response = other.get(f"/training-jobs/{job['job_id']}/versions", raise_exc=False)
    assert response.status_code == 404

    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 30, message="job started")
    call(owner, "POST", "/training-jobs/{job_id}/versions/{version_id}/stop", path_params=job)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    sm.get_waiter("training_job_completed_or_stopped").wait(
        TrainingJobName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    assert (
        call(owner, "GET", "/training-jobs/{job_id}/versions/{version_id}", path_params=job)["status"] == 12
    )
