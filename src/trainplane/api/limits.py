"""Bound every request body, as ASGI middleware in front of both dialects (issue 6).

A declared Content-Length over the limit is refused before one byte of the body is read; a body
without one (chunked) is counted while it streams and refused as soon as it passes the limit. Either
way the answer is 413 in the path's dialect, and the connection is closed, so the rest of a 200 MB
upload is never read. The largest valid CreateTrainingJob (100 hyperparameters of 2,500 characters,
50 tags, 20 channels, 100 environment variables, every character escaped) is about 2.6 MB
(tests/unit/test_limits.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from trainplane.api import native
from trainplane.api.modelarts import errors as modelarts_errors
from trainplane.api.modelarts import routes as modelarts_routes
from trainplane.api.sagemaker import errors as wire_errors
from trainplane.domain import errors

MAX_BODY_BYTES = 8 * 1024 * 1024
SAGEMAKER_PATH = "/"


class BodyTooLarge(errors.Invalid):
    """The request body is larger than the server accepts."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__("body", f"The request body is larger than {max_bytes} bytes")
        self.message = self.reason
        self.args = (self.reason,)
        self.max_bytes = max_bytes


Render = Callable[[str, BodyTooLarge], tuple[int, dict[str, str], bytes]]


def render_refusal(path: str, exc: BodyTooLarge) -> tuple[int, dict[str, str], bytes]:
    """413 in the dialect `path` belongs to: SageMaker's JSON 1.1 error on `/`, native elsewhere."""
    if path == SAGEMAKER_PATH:
        err = wire_errors.to_wire(exc, "")
        refusal = wire_errors.WireError(413, "RequestEntityTooLarge", exc.message, err.detail)
        status, headers, body = wire_errors.render(refusal, str(uuid.uuid4()))
    elif modelarts_routes.is_modelarts_path(path):
        status, headers, body = modelarts_errors.render(
            modelarts_errors.WireError(413, "ModelArts.0101", exc.message)
        )
    else:
        status, headers, body = native.render(exc)
        status = 413
    return status, headers, body


class BodyLimit:
    """Pure ASGI middleware: the app sees the whole body (at most `max_bytes`) as one message."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, render: Render = render_refusal
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.render = render

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, is_chunked = _framing(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, send)
            return
        if not is_chunked:
            # The HTTP server delivers exactly Content-Length bytes (none without one): nothing to
            # count, and the hot path (Describe over keep-alive) pays no more than this check.
            await self.app(scope, receive, send)
            return
        first = await self._read_body(receive)
        if first is None:
            await self._refuse(scope, send)
            return
        pending = [first]

        async def replay() -> Message:
            # The buffered body once, then the server's own events (http.disconnect).
            return pending.pop() if pending else await receive()

        await self.app(scope, replay, send)

    async def _read_body(self, receive: Receive) -> Message | None:
        """The whole body as one `http.request` message; None once it passes the limit."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return message  # the client left; let the app see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

    async def _refuse(self, scope: Scope, send: Send) -> None:
        status, headers, body = self.render(scope.get("path", ""), BodyTooLarge(self.max_bytes))
        # Closing the connection is what keeps the rest of the body unread.
        raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        raw_headers += [(b"content-length", str(len(body)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": status, "headers": raw_headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})


def _framing(scope: Scope) -> tuple[int | None, bool]:
    """The declared Content-Length (None if absent or malformed) and whether the body is chunked."""
    declared: int | None = None
    is_chunked = False
    for key, value in scope["headers"]:
        if key == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                declared = None  # the HTTP server itself refuses a malformed length
        elif key == b"transfer-encoding":
            is_chunked = True
    return declared, is_chunked
