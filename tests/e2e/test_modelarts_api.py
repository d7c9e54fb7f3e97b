"""ModelArts v1 end to end on a real server in emulator mode (no credentials file): every endpoint,
real training jobs stopped through ModelArts, boto3 jobs seen as ModelArts jobs, and bad input answered
in ModelArts' envelope, never with a 5xx (reference/modelarts_baseten.md §1)."""

from __future__ import annotations

import io
import json
import socket
import tarfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.conftest import JOBS_DIR
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

PROJECT = "proj-e2e"
SPEC_ID = zlib.crc32(b"ml.m5.large")  # the spec id of ml.m5.large (GET .../job/resource-specs)


def config(tmp_path: Path, command: str, **changes: Any) -> dict[str, Any]:
    """A custom-image config running `command`; parameters become the job's environment."""
    base: dict[str, Any] = {
        "worker_server_num": 1,
        "spec_id": SPEC_ID,
        "train_url": f"file://{tmp_path / 'train'}",
        "user_image_url": "trainplane/python",
        "user_command": command,
        "parameter": [{"label": "TEST_MARKER_DIR", "value": str(tmp_path / "markers")}],
    }
    base.update(changes)
    return base


def cooperative(tmp_path: Path, **changes: Any) -> dict[str, Any]:
    """tests/jobs/cooperative.py: trains until SIGTERM, then saves its model."""
    return config(tmp_path, f"python {JOBS_DIR / 'cooperative.py'}", **changes)


class ModelArts:
    """The v1 REST calls over httpx (no maintained client implements v1; the signed and token clients
    are in test_modelarts_auth.py)."""

    def __init__(self, url: str, project: str = PROJECT, headers: dict[str, str] | None = None) -> None:
        self.base = f"{url}/v1/{project}"
        self.http = httpx.Client(timeout=30, headers=headers or {})

    def call(self, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, dict[str, Any]]:
        response = self.http.request(method, self.base + path, json=body, params=query)
        return response.status_code, response.json()

    def ok(self, method: str, path: str, body: Any = None, **query: Any) -> dict[str, Any]:
        status, document = self.call(method, path, body, **query)
        assert status == 200 and document["is_success"] is True, (status, document)
        return document

    def create(self, config: dict[str, Any], name: str | None = None, desc: str = "") -> dict[str, Any]:
        name = name or f"ma_{uuid.uuid4().hex[:10]}"
        return self.ok("POST", "/training-jobs", {"job_name": name, "job_desc": desc, "config": config})

    def version(self, job_id: int, version_id: int) -> dict[str, Any]:
        return self.ok("GET", f"/training-jobs/{job_id}/versions/{version_id}")

    def wait_status(
        self, job_id: int, version_id: int, status: int, timeout_seconds: float = 60
    ) -> dict[str, Any]:
        return wait_until(
            lambda: (found := self.version(job_id, version_id))["status"] == status and found,
            timeout_seconds,
            0.05,
            message=f"version {version_id} of job {job_id} reaches status {status}",
        )


def error_of(status: int, document: dict[str, Any]) -> tuple[int, str]:
    assert document["is_success"] is False
    assert document["error_message"] == document["error_msg"]
    return status, document["error_code"]


def model_json(version: dict[str, Any]) -> dict[str, Any]:
    """model.json from the version's packaged model.tar.gz."""
    location = urlsplit(version["trainplane"]["model_url"]).path
    with tarfile.open(location) as archive:
        member = archive.extractfile("model.json")
        assert member is not None
        found: dict[str, Any] = json.load(io.TextIOWrapper(member))
        return found


@pytest.fixture(scope="module")
def ma(server: ServerProcess) -> Iterator[ModelArts]:
    client = ModelArts(server.url)
    yield client
    client.http.close()


