"""The ASGI app built from a JobService: the SageMaker dialect on `POST /` plus native routes."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from trainplane.api import native
from trainplane.api.sagemaker.endpoint import make_endpoint
from trainplane.service.jobs import JobService


def create_app(service: JobService) -> Starlette:
    routes = [
        Route("/", make_endpoint(service), methods=["POST"]),
        Route("/healthz", native.healthz, methods=["GET"]),
        Route(
            "/trainplane/v1/training-jobs/{name}/logs",
            native.make_logs_endpoint(service),
            methods=["GET"],
        ),
    ]
    return Starlette(routes=routes)
