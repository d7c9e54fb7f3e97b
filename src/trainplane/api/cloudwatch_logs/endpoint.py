"""CloudWatch Logs JSON 1.1 (`X-Amz-Target: Logs_20140328.<Operation>`) on `POST /`, in its own error shapes.

Requests are checked against botocore's own "logs" model (the constraint checker the SageMaker dialect
uses); the caller's tenant scopes every stream, so another tenant's job is a stream that does not exist.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from typing import Any

from trainplane.api.auth import port as auth
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.api.cloudwatch_logs.operations import OPERATIONS
from trainplane.api.off_loop import Answer, ReadingEndpoint, Workers
from trainplane.api.sagemaker import shapes
from trainplane.domain import errors
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.cloudwatch_logs")
TARGET_PREFIX = "Logs_20140328."
CONTENT_TYPE = "application/x-amz-json-1.1"
# As the SageMaker dialect answers them: both are AWS JSON (Coral) services.
_AUTH_ERRORS: Mapping[type[Exception], tuple[int, str]] = {
    auth.MissingCredentials: (403, "MissingAuthenticationTokenException"),
    auth.BadSignature: (400, "InvalidSignatureException"),
    auth.MalformedSignature: (400, "IncompleteSignatureException"),
}


def _input_shape(operation: str) -> Any:
    return shapes.service_model("logs").operation_model(operation).input_shape


class UnknownOperation(Exception):
    pass


class LogsEndpoint(ReadingEndpoint):
    """The ASGI app answering the CloudWatch Logs reads for the principal each request authenticates as."""

    def __init__(self, service: JobService, authenticator: Authenticator, workers: Workers) -> None:
        self._service = service
        self._authenticator = authenticator
        super().__init__(workers)

    def answer(self, request: RequestFacts) -> Answer:
        """Status, headers and body for `request`; blocking (store and file reads): run it off the loop."""
        request_id = str(uuid.uuid4())
        operation = request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        try:
            tenant = self._authenticator.authenticate(request).tenant
            handler = OPERATIONS.get(operation)
            if handler is None:
                raise UnknownOperation(operation)
            result = handler(self._service, tenant, _validated(operation, request.body))
        except Exception as exc:
            status, code, message = _wire_error(exc, request_id, operation)
            document = json.dumps({"__type": code, "message": message}).encode()
            return status, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}, document
        content = json.dumps(result, separators=(",", ":")).encode()
        return 200, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}, content


def _validated(operation: str, raw: bytes) -> dict[str, Any]:
    shapes.check_value_count(raw)
    try:
        body = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        raise shapes.ShapeSerializationError("", f"the request body is not valid JSON: {exc}") from exc
    shapes.check_against(_input_shape(operation), body)
    cleaned: dict[str, Any] = shapes.without_nulls(body)
    return cleaned


def _wire_error(exc: Exception, request_id: str, operation: str) -> tuple[int, str, str]:
    """(HTTP status, __type, message) as CloudWatch Logs words them."""
    if isinstance(exc, UnknownOperation):
        return 400, "UnknownOperationException", f"Unknown operation {operation!r}"
    if isinstance(exc, shapes.ShapeSerializationError):
        return 400, "SerializationException", exc.message
    if isinstance(exc, errors.NotFound):
        what = "log group" if exc.kind == "log group" else "log stream"
        return 400, "ResourceNotFoundException", f"The specified {what} does not exist."
    if isinstance(exc, shapes.ShapeInvalid):
        return 400, "InvalidParameterException", exc.message
    if isinstance(exc, errors.Invalid):
        return 400, "InvalidParameterException", str(exc)
    if isinstance(exc, errors.Unauthorized):
        return (*_AUTH_ERRORS.get(type(exc), (400, "UnrecognizedClientException")), str(exc))
    if isinstance(exc, errors.Unavailable):
        return 503, "ServiceUnavailableException", str(exc)
    log.error("event=internal_error request_id=%s operation=%s", request_id, operation, exc_info=exc)
    return 500, "InternalFailure", f"An internal error occurred. Request id: {request_id}."
