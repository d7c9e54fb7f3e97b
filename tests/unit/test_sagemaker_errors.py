"""SageMaker error rendering: the codes and texts boto3 users and waiters rely on, read back by botocore."""

from __future__ import annotations

import json
from typing import Any

import botocore.session
import pytest
from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.parsers import create_parser
from botocore.retries import standard

from trainplane.api.sagemaker import errors as wire_errors
from trainplane.api.sagemaker import shapes
from trainplane.domain import errors

ARN = "arn:aws:sagemaker:us-east-1:000000000000:training-job/job-1"


def botocore_reads(exc: BaseException, operation: str, request_id: str = "req-1") -> dict[str, Any]:
    """Render `exc` and parse the response with botocore's own JSON-protocol parser."""
    status, headers, body = wire_errors.render(wire_errors.to_wire(exc, operation), request_id)
    operation_model = shapes.service_model().operation_model(operation)
    # As botocore's endpoint does: headers in its case-insensitive dict.
    response = {"status_code": status, "headers": HeadersDict(headers), "body": body}
    parsed: dict[str, Any] = create_parser("json").parse(response, operation_model.output_shape)
    return parsed


def is_retried_by_botocore(exc: BaseException, operation: str) -> bool:
    status, headers, body = wire_errors.render(wire_errors.to_wire(exc, operation), "req-1")
    operation_model = shapes.service_model().operation_model(operation)
    parsed = create_parser("json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, operation_model.output_shape
    )
    context = standard.RetryContext(
        attempt_number=1,
        operation_model=operation_model,
        parsed_response=parsed,
        http_response=AWSResponse("http://localhost/", status, headers, raw=None),
    )
    return bool(standard.StandardRetryConditions().is_retryable(context))


def wire(exc: BaseException, operation: str) -> tuple[int, str, str]:
    err = wire_errors.to_wire(exc, operation)
    return err.http_status, err.code, err.message


def test_describe_of_an_unknown_job_is_validation_exception_for_the_waiter() -> None:
    """The TrainingJobCompletedOrStopped waiter fails fast on ValidationException."""
    parsed = botocore_reads(errors.NotFound("training job", "ghost"), "DescribeTrainingJob")
    assert parsed["Error"] == {"Code": "ValidationException", "Message": "Requested resource not found."}
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert parsed["ResponseMetadata"]["RequestId"] == "req-1"


def test_other_operations_on_an_unknown_job_are_resource_not_found() -> None:
    exc = errors.NotFound("training job", "ghost")
    assert wire(exc, "StopTrainingJob") == (400, "ResourceNotFound", "Could not find training job 'ghost'.")
    assert botocore_reads(exc, "DeleteTrainingJob")["Error"]["Code"] == "ResourceNotFound"


