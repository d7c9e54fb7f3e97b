"""The ModelArts dialect's pure parts: status map, spec and engine ids, parameters, request shapes and
the error envelope."""

from __future__ import annotations

import json

import pytest

from trainplane.api.auth import port as auth
from trainplane.api.auth import sdk_hmac
from trainplane.api.modelarts import catalog, params, shapes, statuses
from trainplane.api.modelarts import errors as wire_errors
from trainplane.domain import errors, images, instance_types
from trainplane.domain.status import Secondary

S = Secondary


def test_every_trainplane_status_has_a_modelarts_code() -> None:
    assert set(statuses.STATUS_OF) == set(Secondary)
    assert statuses.status_code(S.TRAINING) == 8
    assert statuses.status_code(S.STOPPING) == 9  # JOBSTAT_KILLING while the grace window runs
    assert statuses.status_code(S.STOPPED) == 12  # JOBSTAT_KILLED
    assert statuses.status_code(S.COMPLETED) == 10
    assert statuses.status_code(S.FAILED) == 11
    assert statuses.status_code(S.STARTING) == 7


def test_every_code_parses_back_to_the_statuses_it_stands_for() -> None:
    for status, code in statuses.STATUS_OF.items():
        assert status in statuses.SECONDARIES_OF[code]
    assert statuses.SECONDARIES_OF[statuses.JobStat.KILLED] == {S.STOPPED, S.MAX_RUNTIME_EXCEEDED}
    assert statuses.SECONDARIES_OF[statuses.JobStat.CANCELED] == frozenset()
    assert len(statuses.SECONDARIES_OF) == 22


def test_spec_ids_are_unique_and_stable() -> None:
    specs = catalog.specs()
    assert len(specs) == len(instance_types.PUBLISHED)
    large = catalog.spec(catalog.spec_id_of("ml.m5.large"))
    assert large.spec_code == "ml.m5.large"
    assert catalog.spec_document(large) | {"spec_id": 0} == {
        "spec_id": 0,
        "core": "2",
        "cpu": "8GiB",
        "gpu_num": 0,
        "gpu_type": "",
        "spec_code": "ml.m5.large",
        "max_num": 1,
        "unit_num": 1,
        "storage": "",
        "interface_type": 1,
        "no_resource": False,
    }
    with pytest.raises(errors.Invalid, match=r"config\.spec_id"):
        catalog.spec(1)


def test_engines_are_the_image_maps_exact_images_numbered_from_one() -> None:
    rules = images.parse_rules(
        {"trainplane/python": {}, "trainplane/python:*": {}, "tf:2.1": {"command": ["py"]}}
    )
    assert [(e.engine_id, e.image) for e in catalog.engines(rules)] == [
        (1, "trainplane/python"),
        (2, "tf:2.1"),
    ]
    assert catalog.engine_document(catalog.engine(rules, 2))["engine_version"] == "2.1"
    with pytest.raises(errors.Invalid, match=r"config\.engine_id"):
        catalog.engine(rules, 3)