def test_create_then_list_and_describe_in_modelarts_shapes(ma: ModelArts, tmp_path: Path) -> None:
    created = ma.create(cooperative(tmp_path), desc="first")
    assert created["version_name"] == "V0001" and created["status"] in (7, 8)
    assert isinstance(created["job_id"], int) and isinstance(created["version_id"], int)
    assert abs(created["create_time"] - time.time() * 1000) < 60_000  # epoch milliseconds
    version = wait_until(
        lambda: (found := ma.version(created["job_id"], 1))["start_time"] is not None and found,
        30,
        0.05,
        message="the version's process started",  # status 8 already while inputs are staged
    )
    assert version["job_name"] == created["job_name"] and version["job_desc"] == "first"
    assert version["spec_id"] == SPEC_ID and version["spec_code"] == "ml.m5.large"
    assert version["user_command"].endswith("cooperative.py")
    assert {"label": "TEST_MARKER_DIR", "value": str(tmp_path / "markers")} in version["parameter"]
    assert version["status"] == 8 and isinstance(version["start_time"], int)
    assert isinstance(version["system_metric_list"], dict)
    listed = ma.ok("GET", "/training-jobs", status=8, search_content=created["job_name"], some_unknown="x")
    assert [job["job_id"] for job in listed["jobs"]] == [created["job_id"]]
    assert listed["job_total_count"] == 1 and listed["jobs"][0]["version_count"] == 1
    assert ma.ok("GET", "/training-jobs", status=10, search_content=created["job_name"])["jobs"] == []
    assert ma.ok("GET", "/training-jobs", status=13)["job_total_count"] == 0  # a code never reported
    ma.ok("POST", f"/training-jobs/{created['job_id']}/versions/1/stop")


def test_stop_goes_killing_then_killed_and_keeps_the_model(ma: ModelArts, tmp_path: Path) -> None:
    created = ma.create(cooperative(tmp_path))
    job_id = created["job_id"]
    wait_until(lambda: list((tmp_path / "markers").glob("started-*")), 30, message="job started")
    stopped = ma.ok("POST", f"/training-jobs/{job_id}/versions/1/stop")
    assert stopped["status"] in (9, 12)  # KILLING while the grace window runs, then KILLED
    again = ma.ok("POST", f"/training-jobs/{job_id}/versions/1/stop")  # idempotent while stopping
    assert again["status"] in (9, 12)
    version = ma.wait_status(job_id, 1, 12)
    assert version["trainplane"]["stop_reason"] == "user"
    assert model_json(version)["stopped"] is True  # what the job saved on SIGTERM is packaged
    assert ma.ok("POST", f"/training-jobs/{job_id}/versions/1/stop")["status"] == 12


def test_stopping_a_completed_version_is_refused(ma: ModelArts, tmp_path: Path) -> None:
    parameters = [
        {"label": "TEST_MARKER_DIR", "value": str(tmp_path / "markers")},
        {"label": "EXIT_AFTER_STEPS", "value": "1"},
    ]
    created = ma.create(cooperative(tmp_path, parameter=parameters))
    ma.wait_status(created["job_id"], 1, 10)
    status, document = ma.call("POST", f"/training-jobs/{created['job_id']}/versions/1/stop")
    assert error_of(status, document) == (400, "ModelArts.0104")
    assert "COMPLETED (10)" in document["error_message"]


