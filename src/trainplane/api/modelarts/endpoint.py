"""`/v1/{project_id}/...`: route, authenticate, check the project, run the handler off the event loop,
and answer in ModelArts' envelope (`is_success`); every error is rendered once (errors.py)."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from urllib.parse import parse_qsl

from trainplane.api.asgi import ClientDisconnected, Receive, Scope, Send, read_body, request_headers, respond
from trainplane.api.auth.keyring import ReloadableKeyring
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.api.modelarts import errors as wire_errors
from trainplane.api.modelarts import handlers, params, routes
from trainplane.api.modelarts.access import ModelArtsAccess
from trainplane.api.off_loop import Answer, Workers
from trainplane.domain import errors
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService

log = logging.getLogger("trainplane.api.modelarts")


class ModelArtsEndpoint:
    """The ASGI app for every path under `/v1/{project_id}/`."""

    def __init__(self, context: handlers.Context, access: ModelArtsAccess, workers: Workers) -> None:
        self._context = context
        self._access = access
        self._workers = workers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive)
        except ClientDisconnected:
            return
        request = RequestFacts.from_scope(scope, request_headers(scope), body)
        project_id, _, rest = scope["path"].removeprefix(routes.PREFIX).partition("/")
        try:
            api, ids = routes.match(request.method, rest)
        except wire_errors.UnknownApi as exc:
            await respond(send, *wire_errors.render(wire_errors.to_wire(exc)))
            return
        status, headers, content = await self._workers.run(
            api.is_read_only, lambda: self.answer(request, project_id, api, ids)
        )
        await respond(send, status, headers, content)

    def answer(
        self, request: RequestFacts, project_id: str, api: routes.Api, ids: Mapping[str, str]
    ) -> Answer:
        """Status, headers and body; blocking (store calls): run it off the event loop."""
        request_id = str(uuid.uuid4())
        try:
            principal = self._access.authenticate(request, project_id)
            call = handlers.Call(
                tenant=principal.tenant,
                job_id=params.identifier("job_id", ids["job_id"]) if "job_id" in ids else 0,
                version_id=params.identifier("version_id", ids["version_id"]) if "version_id" in ids else 0,
                query=dict(parse_qsl(request.query, keep_blank_values=True)),
                body=request.body,
            )
            document = api.handler(self._context, call)
        except Exception as exc:
            if not isinstance(exc, errors.TrainplaneError):
                log.exception("event=internal_error request_id=%s api=%s", request_id, api.pattern)
            return wire_errors.render(wire_errors.to_wire(exc), request_id)
        content = json.dumps({"is_success": True, **document}, separators=(",", ":")).encode()
        return 200, {"Content-Type": wire_errors.CONTENT_TYPE, "X-Request-Id": request_id}, content


ROUTE = "/v1/{project_id}/{rest:path}"


def build(
    jobs: JobService,
    groups: GroupService,
    authenticator: Authenticator,
    keyring: ReloadableKeyring | None,
    workers: Workers,
) -> ModelArtsEndpoint:
    """The endpoint over the credentials file's keys; without one, an emulator only when the server
    checks no credentials at all (its authenticator is the single default tenant)."""
    access = ModelArtsAccess(
        (lambda: keyring.current) if keyring is not None else None,
        is_emulator=isinstance(authenticator, SingleTenant),
    )
    return ModelArtsEndpoint(handlers.Context(jobs, groups), access, workers)
