"""CloudWatch (signing name "monitoring") for the metric reads SageMaker users make, in both protocols
botocore speaks to it: smithy-rpc-v2-cbor (`POST /service/GraniteServiceVersion20100801/operation/<Op>`)
and AWS JSON 1.0 (`POST /` with `X-Amz-Target: GraniteServiceVersion20100801.<Op>`).

Requests are checked against botocore's own "cloudwatch" model; the caller's tenant scopes every metric.
CloudWatch is "awsQueryCompatible": errors carry their query-protocol code in `x-amzn-query-error`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from trainplane.api.auth import port as auth
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.api.cloudwatch_metrics import codec
from trainplane.api.cloudwatch_metrics.operations import OPERATIONS, Metrics
from trainplane.api.off_loop import Answer, ReadingEndpoint, Workers
from trainplane.api.sagemaker import shapes
from trainplane.domain import errors
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.cloudwatch_metrics")
SERVICE = "GraniteServiceVersion20100801"
CBOR_PATH_PREFIX = f"/service/{SERVICE}/operation/"
TARGET_PREFIX = f"{SERVICE}."
_AUTH_ERRORS: Mapping[type[Exception], tuple[int, str]] = {
    auth.MissingCredentials: (403, "MissingAuthenticationToken"),
    auth.UnknownCredential: (403, "InvalidClientTokenId"),
    auth.MalformedSignature: (400, "IncompleteSignature"),
    auth.BadSignature: (403, "SignatureDoesNotMatch"),
}


def _input_shape(operation: str) -> Any:
    return shapes.service_model("cloudwatch").operation_model(operation).input_shape


class UnknownOperation(Exception):
    pass


class MetricsEndpoint(ReadingEndpoint):
    """The ASGI app answering CloudWatch metric reads for the principal each request authenticates as."""

    def __init__(self, service: JobService, authenticator: Authenticator, workers: Workers) -> None:
        self._metrics = Metrics(service)
        self._authenticator = authenticator
        super().__init__(workers)

    def answer(self, request: RequestFacts) -> Answer:
        """Status, headers and body for `request`; blocking (store and log reads): run it off the loop."""
        request_id = str(uuid.uuid4())
        is_cbor = request.path.startswith(CBOR_PATH_PREFIX)
        wire: codec.Codec = codec.CborCodec() if is_cbor else codec.JsonCodec()
        if is_cbor:
            operation = request.path.removeprefix(CBOR_PATH_PREFIX).split("?")[0]
        else:
            operation = request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        headers = {"Content-Type": wire.content_type, "x-amzn-RequestId": request_id, **wire.extra_headers}
        try:
            tenant = self._authenticator.authenticate(request).tenant
            handler = OPERATIONS.get(operation)
            if handler is None:
                raise UnknownOperation(operation)
            result = handler(self._metrics, tenant, _validated(operation, wire.decode(request.body)))
        except Exception as exc:
            status, code, query_code, message = _wire_error(exc, request_id, operation)
            headers["x-amzn-query-error"] = f"{query_code};{'Receiver' if status >= 500 else 'Sender'}"
            return (
                status,
                headers,
                wire.encode({"__type": f"com.amazonaws.cloudwatch#{code}", "message": message}),
            )
        return 200, headers, wire.encode(result)


def _validated(operation: str, body: Any) -> dict[str, Any]:
    shapes.check_against(_input_shape(operation), body, "an object")
    cleaned: dict[str, Any] = shapes.without_nulls(body)
    return cleaned


def _wire_error(exc: Exception, request_id: str, operation: str) -> tuple[int, str, str, str]:
    """(HTTP status, error shape, query-protocol code, message) as CloudWatch words them."""
    if isinstance(exc, UnknownOperation):
        return 400, "UnknownOperationException", "InvalidAction", f"Unknown operation {operation[:100]!r}"
    if isinstance(exc, shapes.ShapeSerializationError):
        return 400, "SerializationException", "SerializationError", exc.message
    if isinstance(exc, shapes.ShapeInvalid):
        return 400, "InvalidParameterValueException", "InvalidParameterValue", exc.message
    if isinstance(exc, errors.Invalid):
        return 400, "InvalidParameterValueException", "InvalidParameterValue", str(exc)
    if isinstance(exc, errors.Unauthorized):
        status, code = _AUTH_ERRORS.get(type(exc), (403, "InvalidClientTokenId"))
        return status, code, code, str(exc)
    if isinstance(exc, errors.Unavailable):
        return 503, "ServiceUnavailableException", "ServiceUnavailable", str(exc)
    log.error("event=internal_error request_id=%s operation=%s", request_id, operation, exc_info=exc)
    return 500, "InternalServiceFault", "InternalServiceError", f"An internal error occurred ({request_id})."
