"""Wire errors decode back into the domain error family; timestamps and bodies round-trip."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from trainplane.api.sagemaker import errors as wire_errors
from trainplane.client import wire
from trainplane.domain import errors


def _body(code: str, message: str, key: str = "message") -> bytes:
    return json.dumps({"__type": code, key: message}).encode()


def test_validation_exception_is_invalid_with_the_servers_message() -> None:
    message = "1 validation error detected: Value 'x_y' at 'trainingJobName' failed to satisfy"
    exc = wire.decode_error(400, _body("ValidationException", message))
    assert type(exc) is errors.Invalid
    assert exc.message == message
    assert str(exc) == message


def _rendered(exc: errors.TrainplaneError, operation: str) -> tuple[int, bytes]:
    """The body the real SageMaker dialect answers `exc` with."""
    status, _, body = wire_errors.render(wire_errors.to_wire(exc, operation), "req-1")
    return status, body


def test_requested_resource_not_found_is_not_found_from_the_structured_member() -> None:
    """Real SageMaker answers an unknown job with this ValidationException (reference §2)."""
    status, body = _rendered(errors.NotFound("training job", "job-1"), "DescribeTrainingJob")
    exc = wire.decode_error(status, body)
    assert isinstance(exc, errors.NotFound)
    assert (exc.kind, exc.name) == ("training job", "job-1")
    assert exc.message == "Requested resource not found."


def test_resource_not_found_is_not_found() -> None:
    exc = wire.decode_error(400, _body("ResourceNotFound", "job 'a' does not exist"))
    assert isinstance(exc, errors.NotFound)
    assert exc.message == "job 'a' does not exist"


def test_stop_of_finished_job_is_invalid_state_naming_the_status() -> None:
    status, body = _rendered(errors.InvalidState("stop", "Stopped"), "StopTrainingJob")
    exc = wire.decode_error(status, body)
    assert isinstance(exc, errors.InvalidState)
    assert isinstance(exc, errors.Invalid)
    assert (exc.status, exc.operation) == ("Stopped", "stop")
    assert exc.message == "The request was rejected because the training job is in status Stopped."


def test_duplicate_name_on_create_is_name_in_use_with_the_arn() -> None:
    arn = "arn:aws:sagemaker:us-east-1:000000000000:training-job/a"
    status, body = _rendered(errors.NameInUse("training job", "a", arn), "CreateTrainingJob")
    exc = wire.decode_error(status, body)
    assert isinstance(exc, errors.NameInUse)
    assert (exc.arn, exc.name, exc.kind) == (arn, "a", "training job")
    assert exc.message.endswith(f"already exists ({arn})")


@pytest.mark.parametrize(
    "original",
    [
        errors.Invalid("outputDataConfig.s3OutputPath", "must be inside an allowed root"),
        errors.Conflict("busy"),
        errors.StaleWrite("job-1", 4),
        errors.LimitExceeded("too many"),
        errors.Unauthorized("who are you"),
        errors.Unavailable("store locked"),
        errors.IllegalTransition("Stopped", "stop_requested"),
    ],
)
def test_every_domain_class_and_its_fields_survive_the_wire(original: errors.TrainplaneError) -> None:
    """Issue 5: the client decodes the structured member instead of parsing English."""
    status, body = _rendered(original, "StopTrainingJob")
    exc = wire.decode_error(status, body)
    assert type(exc) is type(original)
    for field in ("field", "reason", "status", "event", "job_id", "expected_version"):
        assert getattr(exc, field, None) == getattr(original, field, None)


def test_resource_in_use_on_delete_is_a_conflict_not_a_name_clash() -> None:
    exc = wire.decode_error(400, _body("ResourceInUse", "job is running"), operation="DeleteTrainingJob")
    assert type(exc) is errors.Conflict


def test_an_unknown_class_in_the_member_falls_back_to_the_code() -> None:
    body = json.dumps(
        {"__type": "ConflictException", "message": "m", "trainplaneError": {"class": "FromTheFuture"}}
    ).encode()
    assert type(wire.decode_error(400, body)) is errors.Conflict


@pytest.mark.parametrize(
    ("code", "status_code", "expected"),
    [
        ("ResourceLimitExceeded", 400, errors.LimitExceeded),
        ("ConflictException", 400, errors.Conflict),
        ("UnrecognizedClientException", 400, errors.Unauthorized),
        ("InvalidSignatureException", 400, errors.Unauthorized),
        ("ServiceUnavailable", 503, errors.Unavailable),
        ("InternalFailure", 503, errors.Unavailable),
    ],
)
def test_codes_map_to_domain_classes(
    code: str, status_code: int, expected: type[errors.TrainplaneError]
) -> None:
    exc = wire.decode_error(status_code, _body(code, "the words"))
    assert type(exc) is expected
    assert exc.message == "the words"


def test_unknown_code_is_plain_error_with_code_and_message() -> None:
    exc = wire.decode_error(500, _body("InternalFailure", "boom"))
    assert type(exc) is errors.TrainplaneError
    assert exc.message == "InternalFailure: boom"


def test_namespaced_type_and_capital_message_are_read_like_botocore() -> None:
    body = _body("com.amazon.coral.service#ResourceNotFound", "gone", key="Message")
    exc = wire.decode_error(400, body)
    assert isinstance(exc, errors.NotFound)
    assert exc.message == "gone"


def test_html_503_from_a_proxy_is_unavailable_with_the_reason_phrase() -> None:
    exc = wire.decode_error(503, b"<html><body>down</body></html>", "Service Unavailable")
    assert isinstance(exc, errors.Unavailable)
    assert exc.message == "Service Unavailable"


def test_error_code_falls_back_to_http_status_without_type() -> None:
    assert wire.error_code_and_message(502, b"", "Bad Gateway") == ("502", "Bad Gateway")


def test_timestamps_parse_to_aware_utc_from_epoch_and_iso() -> None:
    expected = datetime(2024, 1, 1, 12, 0, 0, 500000, tzinfo=UTC)
    assert wire.parse_timestamp(1704110400.5) == expected
    assert wire.parse_timestamp("1704110400.5") == expected
    assert wire.parse_timestamp("2024-01-01T12:00:00.5Z") == expected
    offset = wire.parse_timestamp("2024-01-01T13:00:00.5+01:00")
    assert offset == expected
    assert wire.parse_timestamp("2024-01-01T12:00:00.5").tzinfo is not None


def test_timestamps_reject_non_times() -> None:
    with pytest.raises(ValueError):
        wire.parse_timestamp(True)
    with pytest.raises(ValueError):
        wire.parse_timestamp("yesterday")


def test_encode_body_sends_aware_datetimes_as_epoch_seconds() -> None:
    at = datetime(2024, 1, 1, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert json.loads(wire.encode_body({"CreationTimeAfter": at})) == {"CreationTimeAfter": 1704110400.0}
    with pytest.raises(ValueError, match="naive"):
        wire.encode_body({"CreationTimeAfter": datetime(2024, 1, 1)})


def test_empty_response_body_is_an_empty_dict() -> None:
    assert wire.decode_body(b"") == {}
    assert wire.decode_body(b'{"A": 1}') == {"A": 1}


def test_request_headers_name_the_target_and_json11() -> None:
    assert wire.request_headers("DescribeTrainingJob") == {
        "X-Amz-Target": "SageMaker.DescribeTrainingJob",
        "Content-Type": "application/x-amz-json-1.1",
    }