def test_resource_not_found_is_botocores_modeled_exception() -> None:
    client = botocore.session.get_session().create_client(
        "sagemaker", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    for code in ("ResourceNotFound", "ResourceInUse", "ResourceLimitExceeded", "ConflictException"):
        assert client.exceptions.from_code(code).__name__ == code


def test_stopping_a_finished_job_names_its_status() -> None:
    exc = errors.InvalidState("stop", "Stopped")
    parsed = botocore_reads(exc, "StopTrainingJob")
    assert parsed["Error"] == {
        "Code": "ValidationException",
        "Message": "The request was rejected because the training job is in status Stopped.",
    }


def test_stopping_a_finished_compilation_job_names_the_compilation_job() -> None:
    _, code, message = wire(errors.InvalidState("stop", "COMPLETED"), "StopCompilationJob")
    assert code == "ValidationException"
    assert message == "The request was rejected because the compilation job is in status COMPLETED."


def test_deleting_a_running_job_is_resource_in_use() -> None:
    status, code, message = wire(errors.InvalidState("delete", "InProgress"), "DeleteTrainingJob")
    assert (status, code) == (400, "ResourceInUse")
    assert "in status InProgress" in message
    assert "Completed, Failed or Stopped" in message


def test_invalid_state_elsewhere_is_a_validation_exception() -> None:
    exc = errors.InvalidState("update", "Stopping")
    assert wire(exc, "UpdateTrainingJob") == (400, "ValidationException", exc.message)


def test_a_duplicate_name_is_resource_in_use_with_sagemakers_text() -> None:
    parsed = botocore_reads(errors.NameInUse("training", "job-1", ARN), "CreateTrainingJob")
    assert parsed["Error"] == {
        "Code": "ResourceInUse",
        "Message": "Training job names must be unique within an AWS account and region, and a "
        f"training job with this name already exists ({ARN})",
    }


def test_a_duplicate_model_is_the_validation_exception_the_sagemaker_sdk_matches() -> None:
    _, code, message = wire(
        errors.NameInUse("model", "m", "arn:aws:sagemaker:us-east-1:0:model/m"), "CreateModel"
    )
    assert code == "ValidationException"
    assert "Cannot create already existing model" in message


def test_shape_errors_render_awss_validation_message() -> None:
    with pytest.raises(shapes.ShapeInvalid) as caught:
        shapes.validate("DescribeTrainingJob", {"TrainingJobName": "bad_name"})
    parsed = botocore_reads(caught.value, "DescribeTrainingJob")
    assert parsed["Error"]["Code"] == "ValidationException"
    assert parsed["Error"]["Message"].startswith("1 validation error detected: Value 'bad_name' at")


def test_type_errors_are_serialization_exceptions() -> None:
    with pytest.raises(shapes.ShapeSerializationError) as caught:
        shapes.validate("DescribeTrainingJob", {"TrainingJobName": {"nested": 1}})
    parsed = botocore_reads(caught.value, "DescribeTrainingJob")
    assert parsed["Error"] == {
        "Code": "SerializationException",
        "Message": "Expected a string at 'trainingJobName', got an object",
    }


def test_a_service_invalid_is_a_validation_exception_with_its_message() -> None:
    exc = errors.Invalid("AlgorithmSpecification.TrainingImage", "no runtime is configured for image 'x'")
    assert wire(exc, "CreateTrainingJob") == (400, "ValidationException", exc.message)


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.LimitExceeded("at most 4 jobs may run at once"), 400, "ResourceLimitExceeded"),
        (errors.Conflict("busy"), 400, "ConflictException"),
        (errors.IllegalTransition("Completed", "stop_requested"), 400, "ConflictException"),
        (
            errors.Unauthorized("The security token included in the request is invalid."),
            400,
            "UnrecognizedClientException",
        ),
        (errors.Unavailable("the store is locked"), 503, "ServiceUnavailable"),
    ],
)
def test_the_table_maps_each_domain_error(exc: errors.TrainplaneError, status: int, code: str) -> None:
    assert wire(exc, "ListTrainingJobs") == (status, code, exc.message)
    assert botocore_reads(exc, "ListTrainingJobs")["Error"]["Code"] == code


def test_a_stale_write_that_survived_retries_is_a_conflict_without_internals() -> None:
    status, code, message = wire(errors.StaleWrite("4f2a", 7), "StopTrainingJob")
    assert (status, code) == (400, "ConflictException")
    assert "4f2a" not in message


def test_lookup_follows_the_mro_to_the_nearest_class() -> None:
    class QuotaReached(errors.LimitExceeded):
        pass

    class TagInvalid(errors.Invalid):
        pass

    assert wire(QuotaReached("quota"), "CreateTrainingJob")[1] == "ResourceLimitExceeded"
    assert wire(TagInvalid("tags", "bad"), "AddTags")[1] == "ValidationException"
    assert wire(shapes.ShapeSerializationError("x", "bad"), "AddTags")[1] == "SerializationException"


def test_an_unknown_operation_is_unknown_operation_exception() -> None:
    status, code, message = wire(wire_errors.UnknownOperation("CreateEndpoint"), "CreateEndpoint")
    assert (status, code) == (400, "UnknownOperationException")
    assert "CreateEndpoint" in message


def test_a_bug_is_an_internal_failure_without_traceback_naming_the_request_id() -> None:
    exc = KeyError("secret internals")
    status, _, body = wire_errors.render(wire_errors.to_wire(exc, "DescribeTrainingJob"), "req-42")
    assert status == 500
    document = json.loads(body)
    assert document["__type"] == "InternalFailure"
    assert "req-42" in document["message"]
    assert "secret internals" not in document["message"]
    assert "Traceback" not in body.decode()


