"""The ASGI app built from a JobService and an Authenticator: SageMaker and CloudWatch Logs on
`POST /` (by X-Amz-Target), STS on `POST /` (a form body), CloudWatch metrics (by X-Amz-Target, or
on their smithy-rpc-v2-cbor paths), plus native routes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute, Route

from trainplane import protocol
from trainplane.api import limits, native, resume
from trainplane.api.asgi import App, ClientDisconnected, Receive, Scope, Send
from trainplane.api.auth.keyring import ReloadableKeyring
from trainplane.api.auth.port import Authenticator
from trainplane.api.auth.single_tenant import SingleTenant
from trainplane.api.baseten import routes as baseten
from trainplane.api.cloudwatch_logs.endpoint import TARGET_PREFIX as LOGS_TARGET_PREFIX
from trainplane.api.cloudwatch_logs.endpoint import LogsEndpoint
from trainplane.api.cloudwatch_metrics import endpoint as metrics
from trainplane.api.modelarts import endpoint as modelarts
from trainplane.api.off_loop import Workers
from trainplane.api.sagemaker.endpoint import SageMakerEndpoint
from trainplane.api.sts.endpoint import FORM_CONTENT_TYPE, StsEndpoint
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService
from trainplane.service.models import ModelService


class Application:
    """Every body bounded first; then `POST /` goes straight to the SageMaker endpoint (every boto3
    call), the rest through a router."""

    def __init__(
        self,
        service: JobService,
        authenticator: Authenticator,
        groups: GroupService | None = None,
        keyring: ReloadableKeyring | None = None,
        models: ModelService | None = None,
        data_dir: Path | None = None,
    ) -> None:
        # `groups` and `keyring` are for the dialects that speak of job groups (ModelArts, Baseten)
        # and authenticate over the credentials file with their own schemes.
        self.groups = groups
        self.keyring = keyring
        self.workers = Workers()
        self._sagemaker = SageMakerEndpoint(service, authenticator, self.workers, models)
        self._logs = LogsEndpoint(service, authenticator, self.workers)
        self._sts = StsEndpoint(service, authenticator, self.workers)
        self._metrics = metrics.MetricsEndpoint(service, authenticator, self.workers)
        routes: list[BaseRoute] = [
            Route("/", self._sagemaker, methods=["POST"]),
            Route(protocol.HEALTH_ROUTE, native.healthz, methods=["GET"]),
            Route(protocol.LOG_ROUTE, native.make_logs_endpoint(service, authenticator), methods=["GET"]),
            Route(
                protocol.RESUME_ROUTE, resume.make_resume_endpoint(service, authenticator), methods=["POST"]
            ),
        ]
        if groups is not None:
            # Baseten's fixed /v1/... paths go ahead of ModelArts' /v1/{project_id}/... route.
            routes.extend(baseten.routes(service, groups, keyring, self.workers, data_dir))
            endpoint = modelarts.build(service, groups, authenticator, keyring, self.workers)
            routes.append(Route(modelarts.ROUTE, endpoint))
        self._router = Starlette(
            routes=routes, exception_handlers={HTTPException: native.http_error}, lifespan=self._lifespan
        )
        self._bounded = limits.BodyLimit(self._dispatch)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._bounded(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and scope["method"] == "POST":
            target = _header(scope, b"x-amz-target")
            endpoint: App = self._logs if target.startswith(LOGS_TARGET_PREFIX) else self._sagemaker
            if not target and _header(scope, b"content-type").startswith(FORM_CONTENT_TYPE):
                endpoint = self._sts  # the AWS query protocol: STS
            elif target.startswith(metrics.TARGET_PREFIX):
                endpoint = self._metrics  # CloudWatch in AWS JSON 1.0
            with contextlib.suppress(ClientDisconnected):
                await endpoint(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"].startswith(metrics.CBOR_PATH_PREFIX):
            with contextlib.suppress(ClientDisconnected):
                await self._metrics(scope, receive, send)  # CloudWatch in smithy-rpc-v2-cbor
            return
        await self._router(scope, receive, send)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Starlette) -> AsyncIterator[None]:
        yield
        self.workers.close()


def _header(scope: Scope, wanted: bytes) -> str:
    for name, value in scope["headers"]:
        if name == wanted:
            return bytes(value).decode("latin-1")
    return ""


def create_app(
    service: JobService,
    authenticator: Authenticator | None = None,
    *,
    groups: GroupService | None = None,
    keyring: ReloadableKeyring | None = None,
    models: ModelService | None = None,
    data_dir: Path | None = None,
) -> Application:
    """The app; without an authenticator every request acts for the one default tenant (and, without
    a keyring, so does every request of the dialects with their own schemes)."""
    return Application(service, authenticator or SingleTenant(), groups, keyring, models, data_dir)