def test_a_version_from_a_pre_version_inherits_its_config(ma: ModelArts, tmp_path: Path) -> None:
    parameters = [
        {"label": "TEST_MARKER_DIR", "value": str(tmp_path / "markers")},
        {"label": "EXIT_AFTER_STEPS", "value": "1"},
    ]
    created = ma.create(cooperative(tmp_path, parameter=parameters))
    job_id = created["job_id"]
    ma.wait_status(job_id, 1, 10)
    changed = [*parameters, {"label": "EXIT_CODE", "value": "3"}]
    second = ma.ok(
        "POST",
        f"/training-jobs/{job_id}/versions",
        {"job_desc": "second try", "config": {"pre_version_id": 1, "parameter": changed}},
    )
    assert (second["version_id"], second["version_name"]) == (2, "V0002")
    failed = ma.wait_status(job_id, 2, 11)  # exit 3: JOBSTAT_FAILED
    assert failed["pre_version_id"] == 1 and failed["user_command"].endswith("cooperative.py")
    versions = ma.ok("GET", f"/training-jobs/{job_id}/versions")
    assert [v["version_id"] for v in versions["versions"]] == [2, 1]  # newest first
    assert versions["version_count"] == 2 and versions["job_desc"] == "second try"
    assert isinstance(versions["versions"][0]["system_metric_list"], str)
    paged = ma.ok("GET", f"/training-jobs/{job_id}/versions", per_page=1, page=2)
    assert [v["version_id"] for v in paged["versions"]] == [1]
    listed = ma.ok("GET", "/training-jobs", search_content=created["job_name"])["jobs"][0]
    assert (listed["version_id"], listed["status"], listed["version_count"]) == (2, 11, 2)


def test_a_boot_file_runs_on_an_engine_with_its_parameters_as_arguments(
    ma: ModelArts, tmp_path: Path
) -> None:
    script = tmp_path / "boot.py"
    script.write_text("import json, sys; json.dump(sys.argv[1:], open(sys.argv[0] + '.args', 'w'))\n")
    engines = ma.ok("GET", "/job/ai-engines", job_type="train")["engines"]
    engine = next(e for e in engines if e["engine_name"] == "trainplane/python")
    created = ma.create(
        {
            "worker_server_num": 1,
            "spec_id": SPEC_ID,
            "train_url": str(tmp_path / "train"),
            "boot_file_url": f"file://{script}",
            "engine_id": engine["engine_id"],
            "parameter": [{"label": "epochs", "value": "3"}, {"label": "lr", "value": 0.5}],
        }
    )
    version = ma.wait_status(created["job_id"], 1, 10)
    assert json.loads((tmp_path / "boot.py.args").read_text()) == ["--epochs=3", "--lr=0.5"]
    assert (version["engine_id"], version["engine_name"]) == (engine["engine_id"], "trainplane/python")


def test_log_pages_move_with_their_cursors(ma: ModelArts, tmp_path: Path) -> None:
    script = tmp_path / "lines.py"
    script.write_text("for i in range(1, 21): print(f'line {i}')\n")
    created = ma.create(config(tmp_path, f"python {script}"))
    path = f"/training-jobs/{created['job_id']}/versions/1"
    ma.wait_status(created["job_id"], 1, 10)
    names = ma.ok("GET", f"{path}/log/file-names")["log_file_list"]
    assert len(names) == 1
    latest = ma.ok("GET", f"{path}/aom-log", log_file=names[0], lines=5)
    assert latest["content"].splitlines() == [f"line {i}" for i in range(16, 21)] and latest["lines"] == 5
    earlier = ma.ok(
        "GET", f"{path}/aom-log", log_file=names[0], lines=3, base_line=latest["start_line"], order="asc"
    )
    assert earlier["content"].splitlines() == ["line 13", "line 14", "line 15"]
    later = ma.ok(
        "GET", f"{path}/aom-log", log_file=names[0], lines=2, base_line=earlier["end_line"], order="desc"
    )
    assert later["content"].splitlines() == ["line 16", "line 17"]
    end = ma.ok("GET", f"{path}/aom-log", log_file=names[0], base_line=latest["end_line"], order="desc")
    assert (end["content"], end["lines"]) == ("", 0)
    status, document = ma.call("GET", f"{path}/aom-log", log_file="other.0")
    assert error_of(status, document) == (400, "ModelArts.0101")


