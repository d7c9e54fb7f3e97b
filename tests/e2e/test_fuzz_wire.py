"""Property-based fuzzing of a real server: no input gets a 5xx, every refusal has the dialect's shape.

Issue 6. Bodies are drawn from botocore's own input shapes (so they reach the service, not only the
validator), mixed with arbitrary JSON, raw junk, NaN-ish constants, huge numbers and deep nesting.
Members that name paths or programs are forced to harmless values first: a create that validates
really runs, as root here, so it runs `python -c pass` and writes only below the test's tmp dir.
"""

from __future__ import annotations

import base64
import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.e2e.conftest import ROLE_ARN, sagemaker_client, stop_every_job
from tests.support.server import ServerProcess
from trainplane.api.sagemaker import shapes

# Hypothesis words a warning about the repr of the big CreateTrainingJob strategy; harmless.
pytestmark = pytest.mark.filterwarnings("ignore:Generating overly large repr")

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,  # a shared 2-core machine: latency is not what is tested here
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAX_DEPTH = 5
OPERATIONS = sorted(shapes.SUPPORTED_OPERATIONS)
SAGEMAKER_JSON = "application/x-amz-json-1.1"

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**300), max_value=10**300),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
)
json_values = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)


@functools.cache
def _typed(shape: Any, depth: int) -> st.SearchStrategy[Any]:
    """Values of the shape's JSON type, often within its constraints (enums, bounds)."""
    kind = shape.type_name
    if depth > MAX_DEPTH:
        return st.none()
    if kind == "structure":
        members = {name: for_shape(member, depth + 1) for name, member in shape.members.items()}
        required = {name: members.pop(name) for name in shape.required_members if name in members}
        return st.fixed_dictionaries(required, optional=members)
    if kind == "list":
        return st.lists(for_shape(shape.member, depth + 1), max_size=3)
    if kind == "map":
        keys = _typed(shape.key, depth + 1) | st.text(max_size=20)  # JSON keys are strings
        return st.dictionaries(keys, for_shape(shape.value, depth + 1), max_size=3)
    if kind == "string":
        enum = getattr(shape, "enum", None)
        limit = shape.metadata.get("max", 64)
        return st.sampled_from(enum) if enum else st.text(min_size=1, max_size=min(limit, 80))
    if kind in ("integer", "long"):
        return st.integers(shape.metadata.get("min", -(2**63)), shape.metadata.get("max", 2**63))
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "timestamp":
        return st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=30)
    return st.text(max_size=40)


