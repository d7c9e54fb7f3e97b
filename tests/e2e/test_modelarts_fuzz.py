"""Property-based fuzzing of the ModelArts routes on a real server: whatever the path ids, query and
body, the answer is never a 5xx and every refusal is ModelArts' envelope (`is_success: false`,
`error_code`, `error_message`, `error_msg`).

Bodies are drawn from the shape of a create config (so many reach the service), mixed with arbitrary
JSON and raw junk. Members naming paths or programs are forced to harmless values first: a create
that validates really runs, so it runs `true` and writes only below the test's tmp dir.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.test_fuzz_wire import json_values
from tests.support.server import ServerProcess
from tests.support.waiting import wait_until

FUZZ_SETTINGS = settings(
    max_examples=150,
    deadline=None,  # a shared 2-core machine: latency is not what is tested here
    database=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.function_scoped_fixture,
    ],
)
SPEC_ID = zlib.crc32(b"ml.m5.large")
ROUTES = [
    ("POST", "training-jobs"),
    ("GET", "training-jobs"),
    ("PUT", "training-jobs/{job}"),
    ("DELETE", "training-jobs/{job}"),
    ("GET", "training-jobs/{job}/versions"),
    ("POST", "training-jobs/{job}/versions"),
    ("GET", "training-jobs/{job}/versions/{version}"),
    ("DELETE", "training-jobs/{job}/versions/{version}"),
    ("POST", "training-jobs/{job}/versions/{version}/stop"),
    ("GET", "training-jobs/{job}/versions/{version}/log/file-names"),
    ("GET", "training-jobs/{job}/versions/{version}/aom-log"),
    ("GET", "job/resource-specs"),
    ("GET", "job/ai-engines"),
]
QUERY_NAMES = [
    "status",
    "per_page",
    "page",
    "sortBy",
    "order",
    "search_content",
    "log_file",
    "lines",
    "base_line",
]

_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=30)
_ids = st.sampled_from(["1", "2", "0", "-1", "abc", "1.0", "9" * 25, "", "%20", "1e3"]) | st.integers().map(
    str
)
_numbers = st.integers(-(2**70), 2**70)
_changes = st.fixed_dictionaries(
    {},
    optional={
        "worker_server_num": st.sampled_from([1, 2, 0]) | _numbers | json_values,
        "spec_id": st.sampled_from([SPEC_ID, 1]) | _numbers | json_values,
        "train_url": st.just("TRAIN") | json_values,
        "data_url": st.just("DATA") | json_values,
        "user_image_url": st.sampled_from(["trainplane/python", "nope/image"]) | json_values,
        "user_command": st.just("true") | json_values,
        "boot_file_url": st.just("BOOT") | json_values,
        "engine_id": st.sampled_from([1, 2]) | json_values,
        "parameter": st.lists(
            st.fixed_dictionaries({}, optional={"label": _text | json_values, "value": _text | json_values}),
            max_size=3,
        )
        | json_values,
        "pre_version_id": st.sampled_from([1, 2]) | json_values,
        "data_source": st.lists(st.fixed_dictionaries({}, optional={"type": _text, "data_url": _text}))
        | json_values,
        "model_id": json_values,
        "volumes": json_values,
    },
)
_VALID = {
    "worker_server_num": 1,
    "spec_id": SPEC_ID,
    "train_url": "TRAIN",
    "user_image_url": "trainplane/python",
    "user_command": "true",
}
# A valid config with a few members changed (often none), or any combination of members.
_config = (
    st.builds(
        lambda changes, count: {**_VALID, **dict(list(changes.items())[:count])}, _changes, st.integers(0, 2)
    )
    | _changes
)
_names = st.from_regex(r"fz[a-z0-9_-]{1,20}", fullmatch=True)
_bodies = st.one_of(
    # Most often a create that passes every check but one, or none (these reach the service).
    st.fixed_dictionaries({"job_name": _names, "config": _config}, optional={"job_desc": _text}),
    st.fixed_dictionaries(
        {}, optional={"job_name": _names | _text, "job_desc": _text, "config": _config | json_values}
    ),
    json_values,
)
_junk = st.sampled_from(
    [b"", b"{", b"[]", b"null", b'{"a": NaN}', b"\xff\xfe", b'"x"', b"1e999999", b"[" * 5000]
)


def _harmless(value: Any, safe_dir: Path) -> Any:
    """Place holders replaced: locations below `safe_dir`, a boot file that does nothing."""
    text = json.dumps(value)
    (safe_dir / "boot.py").write_text("pass\n")
    for placeholder, real in (
        ('"TRAIN"', json.dumps(str(safe_dir / "train"))),
        ('"DATA"', json.dumps(str(safe_dir))),
        ('"BOOT"', json.dumps(str(safe_dir / "boot.py"))),
    ):
        text = text.replace(placeholder, real)
    return json.loads(text)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # Few active jobs: most valid creates meet the limit, and the machine stays calm.
    process = ServerProcess(
        tmp_path_factory.mktemp("modelarts-fuzz"), "--max-active-jobs", "2", "--stop-grace-seconds", "1"
    )
    process.start()
    yield process
    try:
        _stop_everything(process.url)
    finally:
        process.kill()
    assert "Traceback" not in process.logs(), process.logs()[-4000:]


def _stop_everything(url: str) -> None:
    base = f"{url}/v1/fuzz"

    def active() -> list[int]:
        jobs = httpx.get(f"{base}/training-jobs", params={"per_page": 1000}).json()["jobs"]
        return [job["job_id"] for job in jobs if job["status"] in (7, 8, 9)]

    for job_id in active():
        httpx.delete(f"{base}/training-jobs/{job_id}")  # stops its running versions first
    wait_until(lambda: not active(), 60, 0.1, message="every fuzzed job ended")


def _assert_modelarts_answer(response: httpx.Response) -> None:
    assert response.status_code < 500 or response.status_code == 503, response.text
    document = response.json()
    assert isinstance(document, dict) and isinstance(document.get("is_success"), bool), response.text
    if response.status_code < 400:
        assert document["is_success"] is True, response.text
        return
    assert document["is_success"] is False
    assert isinstance(document["error_code"], str) and document["error_code"], response.text
    assert document["error_code"] != "ModelArts.0010", response.text  # an internal error is a bug found
    assert document["error_message"] == document["error_msg"]
    assert len(response.content) <= 16 * 1024


@pytest.mark.parametrize(("method", "route"), ROUTES)
def test_modelarts_routes_never_answer_5xx(
    fuzz_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory, method: str, route: str
) -> None:
    safe_dir = tmp_path_factory.mktemp("modelarts-fuzz-output")

    with httpx.Client(base_url=f"{fuzz_server.url}/v1/fuzz/", timeout=30) as client:

        @FUZZ_SETTINGS
        @given(
            job=_ids,
            version=_ids,
            query=st.dictionaries(st.sampled_from(QUERY_NAMES) | _text, _text | _ids, max_size=4),
            body=_bodies | _junk,
        )
        def check(job: str, version: str, query: dict[str, str], body: Any) -> None:
            if not isinstance(body, bytes):
                body = json.dumps(_harmless(body, safe_dir)).encode()
            path = route.replace("{job}", job or "1").replace("{version}", version or "1")
            response = client.request(method, path, params=query, content=body)
            if response.status_code == 404 and response.json().get("error_code") == "APIGW.0101":
                return  # an id that is not one path segment ("a/b") names another API: fine
            _assert_modelarts_answer(response)

        check()


def test_the_fuzzed_creates_reached_the_service(fuzz_server: ServerProcess) -> None:
    """The bodies are not all refused by the first check: some became real jobs (runs after the routes)."""
    assert "event=job_created" in fuzz_server.logs()
