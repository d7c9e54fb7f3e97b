"""trainplane's own routes: health and job logs (SageMaker keeps logs in CloudWatch, which we are not)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.domain import errors
from trainplane.domain.status import JobKind
from trainplane.service.jobs import JobService

LOG_CHUNK_BYTES = 256 * 1024
FOLLOW_POLL_SECONDS = 0.2  # how often a followed log is re-read; a latency knob, not a correctness one
NEXT_OFFSET_HEADER = "X-Trainplane-Next-Offset"


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def _not_found(exc: errors.NotFound) -> Response:
    body = json.dumps({"__type": "ResourceNotFound", "message": exc.message})
    return Response(body, 404, media_type="application/json")


def _bad_request(field: str, message: str) -> Response:
    body = json.dumps({"__type": "ValidationException", "message": f"{field}: {message}"})
    return Response(body, 400, media_type="application/json")


def _unauthorized(exc: errors.Unauthorized) -> Response:
    body = json.dumps({"__type": "UnrecognizedClientException", "message": exc.message})
    return Response(body, 401, media_type="application/json")


def make_logs_endpoint(
    service: JobService, authenticator: Authenticator
) -> Callable[[Request], Awaitable[Response]]:
    async def logs(request: Request) -> Response:
        name = request.path_params["name"]
        facts = RequestFacts(request.method, request.url.path, dict(request.headers), b"")
        try:
            tenant = (await run_in_threadpool(authenticator.authenticate, facts)).tenant
        except errors.Unauthorized as exc:
            return _unauthorized(exc)
        try:
            offset = int(request.query_params.get("offset", "0"))
        except ValueError:
            return _bad_request("offset", "must be a whole number of bytes")
        if offset < 0:
            return _bad_request("offset", "must not be negative")
        follow = request.query_params.get("follow", "false").lower() in ("1", "true", "yes")
        try:
            data, _ = await run_in_threadpool(
                service.read_log, tenant, JobKind.TRAINING, name, offset, LOG_CHUNK_BYTES
            )
        except errors.NotFound as exc:
            return _not_found(exc)
        if not follow:
            return Response(data, 200, {NEXT_OFFSET_HEADER: str(offset + len(data))}, "text/plain")
        return StreamingResponse(_follow(service, tenant, name, offset, data), media_type="text/plain")

    return logs


async def _follow(
    service: JobService, tenant: str, name: str, offset: int, first: bytes
) -> AsyncIterator[bytes]:
    if first:
        yield first
        offset += len(first)
    while True:
        try:
            data, was_terminal = await run_in_threadpool(
                service.read_log, tenant, JobKind.TRAINING, name, offset, LOG_CHUNK_BYTES
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