def test_descriptions_change_and_deletes_stop_running_versions(ma: ModelArts, tmp_path: Path) -> None:
    created = ma.create(cooperative(tmp_path))
    job_id = created["job_id"]
    ma.ok("PUT", f"/training-jobs/{job_id}", {"job_desc": "renamed"})
    assert ma.version(job_id, 1)["job_desc"] == "renamed"
    ma.ok("POST", f"/training-jobs/{job_id}/versions", {"config": {"pre_version_id": 1}})
    wait_until(lambda: len(list((tmp_path / "markers").glob("started-*"))) == 2, 30, message="both run")
    ma.ok("DELETE", f"/training-jobs/{job_id}/versions/2")
    assert error_of(*ma.call("GET", f"/training-jobs/{job_id}/versions/2")) == (404, "ModelArts.0015")
    wait_until(lambda: len(list((tmp_path / "markers").glob("sigterm-*"))) == 1, 60, message="V2 stopped")
    ma.ok("DELETE", f"/training-jobs/{job_id}")
    assert error_of(*ma.call("GET", f"/training-jobs/{job_id}/versions")) == (404, "ModelArts.0015")
    wait_until(lambda: len(list((tmp_path / "markers").glob("sigterm-*"))) == 2, 60, message="V1 stopped")
    assert ma.ok("GET", "/training-jobs", search_content=created["job_name"])["jobs"] == []


def test_resource_specs_come_from_the_instance_type_table(ma: ModelArts) -> None:
    specs = ma.ok("GET", "/job/resource-specs", job_type="train", engine_id="1", project_type="1")
    assert specs["spec_total_count"] == len(specs["specs"]) > 100
    large = next(spec for spec in specs["specs"] if spec["spec_code"] == "ml.m5.large")
    assert (large["spec_id"], large["core"], large["cpu"], large["gpu_num"]) == (SPEC_ID, "2", "8GiB", 0)
    gpu = next(spec for spec in specs["specs"] if spec["spec_code"] == "ml.p3.2xlarge")
    assert (gpu["gpu_num"], gpu["gpu_type"]) == (1, "NVIDIA V100")


def test_a_boto3_job_is_a_modelarts_job_with_one_version(
    ma: ModelArts, sm: Any, job_request: Callable[..., dict[str, Any]]
) -> None:
    request = job_request()
    sm.create_training_job(**request)
    name = request["TrainingJobName"]
    found = ma.ok("GET", "/training-jobs", search_content=name)["jobs"]
    assert [(job["job_name"], job["version_id"], job["version_count"]) for job in found] == [(name, 1, 1)]
    job_id = found[0]["job_id"]
    ma.wait_status(job_id, 1, 8)
    version = ma.version(job_id, 1)
    assert version["train_url"] == request["OutputDataConfig"]["S3OutputPath"]
    ma.ok("POST", f"/training-jobs/{job_id}/versions/1/stop")
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] in ("Stopping", "Stopped")
    ma.wait_status(job_id, 1, 12)
    assert sm.describe_training_job(TrainingJobName=name)["TrainingJobStatus"] == "Stopped"
    status, document = ma.call("POST", f"/training-jobs/{job_id}/versions", {"config": {"pre_version_id": 1}})
    assert error_of(status, document) == (400, "ModelArts.0101")
    assert "not created through ModelArts" in document["error_message"]  # nothing to inherit from boto3


def test_a_version_is_a_sagemaker_job_too(ma: ModelArts, sm: Any, tmp_path: Path) -> None:
    created = ma.create(cooperative(tmp_path))
    version = ma.version(created["job_id"], 1)
    slug = created["job_name"].replace("_", "-")
    listed = sm.list_training_jobs(NameContains=slug)["TrainingJobSummaries"]
    assert [summary["TrainingJobName"] for summary in listed] == [f"{slug}-v1"]  # <job_name>-v<n>
    name = listed[0]["TrainingJobName"]
    described = sm.describe_training_job(TrainingJobName=name)
    assert described["TrainingJobArn"].endswith(name) and version["resource_id"]
    sm.stop_training_job(TrainingJobName=name)
    assert ma.wait_status(created["job_id"], 1, 12)["trainplane"]["status"] == "Stopped"