@pytest.mark.parametrize("text", ["0", "-1", "abc", "1.5", "", "9" * 20, "\u0661", "9223372036854775808"])
def test_a_path_id_that_is_not_a_positive_long_names_the_field(text: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        params.identifier("job_id", text)
    assert caught.value.field == "job_id"


def test_query_parameters_are_checked_against_their_ranges() -> None:
    assert params.integer({}, "per_page", 1, 1000, 10) == 10
    assert params.integer({"per_page": "1000"}, "per_page", 1, 1000, 10) == 1000
    for bad in ("0", "1001", "x", "1e3", "-"):
        with pytest.raises(errors.Invalid, match="per_page"):
            params.integer({"per_page": bad}, "per_page", 1, 1000, 10)
    assert params.choice({"order": "DESC"}, "order", ("asc", "desc"), "asc") == "desc"
    with pytest.raises(errors.Invalid, match="order"):
        params.choice({"order": "up"}, "order", ("asc", "desc"), "asc")


def config(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "worker_server_num": 1,
        "spec_id": catalog.spec_id_of("ml.m5.large"),
        "train_url": "/tmp/out",
        "user_image_url": "trainplane/python",
        "user_command": "python train.py",
        "parameter": [{"label": "epochs", "value": "3"}, {"label": "lr", "value": 0.1}],
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_a_complete_config_is_read() -> None:
    checked = shapes.config(config(data_url="/tmp/data"))
    assert checked.user_command == "python train.py"
    assert [(p.label, p.value) for p in checked.parameters] == [("epochs", "3"), ("lr", "0.1")]
    assert checked.data_urls == ("/tmp/data",)
    assert checked.engine_id == 1


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"worker_server_num": None}, "config.worker_server_num"),
        ({"worker_server_num": 2}, "config.worker_server_num"),
        ({"worker_server_num": True}, "config.worker_server_num"),
        ({"spec_id": "ml.m5.large"}, "config.spec_id"),
        ({"train_url": None}, "config.train_url"),
        ({"train_url": 5}, "config.train_url"),
        ({"user_command": None}, "config.user_command"),
        ({"user_image_url": None, "user_command": None}, "config.boot_file_url"),
        ({"boot_file_url": "/x.py"}, "config.boot_file_url"),
        ({"model_id": 4}, "config.model_id"),
        ({"pool_id": "pool-1"}, "config.pool_id"),
        ({"volumes": [{"nfs": {}}]}, "config.volumes"),
        ({"parameter": {"a": 1}}, "config.parameter"),
        ({"parameter": [{"label": "a=b", "value": "1"}]}, "config.parameter[0].label"),
        ({"parameter": [{"value": "1"}]}, "config.parameter[0].label"),
        ({"parameter": [{"label": "a", "value": [1]}]}, "config.parameter[0].value"),
        ({"data_source": [{"type": "dataset"}]}, "config.data_source[0].type"),
    ],
)
def test_a_bad_config_names_its_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        shapes.config(config(**changes))
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({}, "job_name"),
        ({"job_name": "a b", "config": {}}, "job_name"),
        ({"job_name": "x" * 65, "config": {}}, "job_name"),
        ({"job_name": "ok", "job_desc": "d" * 257, "config": {}}, "job_desc"),
        ({"job_name": "ok"}, "config"),
    ],
)
def test_a_bad_create_body_names_its_field(body: object, field: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        shapes.create_job(body)
    assert caught.value.field == field


@pytest.mark.parametrize("raw", [b"{", b"\xff", b'{"a": NaN}', b"[" * 100_000])
def test_a_body_that_is_not_json_is_invalid(raw: bytes) -> None:
    with pytest.raises(errors.Invalid, match="not valid JSON"):
        shapes.decode(raw)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.Invalid("config.spec_id", "is required"), 400, "ModelArts.0101"),
        (errors.NotFound("job group", "12"), 404, "ModelArts.0015"),
        (errors.NameInUse("job group", "a"), 400, "ModelArts.0103"),
        (errors.InvalidState("stop", "COMPLETED (10)"), 400, "ModelArts.0104"),
        (auth.MissingCredentials("none"), 401, "ModelArts.0203"),
        (auth.UnknownCredential("token"), 401, "ModelArts.0203"),
        (sdk_hmac.UnknownAccessKey("ak"), 401, "ModelArts.0206"),
        (auth.BadSignature("sig"), 401, "ModelArts.0206"),
        (wire_errors.ProjectMismatch("p"), 403, "ModelArts.0210"),
        (wire_errors.NoProject("p"), 403, "ModelArts.0204"),
        (wire_errors.UnknownApi("GET", "/x"), 404, "APIGW.0101"),
        (RuntimeError("boom"), 500, "ModelArts.0010"),
    ],
)
def test_errors_render_in_the_modelarts_envelope(exc: BaseException, status: int, code: str) -> None:
    http_status, headers, body = wire_errors.render(wire_errors.to_wire(exc), "req-1")
    document = json.loads(body)
    assert http_status == status
    assert document["is_success"] is False
    assert document["error_code"] == code
    assert document["error_message"] == document["error_msg"]
    assert "boom" not in document["error_message"]  # an internal error never leaks its text
    assert headers["Content-Type"].startswith("application/json")


def test_core_fields_are_named_as_the_modelarts_request_names_them() -> None:
    document = json.loads(
        wire_errors.render(wire_errors.to_wire(errors.Invalid("output_location", "bad")))[2]
    )
    assert document["error_message"] == "config.train_url: bad"
    assert wire_errors.wire_field("channels.1.source") == "config.data_url"
    document = json.loads(wire_errors.render(wire_errors.to_wire(errors.NotFound("job group", "7")))[2])
    assert document["error_message"] == "The resource you requested is not exist: training job 7."
