"""The ASGI app built from a JobService: the SageMaker dialect on `POST /` plus native routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route

from trainplane import protocol
from trainplane.api import limits, native
from trainplane.api.sagemaker.endpoint import make_endpoint
from trainplane.service.jobs import JobService


def create_app(service: JobService) -> Starlette:
    routes = [
        Route("/", make_endpoint(service), methods=["POST"]),
        Route(protocol.HEALTH_ROUTE, native.healthz, methods=["GET"]),
        Route(protocol.LOG_ROUTE, native.make_logs_endpoint(service), methods=["GET"]),
    ]
    return Starlette(
        routes=routes,
        middleware=[Middleware(limits.BodyLimit)],
        exception_handlers={HTTPException: native.http_error},
    )