def test_a_bug_in_a_create_is_400_so_botocore_never_retries_it() -> None:
    exc = RuntimeError("boom")
    assert wire(exc, "CreateTrainingJob")[:2] == (400, "InternalFailure")
    assert not is_retried_by_botocore(exc, "CreateTrainingJob")
    assert is_retried_by_botocore(exc, "DescribeTrainingJob")


def test_service_unavailable_is_retried_by_botocore() -> None:
    assert is_retried_by_botocore(errors.Unavailable("store locked"), "ListTrainingJobs")
    assert not is_retried_by_botocore(errors.NotFound("training job", "x"), "StopTrainingJob")


def test_render_sets_the_json_11_headers_and_body() -> None:
    err = wire_errors.WireError(400, "ValidationException", "nope")
    status, headers, body = wire_errors.render(err, "req-7")
    assert status == 400
    assert headers == {"Content-Type": "application/x-amz-json-1.1", "x-amzn-RequestId": "req-7"}
    assert json.loads(body) == {"__type": "ValidationException", "message": "nope"}


def test_a_wire_error_is_a_frozen_value() -> None:
    err = wire_errors.WireError(400, "ValidationException", "nope")
    with pytest.raises(AttributeError):
        err.code = "x"  # type: ignore[misc]


def test_failure_reason_words_each_failure_kind_as_sagemaker_does() -> None:
    from trainplane.api.sagemaker.translate import failure_reason
    from trainplane.domain.job import Failure, FailureKind

    assert failure_reason(Failure(FailureKind.USER, "no data")) == "ClientError: no data"
    assert failure_reason(Failure(FailureKind.ALGORITHM, "exit 3")) == "AlgorithmError: exit 3"
    assert failure_reason(Failure(FailureKind.PLATFORM, "x" * 2000)).startswith("InternalServerError: x")
    assert len(failure_reason(Failure(FailureKind.PLATFORM, "x" * 2000))) == 1024


def test_errors_carry_the_structured_member_that_botocore_ignores() -> None:
    """Issue 5: the client reads the class and fields from `trainplaneError`, not from the English."""
    exc = errors.NotFound("training job", "ghost")
    _, _, body = wire_errors.render(wire_errors.to_wire(exc, "StopTrainingJob"), "req-1")
    document = json.loads(body)
    assert list(document) == ["__type", "message", "trainplaneError"]
    assert document["trainplaneError"] == {"class": "NotFound", "kind": "training job", "name": "ghost"}
    parsed = botocore_reads(exc, "StopTrainingJob")
    assert parsed["Error"] == {"Code": "ResourceNotFound", "Message": "Could not find training job 'ghost'."}


def test_a_shape_error_names_the_invalid_class_and_field() -> None:
    exc = shapes.ShapeSerializationError("stoppingCondition.maxRuntimeInSeconds", "Expected a number")
    detail = wire_errors.to_wire(exc, "CreateTrainingJob").detail
    assert detail is not None
    assert (detail["class"], detail["field"]) == ("Invalid", "stoppingCondition.maxRuntimeInSeconds")


def test_unknown_exceptions_carry_no_member_and_no_internals() -> None:
    _, _, body = wire_errors.render(wire_errors.to_wire(RuntimeError("secret"), "StopTrainingJob"), "r")
    assert "trainplaneError" not in json.loads(body) and b"secret" not in body


def test_error_messages_are_capped() -> None:
    exc = errors.Invalid("hyperParameters", "z" * 100_000)
    _, _, body = wire_errors.render(wire_errors.to_wire(exc, "CreateTrainingJob"), "r")
    assert len(body) < wire_errors.MAX_MESSAGE_CHARS + 2_000


def test_the_structured_field_is_the_wire_path_the_message_names() -> None:
    exc = errors.Invalid("output_location", "must be inside an allowed root")
    err = wire_errors.to_wire(exc, "CreateTrainingJob")
    assert err.detail is not None and err.detail["field"] == "outputDataConfig.s3OutputPath"
    assert err.message.startswith("outputDataConfig.s3OutputPath: ")
