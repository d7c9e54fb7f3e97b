"""SageMaker's error wire format: one table from error class to (HTTP status, code), rendered once.

Body `{"__type": code, "message": text}` with `application/x-amz-json-1.1`, which botocore's JSON
parser reads into `Error.Code`/`Error.Message` (reference/sagemaker.md §1.2). Pure.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from trainplane import protocol
from trainplane.api import error_detail
from trainplane.api.auth import port as auth
from trainplane.api.sagemaker import fields as wire_fields
from trainplane.api.sagemaker import shapes
from trainplane.domain import errors

CONTENT_TYPE = protocol.SAGEMAKER_CONTENT_TYPE
INTERNAL_FAILURE = "InternalFailure"
# An error body never grows past this: a hostile request cannot make the answer large.
MAX_MESSAGE_CHARS = 16 * 1024


@dataclass(frozen=True)
class WireError:
    http_status: int
    code: str
    message: str
    detail: Mapping[str, str] | None = None  # the structured member botocore ignores


class UnknownOperation(Exception):
    """X-Amz-Target names no operation trainplane serves."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"Unknown or unsupported operation: {operation or '(no X-Amz-Target)'}")
        self.operation = operation


# Looked up along the exception's MRO (like Starlette's handlers), so the most specific class wins.
# SageMaker declares no HTTP status on its modeled errors: all are 400 (reference §1.2).
_TABLE: Mapping[type[BaseException], tuple[int, str]] = {
    # Coral's answer to an X-Amz-Target it does not know.
    UnknownOperation: (400, "UnknownOperationException"),
    # Coral answers JSON of the wrong type (a string for a structure) with this, before validating.
    shapes.ShapeSerializationError: (400, "SerializationException"),
    errors.Invalid: (400, "ValidationException"),
    errors.NotFound: (400, "ResourceNotFound"),
    errors.NameInUse: (400, "ResourceInUse"),
    errors.Conflict: (400, "ConflictException"),
    errors.LimitExceeded: (400, "ResourceLimitExceeded"),
    # SageMaker answers an unknown access key with this 400, not IAM's 403 InvalidClientTokenId
    # (reference §1.1); botocore does not retry it.
    errors.Unauthorized: (400, "UnrecognizedClientException"),
    # AWS's Common Errors: MissingAuthenticationToken is a 403; the JSON services add "Exception".
    auth.MissingCredentials: (403, "MissingAuthenticationTokenException"),
    # JSON (Coral) services answer a bad or stale SigV4 signature with this 400; SignatureDoesNotMatch
    # is the query-protocol services' (EC2, STS) and S3's word (reference §1.1, docs/auth.md).
    auth.BadSignature: (400, "InvalidSignatureException"),
    auth.MalformedSignature: (400, "IncompleteSignatureException"),
    # Retryable by design: botocore retries 503 with backoff.
    errors.Unavailable: (503, "ServiceUnavailable"),
}


def to_wire(exc: BaseException, operation: str) -> WireError:
    """The status, code and message SageMaker would answer `exc` with for `operation`."""
    detail = error_detail.of(exc)
    if detail is not None and "field" in detail:
        # The client sent wire members: name the field as the message does (a no-op for shape paths).
        detail["field"] = wire_fields.wire_path(detail["field"])
    return dataclasses.replace(_wire(exc, operation), detail=detail)


def _wire(exc: BaseException, operation: str) -> WireError:
    for error_class, operation_pattern, build in _RULES:
        if isinstance(exc, error_class) and fnmatch.fnmatchcase(operation, operation_pattern):
            return build(exc, operation)
    entry = _lookup(exc)
    if entry is None:
        return _internal_failure(operation)
    status, code = entry
    return WireError(status, code, str(getattr(exc, "message", None) or exc))


def render(err: WireError, request_id: str) -> tuple[int, dict[str, str], bytes]:
    """HTTP status, headers and body for `err`; an internal failure names the request id."""
    message = error_detail.capped(err.message, MAX_MESSAGE_CHARS)
    if err.code == INTERNAL_FAILURE:
        message = f"{message} Request id: {request_id}."
    document: dict[str, Any] = {"__type": err.code, "message": message}
    if err.detail is not None:
        document[protocol.ERROR_DETAIL_MEMBER] = dict(err.detail)
    body = json.dumps(document).encode()
    return err.http_status, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}, body


def _lookup(exc: BaseException) -> tuple[int, str] | None:
    for cls in type(exc).__mro__:
        entry = _TABLE.get(cls)
        if entry is not None:
            return entry
    return None


