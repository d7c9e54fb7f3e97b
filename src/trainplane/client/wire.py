"""SageMaker JSON 1.1 on the wire: request headers, bodies, timestamps, and errors decoded back into
`trainplane.domain.errors` so `NotFound` is the same class in-process and over HTTP."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainplane.domain import errors

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "SageMaker"

# The message real SageMaker sends, as a ValidationException, for an unknown job (reference §2).
NOT_FOUND_MESSAGE = "Requested resource not found."

_IN_STATUS = re.compile(r"in status (\w+)")
_ARN = re.compile(r"arn:aws[a-z-]*:sagemaker:[^\s)]+")


def request_headers(operation: str) -> dict[str, str]:
    """Headers of a JSON 1.1 call; a signer adds `Authorization` on top once auth lands."""
    return {"X-Amz-Target": f"{TARGET_PREFIX}.{operation}", "Content-Type": CONTENT_TYPE}


def encode_body(body: Mapping[str, Any]) -> bytes:
    """JSON with datetimes as epoch seconds, as botocore sends them."""
    return json.dumps(body, default=_encode_value).encode()


def _encode_value(value: object) -> object:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use timezone-aware UTC")
        return value.timestamp()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decode_body(content: bytes) -> dict[str, Any]:
    """A response body as a dict; operations without output answer with an empty body."""
    if not content.strip():
        return {}
    decoded = json.loads(content)
    if not isinstance(decoded, dict):
        raise errors.TrainplaneError(f"server answered with JSON that is not an object: {decoded!r}")
    return decoded


def parse_timestamp(value: object) -> datetime:
    """An aware UTC datetime from epoch seconds or an ISO-8601 string (other SDKs send those)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    try:
        return datetime.fromtimestamp(float(value), tz=UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def error_code_and_message(status_code: int, content: bytes, reason_phrase: str) -> tuple[str, str]:
    """(code, message) as botocore reads them: `__type` without its namespace, `message`/`Message`.

    A body that is not JSON (a proxy's HTML page) yields the HTTP status and reason phrase.
    """
    try:
        body = json.loads(content) if content.strip() else {}
    except ValueError:
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("__type") or status_code)
    code = code.split(":")[0].rsplit("#", 1)[-1]
    message = body.get("message", body.get("Message")) or reason_phrase or code
    return code, str(message)


def decode_error(
    status_code: int,
    content: bytes,
    reason_phrase: str = "",
    *,
    operation: str = "",
    resource_name: str = "",
) -> errors.TrainplaneError:
    """The domain error a wire error stands for; the server's message is kept as `.message`.

    `operation` and `resource_name` (the job the request named) fill the structured fields of
    NotFound, NameInUse and InvalidState; the message always stays the server's own words.
    """
    code, message = error_code_and_message(status_code, content, reason_phrase)
    build = _BY_CODE.get(code)
    if build is None and status_code == 503:
        build = _unavailable
    if build is None:
        return errors.TrainplaneError(f"{code}: {message}")
    return _with_message(build(_Context(message, operation, resource_name)), message)


@dataclass(frozen=True)
class _Context:
    message: str
    operation: str
    resource_name: str


def _with_message(exc: errors.TrainplaneError, message: str) -> errors.TrainplaneError:
    # The domain constructors compose their own text; over HTTP the server has already done that.
    exc.message = message
    exc.args = (message,)
    return exc


def _validation(ctx: _Context) -> errors.TrainplaneError:
    if ctx.message == NOT_FOUND_MESSAGE:
        return errors.NotFound("resource", ctx.resource_name)
    in_status = _IN_STATUS.search(ctx.message)
    if in_status is not None:
        return errors.InvalidState(ctx.operation, in_status.group(1))
    return errors.Invalid("", ctx.message)


def _resource_in_use(ctx: _Context) -> errors.TrainplaneError:
    # SageMaker says ResourceInUse both for a taken name (Create) and a busy job (Delete).
    if not ctx.operation.startswith("Create"):
        return errors.Conflict(ctx.message)
    arn = _ARN.search(ctx.message)
    return errors.NameInUse("resource", ctx.resource_name, arn.group(0) if arn else None)


def _unavailable(ctx: _Context) -> errors.TrainplaneError:
    return errors.Unavailable(ctx.message)


def _unauthorized(ctx: _Context) -> errors.TrainplaneError:
    return errors.Unauthorized(ctx.message)


_BY_CODE: Mapping[str, Callable[[_Context], errors.TrainplaneError]] = {
    "ValidationException": _validation,
    "ResourceNotFound": lambda ctx: errors.NotFound("resource", ctx.resource_name),
    "ResourceInUse": _resource_in_use,
    "ResourceLimitExceeded": lambda ctx: errors.LimitExceeded(ctx.message),
    "ConflictException": lambda ctx: errors.Conflict(ctx.message),
    "ServiceUnavailable": _unavailable,
    "UnrecognizedClientException": _unauthorized,
    "InvalidSignatureException": _unauthorized,
}