def for_shape(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Mostly well-typed values, sometimes anything at all."""
    return st.one_of(_typed(shape, depth), _typed(shape, depth), _typed(shape, depth), json_values)


def _harmless(value: Any, safe_dir: Path) -> Any:
    """`value` with every path, URI and program member pointed at harmless targets."""
    if isinstance(value, list):
        return [_harmless(item, safe_dir) for item in value]
    if not isinstance(value, dict):
        return value
    cleaned: dict[Any, Any] = {}
    for key, item in value.items():
        if key in ("LocalPath", "ContainerArguments", "FileSystemDataSource"):
            continue
        if key == "ContainerEntrypoint":
            item = ["python", "-c", "pass"]
        elif key == "TrainingImage":
            item = "trainplane/python"
        elif isinstance(key, str) and key.endswith(("Uri", "Path", "Url")) and item is not None:
            item = f"file://{safe_dir}/{abs(hash(json.dumps(item, default=str))) % 1000}"
        cleaned[key] = _harmless(item, safe_dir)
    return cleaned


def _bodies(operation: str) -> st.SearchStrategy[bytes]:
    shape = shapes.service_model().operation_model(operation).input_shape
    encoded = (for_shape(shape) | json_values).map(lambda value: value)
    junk = st.sampled_from(
        [b"", b"{", b"[]", b"null", b'{"a": NaN}', b'{"a": -Infinity}', b"\xff\xfe", b'"x"', b"1e999999"]
    )
    return st.one_of(encoded, junk, _nested_bodies(shape))


def _nested_bodies(shape: Any) -> st.SearchStrategy[bytes]:
    """A member nested hundreds to thousands of levels deep (Python's JSON recursion limit is ~1000)."""
    member = st.sampled_from(sorted(shape.members) or ["X"])
    depth = st.sampled_from([40, 500, 999, 1001, 5000, 100_000])
    opening = st.sampled_from([("[", "]"), ('{"a":', "}")])

    def build(name: str, levels: int, brackets: tuple[str, str]) -> bytes:
        inner = brackets[0] * levels + ("1" if brackets[1] == "}" else "") + brackets[1] * levels
        return json.dumps({name: "@"}).replace('"@"', inner).encode()

    return st.builds(build, member, depth, opening)


def _forged_tokens() -> st.SearchStrategy[str]:
    """Page tokens shaped like the server's (base64 of {"s", "a", "k"}) with any field values."""
    doc = st.fixed_dictionaries(
        {},
        optional={
            "s": st.sampled_from(["CreationTime", "Name", "Status"]) | json_values,
            "a": st.booleans() | json_values,
            "k": st.lists(json_values, max_size=4) | json_values,
        },
    )
    return (doc | json_values).map(
        lambda value: base64.urlsafe_b64encode(json.dumps(value).encode()).decode()
    )


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # Few active jobs: most valid creates meet ResourceLimitExceeded, and the machine stays calm.
    process = ServerProcess(
        tmp_path_factory.mktemp("fuzz"), "--max-active-jobs", "2", "--stop-grace-seconds", "1"
    )
    process.start()
    _create_logged_job(process.url, tmp_path_factory.mktemp("fuzz-job"))
    yield process
    try:
        stop_every_job(sagemaker_client(process.url))
    finally:
        process.kill()
    assert "Traceback" not in process.logs(), process.logs()[-4000:]


LOGGED_JOB = "fuzz-logged-job"


def _create_logged_job(url: str, output_dir: Path) -> None:
    """One real job with a log, so the native log route reads a file and not only NotFound."""
    sagemaker_client(url).create_training_job(
        TrainingJobName=LOGGED_JOB,
        RoleArn=ROLE_ARN,
        AlgorithmSpecification={
            "TrainingImage": "trainplane/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["python", "-c", "print('a line of log')"],
        },
        OutputDataConfig={"S3OutputPath": f"file://{output_dir}"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )


def _assert_refusal_shape(response: httpx.Response, content_type: str) -> None:
    if response.status_code >= 500:
        document = response.json()
        # Only a retryable outage may be a 5xx; an internal failure is a bug the fuzzer found.
        assert (response.status_code, document.get("__type")) == (503, "ServiceUnavailable"), response.text
    if response.status_code < 400:
        return
    assert response.headers["content-type"].startswith(content_type), response.headers
    document = response.json()
    assert isinstance(document.get("__type"), str) and document["__type"], response.text
    assert isinstance(document.get("message"), str), response.text
    assert document["__type"] != "InternalFailure", response.text
    assert len(response.content) <= 64 * 1024


@pytest.mark.parametrize("operation", OPERATIONS)
def test_sagemaker_operations_never_answer_5xx(
    fuzz_server: ServerProcess, tmp_path_factory: pytest.TempPathFactory, operation: str
) -> None:
    safe_dir = tmp_path_factory.mktemp("fuzz-output")
    headers = {"X-Amz-Target": f"SageMaker.{operation}", "Content-Type": SAGEMAKER_JSON}

    with httpx.Client(base_url=fuzz_server.url, timeout=30) as client:

        @FUZZ_SETTINGS
        @given(st.one_of(_bodies(operation), for_shape(_input(operation)), _with_token(operation)))
        def check(body: Any) -> None:
            if not isinstance(body, bytes):
                body = json.dumps(_harmless(body, safe_dir)).encode()
            _assert_refusal_shape(client.post("/", headers=headers, content=body), SAGEMAKER_JSON)

        check()


def _input(operation: str) -> Any:
    return shapes.service_model().operation_model(operation).input_shape


def _with_token(operation: str) -> st.SearchStrategy[Any]:
    """A body with a forged NextToken, for the operations that page."""
    if "NextToken" not in _input(operation).members:
        return st.nothing()
    return st.builds(lambda body, token: {**body, "NextToken": token}, st.just({}), _forged_tokens())


@FUZZ_SETTINGS
@given(
    # Header-legal text only: an illegal header is refused by the HTTP layer, before any dialect.
    target=st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), max_size=40)
    | st.sampled_from(["SageMaker.", "SageMaker.CreateEndpoint", "SageMaker.ListTrainingJobs.", ""]),
    body=json_values.map(lambda value: json.dumps(value).encode()),
)
def test_unknown_targets_are_refused_in_shape(fuzz_server: ServerProcess, target: str, body: bytes) -> None:
    headers = {
        "X-Amz-Target": target.encode("utf-8", "ignore").decode("latin-1"),
        "Content-Type": SAGEMAKER_JSON,
    }
    response = httpx.post(fuzz_server.url, headers=headers, content=body)
    _assert_refusal_shape(response, SAGEMAKER_JSON)


_url_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=40)


@FUZZ_SETTINGS
@given(
    kind=st.sampled_from(["training", "compilation", ""]) | _url_text,
    name=st.just(LOGGED_JOB) | _url_text,
    offset=st.none() | _url_text | st.integers().map(str),
    follow=st.none() | st.sampled_from(["true", "1", "no"]) | _url_text,
    tail=st.sampled_from(["/logs", "/logs/", "", "/other"]),
)
def test_native_routes_never_answer_5xx(
    fuzz_server: ServerProcess, kind: str, name: str, offset: str | None, follow: str | None, tail: str
) -> None:
    path = f"/trainplane/v1/{quote(kind, safe='')}-jobs/{quote(name, safe='')}{tail}"
    params = {key: value for key, value in (("offset", offset), ("follow", follow)) if value is not None}
    if follow in ("true", "1"):
        params["follow"] = "false"  # a followed log of a live job never ends; its path is the same
    response = httpx.get(fuzz_server.url + path, params=params, timeout=30)
    _assert_refusal_shape(response, "application/json")