def _resource(operation: str) -> str:
    """`StopTrainingJob` -> `training job`: the resource an operation acts on, in words."""
    words = re.findall(r"[A-Z][a-z0-9]*", operation)[1:]
    return " ".join(word.lower() for word in words)


def _describe_not_found(exc: Any, operation: str) -> WireError:
    # Real SageMaker answers Describe* of an unknown name with this, not the modeled
    # ResourceNotFound; the TrainingJobCompletedOrStopped waiter fails on it (reference §2, §5).
    return WireError(400, "ValidationException", protocol.NOT_FOUND_MESSAGE)


def _not_found(exc: Any, operation: str) -> WireError:
    name = error_detail.capped(exc.name)
    return WireError(400, "ResourceNotFound", f"Could not find {exc.kind} '{name}'.")


def _stop_refused(exc: Any, operation: str) -> WireError:
    # Real text for stopping a finished job (reference §2, StopTrainingJob).
    message = f"The request was rejected because the {_resource(operation)} is in status {exc.status}."
    return WireError(400, "ValidationException", message)


def _delete_refused(exc: Any, operation: str) -> WireError:
    # DeleteTrainingJob models ResourceInUse for this; SageMaker's own text is not public.
    resource = _resource(operation)
    message = (
        f"The {resource} cannot be deleted while it is in status {exc.status}. "
        f"You can delete only a {resource} that has finished (Completed, Failed or Stopped)."
    )
    return WireError(400, "ResourceInUse", message)


def _name_taken(exc: Any, operation: str) -> WireError:
    resource = _resource(operation)
    message = (
        f"{resource.capitalize()} names must be unique within an AWS account and region, "
        f"and a {resource} with this name already exists ({exc.arn or exc.name})"
    )
    return WireError(400, "ResourceInUse", message)


def _model_exists(exc: Any, operation: str) -> WireError:
    # The SageMaker Python SDK matches this code and text to treat "model exists" as success.
    return WireError(
        400, "ValidationException", f'Cannot create already existing model "{exc.arn or exc.name}".'
    )


def _stale_write(exc: Any, operation: str) -> WireError:
    message = "The job was changed by another request at the same time; retry the request."
    return WireError(400, "ConflictException", message)


def _shape_invalid(exc: Any, operation: str) -> WireError:
    # Already in AWS's words, with wire paths: the table gives the code.
    status, code = _lookup(exc) or (400, "ValidationException")
    return WireError(status, code, exc.message)


def _invalid(exc: Any, operation: str) -> WireError:
    # The core names neutral fields; the client must see the wire path of its own request.
    if not exc.field:
        return WireError(400, "ValidationException", exc.reason)
    return WireError(400, "ValidationException", f"{wire_fields.wire_path(exc.field)}: {exc.reason}")


def _limit_exceeded(exc: Any, operation: str) -> WireError:
    if exc.limit is None:
        return WireError(400, "ResourceLimitExceeded", exc.message)
    message = (
        f"The account-level service limit of {exc.limit} active {_resource(operation)}s has been reached"
        f"{f' (setting {exc.setting})' if exc.setting else ''}. Stop a job or wait for one to finish."
    )
    return WireError(400, "ResourceLimitExceeded", message)


def _internal_failure(operation: str) -> WireError:
    # botocore retries HTTP 5xx (3 attempts in all, reference §1.2). A create that failed after it
    # committed would be sent again blindly, so Create* answers 400, which is never retried.
    if operation.startswith("Create"):
        message = (
            "An internal error occurred. The resource may have been created: describe it before retrying."
        )
        return WireError(400, INTERNAL_FAILURE, message)
    return WireError(500, INTERNAL_FAILURE, "An internal error occurred.")


# The few operation-specific answers SageMaker really gives; checked in order before the table.
_RULES: tuple[tuple[type[BaseException], str, Callable[[Any, str], WireError]], ...] = (
    (errors.NotFound, "Describe*", _describe_not_found),
    (errors.NotFound, "*", _not_found),
    (errors.InvalidState, "Stop*", _stop_refused),
    (errors.InvalidState, "Delete*", _delete_refused),
    (errors.NameInUse, "CreateModel", _model_exists),
    (errors.NameInUse, "Create*", _name_taken),
    (errors.StaleWrite, "*", _stale_write),
    (shapes.ShapeInvalid, "*", _shape_invalid),
    (errors.Invalid, "*", _invalid),
    (errors.LimitExceeded, "*", _limit_exceeded),
)
