"""`POST /` dispatched on X-Amz-Target; every error rendered once, in SageMaker's wire format.

A bare ASGI callable (the hot path of every boto3 call skips a router): the event loop only reads the
body and writes the answer; authentication, decoding, the handler and encoding run in one hop to a
worker thread (api.off_loop).
"""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from trainplane.api.asgi import Receive, Scope, Send, read_body, request_headers, respond
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.api.memo import Memo
from trainplane.api.off_loop import Answer, Workers
from trainplane.api.sagemaker import errors as wire_errors
from trainplane.api.sagemaker import shapes
from trainplane.api.sagemaker.operations import OPERATIONS, Operation, Result
from trainplane.domain import errors
from trainplane.service.jobs import JobService
from trainplane.service.models import ModelService

log = logging.getLogger("trainplane.api.sagemaker")
TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = wire_errors.CONTENT_TYPE
# Pollers send the same few small bodies again and again; decoding and validating them is pure.
VALIDATED_MEMO_ENTRIES = 4096
VALIDATED_MEMO_MAX_BODY_BYTES = 1024


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _decode(raw: bytes) -> Any:
    shapes.check_value_count(raw)
    try:
        return json.loads(raw or b"{}", parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise shapes.ShapeSerializationError("", f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:  # nested past the C scanner's recursion limit
        raise shapes.ShapeSerializationError("", shapes.nesting_message()) from exc


class SageMakerEndpoint:
    """The ASGI app answering SageMaker JSON 1.1 calls for the principal each request authenticates as."""

    def __init__(
        self,
        service: JobService,
        authenticator: Authenticator,
        workers: Workers,
        models: ModelService | None = None,
    ) -> None:
        self._service = service
        self._models = models
        self._authenticator = authenticator
        self._workers = workers
        self._validated: Memo[tuple[str, bytes], Any] = Memo(VALIDATED_MEMO_ENTRIES)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive)
        request = RequestFacts.from_scope(scope, request_headers(scope), body)
        operation = OPERATIONS.get(self._operation_name(request))
        is_read_only = operation is not None and operation.is_read_only
        status, headers, content = await self._workers.run(is_read_only, lambda: self.answer(request))
        await respond(send, status, headers, content)

    @staticmethod
    def _operation_name(request: RequestFacts) -> str:
        return request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)

    def answer(self, request: RequestFacts) -> Answer:
        """Status, headers and body for `request`; blocking (store calls): run it off the event loop."""
        request_id = str(uuid.uuid4())
        operation_name = self._operation_name(request)
        try:
            principal = self._authenticator.authenticate(request)
            operation = OPERATIONS.get(operation_name)
            if operation is None:
                raise wire_errors.UnknownOperation(operation_name)
            body = self._validated_body(operation_name, request.body)
            result = operation.handler(self._service_for(operation), principal, body)
        except Exception as exc:
            if not isinstance(exc, errors.TrainplaneError | wire_errors.UnknownOperation):
                log.exception("event=internal_error request_id=%s operation=%s", request_id, operation_name)
            return wire_errors.render(wire_errors.to_wire(exc, operation_name), request_id)
        return 200, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id}, _encode(result)

    def _service_for(self, operation: Operation) -> JobService | ModelService:
        if not operation.uses_models:
            return self._service
        if self._models is None:
            raise wire_errors.UnknownOperation("models are not served here")
        return self._models

    def _validated_body(self, operation_name: str, raw: bytes) -> Any:
        """The decoded body, valid for the operation. Raises: the validation errors."""
        if len(raw) > VALIDATED_MEMO_MAX_BODY_BYTES:
            return _decoded_and_validated(operation_name, raw)
        key = (operation_name, raw)
        return self._validated.get(key, lambda: _decoded_and_validated(operation_name, raw))


def _decoded_and_validated(operation_name: str, raw: bytes) -> Any:
    body = _decode(raw)
    shapes.validate(operation_name, body)
    return shapes.without_nulls(body)


def _encode(result: Result) -> bytes:
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    return json.dumps(result, separators=(",", ":")).encode()
