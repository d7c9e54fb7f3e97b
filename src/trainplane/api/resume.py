"""`POST /trainplane/v1/{kind}-jobs/{name}/resume`: resume a finished job from its checkpoint.

Body (optional): `{"NewName": "..."}`. Answer: `{"JobName", "JobArn", "ResumedFrom"}`. Errors in the
native JSON error shape (api.native).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from trainplane.api import native
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.domain import errors
from trainplane.service.jobs import JobService

MAX_BODY_BYTES = 64 * 1024


def _new_name(raw: bytes) -> str | None:
    """Raises: errors.Invalid for a body that is not `{}` or `{"NewName": "<name>"}`."""
    if not raw.strip():
        return None
    try:
        document: Any = json.loads(raw)
    except ValueError:
        raise errors.Invalid("", "the request body is not valid JSON") from None
    if not isinstance(document, dict) or set(document) - {"NewName"}:
        raise errors.Invalid("", 'the body takes one member, "NewName"')
    name = document.get("NewName")
    if name is not None and not isinstance(name, str):
        raise errors.Invalid("NewName", "must be a string")
    return name


def make_resume_endpoint(
    service: JobService, authenticator: Authenticator
) -> Callable[[Request], Awaitable[Response]]:
    async def resume(request: Request) -> Response:
        raw = await request.body()
        facts = RequestFacts.from_scope(request.scope, dict(request.headers), raw)
        try:
            principal = await run_in_threadpool(authenticator.authenticate, facts)
            kind = native.job_kind(request.path_params["kind"])
            new_name = _new_name(raw[:MAX_BODY_BYTES])
            job = await run_in_threadpool(
                lambda: service.resume(
                    principal.tenant,
                    kind,
                    request.path_params["name"],
                    new_name,
                    account=principal.aws_account_id,
                )
            )
        except Exception as exc:
            return native.error_response(exc)
        body = {"JobName": job.name, "JobArn": job.arn, "ResumedFrom": request.path_params["name"]}
        return Response(json.dumps(body), 200, media_type=native.CONTENT_TYPE)

    return resume
