"""Bad input on every Baseten endpoint gets Baseten's error shape with the right status (400 naming the
field, 404 for unknown ids, 409 for a conflict), never a 500; a property-based fuzz over every route."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.baseten import wire
from tests.support.postgres import store_arguments
from tests.support.server import ServerProcess

UNKNOWN_JOB = "00000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """On each store: PostgreSQL refuses some text SQLite takes (a NUL), which must not become a 500."""
    store_args = store_arguments(request)
    process = wire.server(tmp_path_factory.mktemp("baseten-errors"), *store_args)
    process.start()
    yield process
    process.kill()


@pytest.fixture(scope="module")
def ids(server: ServerProcess) -> dict[str, str]:
    """A project and a finished job in it."""
    with wire.client(server.url) as sdk:
        project = wire.upsert(sdk, "errors")
        job = sdk.api.post_training_projects_jobs(
            training_project_id=project.id, request=wire.job_request("true")
        ).training_job
    return {"p": project.id, "j": job.id}


def _job(**training_job: Any) -> dict[str, Any]:
    base = {"image": {"base_image": wire.BASE_IMAGE}, "runtime": {"start_commands": ["true"]}}
    return {"training_job": {**base, **training_job}}


P = "/v1/training_projects/{p}"
J = P + "/jobs/{j}"
CASES: list[tuple[str, str, Any, int, str]] = [
    # method, path, body (bytes are sent as they are), status, a word the message must hold
    ("POST", "/v1/training_projects", b"{not json", 400, "JSON"),
    ("POST", "/v1/training_projects", b"[1, 2]", 400, "body"),
    ("POST", "/v1/training_projects", {}, 400, "training_project"),
    ("POST", "/v1/training_projects", {"training_project": []}, 400, "training_project"),
    ("POST", "/v1/training_projects", {"training_project": {"name": 5}}, 400, "training_project.name"),
    ("POST", "/v1/training_projects", {"training_project": {"name": "  "}}, 400, "training_project.name"),
    # Longer than a job group's name column: was a 500 on PostgreSQL (value too long).
    (
        "POST",
        "/v1/training_projects",
        {"training_project": {"name": "p" * 129}},
        400,
        "training_project.name",
    ),
    ("POST", "/v1/training_projects", b'{"training_project": {"name": NaN}}', 400, "JSON"),
    ("POST", "/v1/teams/another-team/training_projects", {"training_project": {"name": "x"}}, 404, "team"),
    ("GET", "/v1/training_projects/not-a-number", None, 404, "training project"),
    ("GET", "/v1/training_projects/999999999999999999", None, 404, "training project"),  # > 32 bits
    ("GET", "/v1/training_projects/999999999", None, 404, "training project"),
    ("DELETE", "/v1/training_projects/999999999", None, 404, "training project"),
    ("POST", "/v1/training_projects/999999999/jobs", _job(), 404, "training project"),
    ("POST", P + "/jobs", {}, 400, "training_job"),
    ("POST", P + "/jobs", {"training_job": {}}, 400, "training_job.image"),
    ("POST", P + "/jobs", _job(image={"base_image": 3}), 400, "training_job.image.base_image"),
    ("POST", P + "/jobs", _job(image={"base_image": "unmapped:1"}), 400, "training_job.image.base_image"),
    (
        "POST",
        P + "/jobs",
        _job(runtime={"start_commands": "true"}),
        400,
        "training_job.runtime.start_commands",
    ),
    ("POST", P + "/jobs", _job(runtime={}), 400, "training_job.runtime.start_commands"),
    (
        "POST",
        P + "/jobs",
        _job(runtime={"start_commands": ["true"], "environment_variables": {"A": 1}}),
        400,
        "A",
    ),
    (
        "POST",
        P + "/jobs",
        _job(runtime={"start_commands": ["a"], "environment_variables": {"T": {"name": "s"}}}),
        400,
        "secret",
    ),
    (
        "POST",
        P + "/jobs",
        _job(runtime={"start_commands": ["a"], "artifacts": [{"s3_bucket": "b", "s3_key": "k"}]}),
        400,
        "artifacts",
    ),
    ("POST", P + "/jobs", _job(compute={"node_count": 2}), 400, "node_count"),
    ("POST", P + "/jobs", _job(compute={"cpu_count": "two"}), 400, "cpu_count"),
    ("POST", P + "/jobs", _job(compute={"memory": "lots"}), 400, "memory"),
    (
        "POST",
        P + "/jobs",
        _job(compute={"accelerator": {"accelerator": "H100", "count": 64}}),
        400,
        "compute",
    ),
    ("POST", P + "/jobs", _job(name=["n"]), 400, "training_job.name"),
    ("GET", "/v1/training_projects/999999999/jobs", None, 404, "training project"),
    ("GET", P + f"/jobs/{UNKNOWN_JOB}", None, 404, "training job"),
    ("GET", P + "/jobs/%00", None, 404, "training job"),
    ("POST", "/v1/training_jobs/search", {"job_id": "a\u0000b"}, 200, ""),
    (
        "POST",
        "/v1/training_projects",
        {"training_project": {"name": "a\u0000b"}},
        400,
        "training_project.name",
    ),
    ("DELETE", P + f"/jobs/{UNKNOWN_JOB}", None, 404, "training job"),
    ("POST", P + f"/jobs/{UNKNOWN_JOB}/stop", {}, 404, "training job"),
    ("POST", P + f"/jobs/{UNKNOWN_JOB}/recreate", {}, 404, "training job"),
    ("GET", P + f"/jobs/{UNKNOWN_JOB}/checkpoints", None, 404, "training job"),
    ("GET", P + f"/jobs/{UNKNOWN_JOB}/checkpoint_files", None, 404, "training job"),
    ("GET", P + f"/jobs/{UNKNOWN_JOB}/download", None, 404, "training job"),
    ("POST", P + f"/jobs/{UNKNOWN_JOB}/logs", {}, 404, "training job"),
    ("POST", P + f"/jobs/{UNKNOWN_JOB}/metrics", {}, 404, "training job"),
    ("GET", P + "/jobs/{j}/unknown-thing", None, 404, "route"),
    ("PATCH", J, {"priority": "high"}, 400, "priority"),
    ("PATCH", J, {"priority": 1}, 409, "TRAINING_JOB_PENDING"),
    ("POST", J + "/logs", {"limit": 0}, 400, "limit"),
    ("POST", J + "/logs", {"limit": 1001}, 400, "limit"),
    ("POST", J + "/logs", {"limit": "10"}, 400, "limit"),
    ("POST", J + "/logs", {"direction": "up"}, 400, "direction"),
    ("POST", J + "/logs", {"min_level": "LOUD"}, 400, "min_level"),
    ("POST", J + "/logs", {"start_epoch_millis": 10, "end_epoch_millis": 5}, 400, "end_epoch_millis"),
    ("GET", J + "/logs?limit=abc", None, 400, "limit"),
    ("POST", J + "/metrics", {"step_seconds": -1}, 400, "step_seconds"),
    ("GET", J + "/metrics?start_epoch_millis=x", None, 400, "start_epoch_millis"),
    ("GET", J + "/checkpoint_files?page_size=0", None, 400, "page_size"),
    ("GET", J + "/checkpoint_files?page_token=-1", None, 400, "page_token"),
    ("POST", "/v1/training_jobs/search", {"statuses": ["TRAINING_JOB_BOGUS"]}, 400, "statuses.0"),
    ("POST", "/v1/training_jobs/search", {"statuses": "TRAINING_JOB_RUNNING"}, 400, "statuses"),
    ("POST", "/v1/training_jobs/search", {"order_by": [{"field": "name", "order": "asc"}]}, 400, "order_by"),
    (
        "POST",
        "/v1/training_jobs/search",
        {"order_by": [{"field": "created_at", "order": "up"}]},
        400,
        "order",
    ),
    ("POST", "/v1/training_jobs/search", {"project_id": 5}, 400, "project_id"),
    ("POST", "/graphql/", {"query": "query Me{me{id}}"}, 400, "query"),
    ("GET", "/v1/training_files/forged.token", None, 404, "file"),
    ("GET", "/v1/blobs/credentials/model", None, 404, "route"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "word"), CASES)
def test_bad_input_gets_basetens_error_shape(
    server: ServerProcess, ids: dict[str, str], method: str, path: str, body: Any, status: int, word: str
) -> None:
    content = body if isinstance(body, bytes) else None if body is None else json.dumps(body).encode()
    path = path.replace("%252e%252e", "%2e%2e")
    answer = httpx.request(method, server.url + path.format(**ids), content=content)
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/json"
    if status == 200:
        assert answer.json() == {"training_jobs": []}
        return
    error = answer.json()
    assert set(error) == {"code", "message"}
    assert error["code"] == {400: "VALIDATION_ERROR", 404: "NOT_FOUND", 409: "CONFLICT"}[status]
    assert word in error["message"]


def test_stopping_a_completed_job_is_a_conflict(server: ServerProcess, ids: dict[str, str]) -> None:
    with wire.client(server.url) as sdk:
        from tests.support.waiting import wait_until

        wait_until(lambda: wire.status(sdk, ids["p"], ids["j"]) == "TRAINING_JOB_COMPLETED", 60, 0.1)
    answer = httpx.post(f"{server.url}/v1/training_projects/{ids['p']}/jobs/{ids['j']}/stop", json={})
    assert answer.status_code == 409 and answer.json()["code"] == "CONFLICT"


# --- fuzz ----------------------------------------------------------------------------------------

ROUTES = [
    ("GET", "/v1/training_projects"),
    ("POST", "/v1/training_projects"),
    ("POST", "/v1/teams/{t}/training_projects"),
    ("GET", "/v1/training_projects/{p}"),
    ("DELETE", "/v1/training_projects/{p}"),
    ("POST", "/v1/training_projects/{p}/jobs"),
    ("GET", "/v1/training_projects/{p}/jobs"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}"),
    ("PATCH", "/v1/training_projects/{p}/jobs/{j}"),
    ("DELETE", "/v1/training_projects/{p}/jobs/{j}"),
    ("POST", "/v1/training_projects/{p}/jobs/{j}/stop"),
    ("POST", "/v1/training_projects/{p}/jobs/{j}/recreate"),
    ("POST", "/v1/training_jobs/search"),
    ("POST", "/v1/training_projects/{p}/jobs/{j}/logs"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}/logs"),
    ("POST", "/v1/training_projects/{p}/jobs/{j}/metrics"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}/metrics"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}/checkpoints"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}/checkpoint_files"),
    ("GET", "/v1/training_projects/{p}/jobs/{j}/download"),
    ("GET", "/v1/training_files/{t}"),
    ("POST", "/graphql/"),
    ("GET", "/v1/blobs/credentials/train"),
]
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30)
)


def _containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=15), children, max_size=3)


def _shaped_containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.dictionaries(_keys, children, max_size=4) | st.lists(children, max_size=2)


_json = st.recursive(
    _scalars,
    _containers,
    max_leaves=10,
)
_keys = st.sampled_from(
    [
        "training_project",
        "training_job",
        "name",
        "image",
        "base_image",
        "runtime",
        "start_commands",
        "compute",
        "statuses",
        "order_by",
        "limit",
        "direction",
        "start_epoch_millis",
        "end_epoch_millis",
        "query",
        "job_id",
    ]
)
_shaped = st.recursive(
    _scalars,
    _shaped_containers,
    max_leaves=12,
)
_bodies = st.one_of(
    _json.map(lambda v: json.dumps(v).encode()),
    _shaped.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=64),
    st.sampled_from([b"", b"{", b"NaN", b"[]", b'{"limit": 1e999}', b'{"a":' * 2000]),
)
# A literal ".." segment never reaches the server: clients fold it into the path before sending.
_segments = st.one_of(
    st.sampled_from(
        ["1", "0", "-1", "99999999999999999999", UNKNOWN_JOB, "default", "%2e%2e", "\x00", "a\x00"]
    ),
    st.text(max_size=20),
)
_queries = st.dictionaries(
    st.sampled_from(["limit", "start_epoch_millis", "direction", "page_size", "page_token", "step_seconds"]),
    st.text(max_size=8),
    max_size=3,
)


def _harmless(raw: bytes) -> bytes:
    """A create that validates would run its commands (as root here): send it an image no rule maps."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return raw
    if isinstance(doc, dict) and isinstance(doc.get("training_job"), dict):
        doc["training_job"]["image"] = {"base_image": "fuzz/never-mapped"}
        return json.dumps(doc).encode()
    return raw


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), body=_bodies, p=_segments, j=_segments, t=_segments, query=_queries)
def test_fuzzed_requests_never_get_a_5xx(
    server: ServerProcess,
    ids: dict[str, str],
    route: tuple[str, str],
    body: bytes,
    p: str,
    j: str,
    t: str,
    query: dict[str, str],
) -> None:
    method, template = route
    path = template.format(
        p=quote(p or ids["p"], safe=""), j=quote(j or ids["j"], safe=""), t=quote(t, safe="")
    )
    path = path.replace("%252e%252e", "%2e%2e")
    answer = httpx.request(method, server.url + path, content=_harmless(body), params=query)
    assert answer.status_code < 500, (method, path, answer.text)
    if answer.status_code != 200:
        assert set(answer.json()) == {"code", "message"}, answer.text