BAD_REQUESTS: list[tuple[str, str, Any, dict[str, Any], int, str]] = [
    ("POST", "/training-jobs", None, {}, 400, "ModelArts.0101"),
    ("POST", "/training-jobs", {"job_name": "bad name!", "config": {}}, {}, 400, "ModelArts.0101"),
    (
        "POST",
        "/training-jobs",
        {"job_name": "ok", "config": {"worker_server_num": "two"}},
        {},
        400,
        "ModelArts.0101",
    ),
    (
        "POST",
        "/training-jobs",
        {"job_name": "ok", "config": {"spec_id": 1, "worker_server_num": 1}},
        {},
        400,
        "ModelArts.0101",
    ),
    ("GET", "/training-jobs", None, {"per_page": "0"}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs", None, {"page": "x"}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs", None, {"sortBy": "nope"}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs", None, {"order": "sideways"}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs", None, {"status": "99"}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs", None, {"search_content": "x" * 65}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/abc/versions/1", None, {}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/1/versions/-1", None, {}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/99999999/versions/1", None, {}, 404, "ModelArts.0015"),
    # A Long id past the store's 32-bit group ids: PostgreSQL refused to compare it (a 500).
    ("GET", "/training-jobs/9223372036854775807/versions/1", None, {}, 404, "ModelArts.0015"),
    ("POST", "/training-jobs/2147483648/versions/1/stop", None, {}, 404, "ModelArts.0015"),
    ("GET", "/training-jobs/1.5/versions", None, {}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/99999999/versions", None, {}, 404, "ModelArts.0015"),
    (
        "POST",
        "/training-jobs/99999999/versions",
        {"config": {"pre_version_id": 1}},
        {},
        404,
        "ModelArts.0015",
    ),
    ("POST", "/training-jobs/1/versions", {"config": {}}, {}, 400, "ModelArts.0101"),
    ("POST", "/training-jobs/x/versions/1/stop", None, {}, 400, "ModelArts.0101"),
    ("POST", "/training-jobs/99999999/versions/1/stop", None, {}, 404, "ModelArts.0015"),
    ("DELETE", "/training-jobs/99999999/versions/1", None, {}, 404, "ModelArts.0015"),
    ("DELETE", "/training-jobs/NaN", None, {}, 400, "ModelArts.0101"),
    ("DELETE", "/training-jobs/99999999", None, {}, 404, "ModelArts.0015"),
    ("PUT", "/training-jobs/99999999", {"job_desc": "x"}, {}, 404, "ModelArts.0015"),
    ("PUT", "/training-jobs/1", {"job_desc": 5}, {}, 400, "ModelArts.0101"),
    ("PUT", "/training-jobs/1", [], {}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/99999999/versions/1/log/file-names", None, {}, 404, "ModelArts.0015"),
    ("GET", "/training-jobs/1/versions/0/aom-log", None, {}, 400, "ModelArts.0101"),
    ("GET", "/training-jobs/99999999/versions/1/aom-log", None, {"log_file": "x"}, 404, "ModelArts.0015"),
    ("PATCH", "/training-jobs", None, {}, 404, "APIGW.0101"),
    ("GET", "/training-jobs/1/versions/1/nothing", None, {}, 404, "APIGW.0101"),
    ("GET", "/job/nothing", None, {}, 404, "APIGW.0101"),
]


@pytest.mark.parametrize(("method", "path", "body", "query", "status", "code"), BAD_REQUESTS)
def test_bad_input_gets_a_modelarts_error(
    ma: ModelArts, method: str, path: str, body: Any, query: dict[str, Any], status: int, code: str
) -> None:
    assert error_of(*ma.call(method, path, body, **query)) == (status, code)


@pytest.mark.parametrize("raw", [b"{", b"\xff\xfe", b'{"job_name": NaN}', b"[" * 50_000, b'"x"'])
def test_a_body_that_is_not_a_json_object_is_refused(ma: ModelArts, raw: bytes) -> None:
    response = ma.http.post(ma.base + "/training-jobs", content=raw)
    assert error_of(response.status_code, response.json()) == (400, "ModelArts.0101")


def test_a_job_name_in_use_is_refused(ma: ModelArts, tmp_path: Path) -> None:
    parameters = [
        {"label": "EXIT_AFTER_STEPS", "value": "1"},
        {"label": "TEST_MARKER_DIR", "value": str(tmp_path)},
    ]
    created = ma.create(cooperative(tmp_path, parameter=parameters))
    status, document = ma.call(
        "POST", "/training-jobs", {"job_name": created["job_name"].upper(), "config": cooperative(tmp_path)}
    )
    assert error_of(status, document) == (400, "ModelArts.0103")


def test_a_location_outside_the_allowed_roots_is_refused_and_leaves_no_job(
    ma: ModelArts, tmp_path: Path
) -> None:
    name = f"ma_{uuid.uuid4().hex[:10]}"
    body = {"job_name": name, "config": cooperative(tmp_path, train_url="/etc/trainplane-nope")}
    status, document = ma.call("POST", "/training-jobs", body)
    assert error_of(status, document) == (400, "ModelArts.0101")
    assert document["error_message"].startswith("config.train_url")
    assert ma.ok("GET", "/training-jobs", search_content=name)["jobs"] == []


def test_a_huge_body_is_refused_in_the_modelarts_envelope(ma: ModelArts) -> None:
    """Declared too large: refused before it is sent, as ModelArts words a refusal."""
    parts = urlsplit(ma.base)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        head = f"POST {parts.path}/training-jobs HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
        sock.sendall(f"{head}Content-Length: {200 * 1024 * 1024}\r\n\r\n".encode())
        received = b""
        while chunk := sock.recv(65536):  # a 413 closes the connection
            received += chunk
    status_line, _, body = received.partition(b"\r\n\r\n")
    assert status_line.split()[1] == b"413"
    assert error_of(413, json.loads(body)) == (413, "ModelArts.0101")


def test_the_digits_example_stops_with_its_checkpoint_and_the_next_version_resumes(
    ma: ModelArts, tmp_path: Path
) -> None:
    """The demo's story through ModelArts: train, stop (KILLING, KILLED), keep the model and the
    checkpoint in train_url, and a version made from it resumes where it stopped."""
    example = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"
    parameters = [{"label": "seconds_per_epoch", "value": "0.1"}, {"label": "epochs", "value": "100000"}]
    created = ma.create(config(tmp_path, f"python {example}", parameter=parameters))
    job_id = created["job_id"]
    path = f"/training-jobs/{job_id}/versions"

    def log(version: int) -> str:
        log_file = ma.ok("GET", f"{path}/{version}/log/file-names")["log_file_list"][0]
        return str(ma.ok("GET", f"{path}/{version}/aom-log", log_file=log_file, lines=500)["content"])

    wait_until(lambda: log(1).count("epoch=") >= 3, 60, 0.1, message="three epochs")
    ma.ok("POST", f"{path}/1/stop")
    stopped = ma.wait_status(job_id, 1, 12)
    assert stopped["trainplane"]["has_complete_checkpoint"] is True
    saved_epoch = model_json(stopped)["epoch"]
    assert (tmp_path / "train" / "checkpoints" / "checkpoint.npz").exists()  # <train_url>/checkpoints

    ma.ok("POST", path, {"config": {"pre_version_id": 1}})
    resumed = wait_until(lambda: "resumed from epoch=" in (text := log(2)) and text, 60, 0.1)
    assert int(resumed.split("resumed from epoch=")[1].split()[0]) >= saved_epoch
    ma.ok("POST", f"{path}/2/stop")
    ma.wait_status(job_id, 2, 12)
