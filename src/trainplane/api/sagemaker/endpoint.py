"""`POST /` dispatched on X-Amz-Target; every error rendered once, in SageMaker's wire format."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trainplane.api.sagemaker import errors as wire_errors
from trainplane.api.sagemaker import shapes
from trainplane.api.sagemaker.operations import OPERATIONS
from trainplane.domain import errors
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.sagemaker")
TARGET_PREFIX = "SageMaker."
CONTENT_TYPE = wire_errors.CONTENT_TYPE


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


def make_endpoint(service: JobService, tenant: str = "default") -> Callable[[Request], Awaitable[Response]]:
    async def sagemaker(request: Request) -> Response:
        request_id = str(uuid.uuid4())
        operation_name = request.headers.get("x-amz-target", "").removeprefix(TARGET_PREFIX)
        try:
            operation = OPERATIONS.get(operation_name)
            if operation is None:
                raise wire_errors.UnknownOperation(operation_name)
            body = _decode(await request.body())
            shapes.validate(operation_name, body)
            if operation.is_read_only:
                result = operation.handler(service, tenant, body)
            else:
                result = await run_in_threadpool(operation.handler, service, tenant, body)
        except Exception as exc:
            if not isinstance(exc, errors.TrainplaneError | wire_errors.UnknownOperation):
                log.exception("event=internal_error request_id=%s operation=%s", request_id, operation_name)
            status, headers, content = wire_errors.render(
                wire_errors.to_wire(exc, operation_name), request_id
            )
            return Response(content, status, headers)
        content = b"" if result is None else json.dumps(result, separators=(",", ":")).encode()
        return Response(content, 200, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": request_id})

    return sagemaker
