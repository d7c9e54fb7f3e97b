"""SageMaker JSON 1.1 on the wire: request headers, bodies, timestamps, and errors decoded back into
`trainplane.domain.errors` so `NotFound` is the same class in-process and over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from trainplane import protocol
from trainplane.domain import errors

CONTENT_TYPE = protocol.SAGEMAKER_CONTENT_TYPE
TARGET_PREFIX = protocol.SAGEMAKER_TARGET_PREFIX


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
    code, message, _ = _error_parts(status_code, content, reason_phrase)
    return code, message


def _error_parts(
    status_code: int, content: bytes, reason_phrase: str
) -> tuple[str, str, Mapping[str, Any] | None]:
    try:
        body = json.loads(content) if content.strip() else {}
    except (ValueError, RecursionError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    code = str(body.get("__type") or status_code)
    code = code.split(":")[0].rsplit("#", 1)[-1]
    message = body.get("message", body.get("Message")) or reason_phrase or code
    detail = body.get(protocol.ERROR_DETAIL_MEMBER)
    return code, str(message), detail if isinstance(detail, dict) else None


def decode_error(
    status_code: int,
    content: bytes,
    reason_phrase: str = "",
    *,
    operation: str = "",
    resource_name: str = "",
) -> errors.TrainplaneError:
    """The domain error a wire error stands for; the server's message is kept as `.message`.

    A trainplane server names the class and its fields in the `trainplaneError` member; an answer
    without it (a proxy, another server) is mapped by its code alone, with `operation` and
    `resource_name` (the job the request named) filling in what the code cannot say.
    """
    code, message, detail = _error_parts(status_code, content, reason_phrase)
    if detail is not None:
        built = _from_detail(detail, message)
        if built is not None:
            return _with_message(built, message)
    build = _BY_CODE.get(code)
    if build is None and status_code == 503:
        build = _unavailable
    if build is None:
        return errors.TrainplaneError(f"{code}: {message}")
    return _with_message(build(_Context(message, operation, resource_name)), message)


def _from_detail(detail: Mapping[str, Any], message: str) -> errors.TrainplaneError | None:
    """The domain error named by the structured member; None for a class this client does not know."""
    fields = {key: str(value) for key, value in detail.items() if isinstance(value, str | int)}
    build = _BY_CLASS.get(fields.get(protocol.ERROR_CLASS_KEY, ""))
    return None if build is None else build(fields, message)


def _expected_version(fields: Mapping[str, str]) -> int:
    text = fields.get("expected_version", "")
    return int(text) if text.isdigit() and len(text) < 20 else -1


_BY_CLASS: Mapping[str, Callable[[Mapping[str, str], str], errors.TrainplaneError]] = {
    "NotFound": lambda f, m: errors.NotFound(f.get("kind", ""), f.get("name", "")),
    "Invalid": lambda f, m: errors.Invalid(f.get("field", ""), f.get("reason", m)),
    "InvalidState": lambda f, m: errors.InvalidState(f.get("operation", ""), f.get("status", "")),
    "Conflict": lambda f, m: errors.Conflict(m),
    "IllegalTransition": lambda f, m: errors.IllegalTransition(f.get("status", ""), f.get("event", "")),
    "NameInUse": lambda f, m: errors.NameInUse(f.get("kind", ""), f.get("name", ""), f.get("arn")),
    "StaleWrite": lambda f, m: errors.StaleWrite(f.get("job_id", ""), _expected_version(f)),
    "LimitExceeded": lambda f, m: errors.LimitExceeded(m),
    "Unauthorized": lambda f, m: errors.Unauthorized(m),
    "Unavailable": lambda f, m: errors.Unavailable(m),
    "TrainplaneError": lambda f, m: errors.TrainplaneError(m),
}


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


def _resource_in_use(ctx: _Context) -> errors.TrainplaneError:
    # SageMaker says ResourceInUse both for a taken name (Create) and a busy job (Delete).
    if not ctx.operation.startswith("Create"):
        return errors.Conflict(ctx.message)
    return errors.NameInUse("resource", ctx.resource_name)


def _unavailable(ctx: _Context) -> errors.TrainplaneError:
    return errors.Unavailable(ctx.message)


def _unauthorized(ctx: _Context) -> errors.TrainplaneError:
    return errors.Unauthorized(ctx.message)


# Answers without the structured member: the code alone decides the class.
_BY_CODE: Mapping[str, Callable[[_Context], errors.TrainplaneError]] = {
    "ValidationException": lambda ctx: errors.Invalid("", ctx.message),
    "SerializationException": lambda ctx: errors.Invalid("", ctx.message),
    "ResourceNotFound": lambda ctx: errors.NotFound("resource", ctx.resource_name),
    "ResourceInUse": _resource_in_use,
    "ResourceLimitExceeded": lambda ctx: errors.LimitExceeded(ctx.message),
    "ConflictException": lambda ctx: errors.Conflict(ctx.message),
    "ServiceUnavailable": _unavailable,
    "UnrecognizedClientException": _unauthorized,
    "InvalidSignatureException": _unauthorized,
}
