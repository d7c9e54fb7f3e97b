"""trainplane's own routes: health and job logs (SageMaker keeps logs in CloudWatch, which we are not).

Errors use the same JSON shape as the SageMaker dialect (`__type`, `message` and the structured
`trainplaneError` member), so one client decoder reads both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from trainplane import protocol
from trainplane.api import error_detail
from trainplane.api.auth import port as auth
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.domain import errors
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.native")
LOG_CHUNK_BYTES = 256 * 1024
FOLLOW_POLL_SECONDS = 0.2  # how often a followed log is re-read; a latency knob, not a correctness one
NEXT_OFFSET_HEADER = protocol.NEXT_OFFSET_HEADER
LOG_ROUTE = protocol.LOG_ROUTE
MAX_LOG_OFFSET = 2**63 - 1  # a file offset (off_t); past it seek() overflows
CONTENT_TYPE = "application/json"

# Domain error class -> (HTTP status, code), looked up along the MRO.
_TABLE: dict[type[BaseException], tuple[int, str]] = {
    errors.NotFound: (404, "ResourceNotFound"),
    errors.Invalid: (400, "ValidationException"),
    errors.Conflict: (409, "ConflictException"),
    errors.LimitExceeded: (429, "ResourceLimitExceeded"),
    errors.Unauthorized: (401, "UnrecognizedClientException"),
    auth.MissingCredentials: (401, "MissingAuthenticationTokenException"),
    auth.BadSignature: (401, "InvalidSignatureException"),
    auth.MalformedSignature: (401, "IncompleteSignatureException"),
    errors.Unavailable: (503, "ServiceUnavailable"),
}


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def render(exc: BaseException) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and JSON body for `exc`; anything outside the table is an internal failure."""
    entry = next((_TABLE[cls] for cls in type(exc).__mro__ if cls in _TABLE), None)
    if entry is None:
        request_id = str(uuid.uuid4())
        log.error("event=internal_error request_id=%s", request_id, exc_info=exc)
        status, code, message = (
            500,
            "InternalFailure",
            f"An internal error occurred. Request id: {request_id}.",
        )
    else:
        status, code = entry
        message = error_detail.capped(str(getattr(exc, "message", None) or exc), 16 * 1024)
    document: dict[str, object] = {"__type": code, "message": message}
    detail = error_detail.of(exc)
    if detail is not None:
        document[protocol.ERROR_DETAIL_MEMBER] = detail
    return status, {"Content-Type": CONTENT_TYPE}, json.dumps(document).encode()


def error_response(exc: BaseException) -> Response:
    status, headers, body = render(exc)
    return Response(body, status, headers)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in the JSON error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    code = {404: "UnknownRoute", 405: "MethodNotAllowed"}.get(status, "BadRequest")
    message = f"{request.method} {error_detail.capped(request.url.path)}: " + (
        exc.detail if isinstance(exc, HTTPException) else "internal error"
    )
    headers = dict(exc.headers or {}) if isinstance(exc, HTTPException) else {}
    body = json.dumps({"__type": code, "message": message}).encode()
    return Response(body, status, {**headers, "Content-Type": CONTENT_TYPE})


def _offset(text: str) -> int:
    """Raises: errors.Invalid (a huge or garbage offset is the caller's mistake, never a 500)."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        raise errors.Invalid("offset", "must be a whole number of bytes, at least 0")
    offset = int(text)
    if offset > MAX_LOG_OFFSET:
        raise errors.Invalid("offset", f"must be at most {MAX_LOG_OFFSET}")
    return offset


def job_kind(text: str) -> JobKind:
    """The job kind a route's `{kind}` names. Raises: errors.NotFound."""
    return _kind(text)


def _kind(text: str) -> JobKind:
    try:
        return JobKind(text)
    except ValueError:
        raise errors.NotFound("job kind", error_detail.capped(text)) from None


def make_logs_endpoint(
    service: JobService, authenticator: Authenticator
) -> Callable[[Request], Awaitable[Response]]:
    """`GET /trainplane/v1/{kind}-jobs/{name}/logs?offset=N&follow=true`."""

    async def logs(request: Request) -> Response:
        facts = RequestFacts.from_scope(request.scope, dict(request.headers), b"")
        try:
            tenant = (await run_in_threadpool(authenticator.authenticate, facts)).tenant
            kind = _kind(request.path_params["kind"])
            name = request.path_params["name"]
            offset = _offset(request.query_params.get("offset", "0"))
            follow = request.query_params.get("follow", "false").lower() in ("1", "true", "yes")
            data, _ = await run_in_threadpool(service.read_log, tenant, kind, name, offset, LOG_CHUNK_BYTES)
        except Exception as exc:
            return error_response(exc)
        if not follow:
            return Response(data, 200, {NEXT_OFFSET_HEADER: str(offset + len(data))}, "text/plain")
        chunks = _follow(service, tenant, kind, name, offset, data)
        return StreamingResponse(chunks, media_type="text/plain")

    return logs


async def _follow(
    service: JobService, tenant: str, kind: JobKind, name: str, offset: int, first: bytes
) -> AsyncIterator[bytes]:
    if first:
        yield first
        offset += len(first)
    while True:
        try:
            data, was_terminal = await run_in_threadpool(
                service.read_log, tenant, kind, name, offset, LOG_CHUNK_BYTES
            )
        except errors.NotFound:
            return  # deleted while followed
        if data:
            yield data
            offset += len(data)
            continue
        if was_terminal:
            return  # terminal before the read, and the read found nothing more: drained
        await asyncio.sleep(FOLLOW_POLL_SECONDS)
