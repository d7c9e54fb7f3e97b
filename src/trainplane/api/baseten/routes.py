"""The Baseten URL table and the runner every route shares: authenticate, run the handler off the event
loop, answer JSON, or render the error in Baseten's shape (never a traceback, never a 500 on purpose).

Fixed paths only (`/v1/training_projects...`, `/v1/training_jobs/search`, `/v1/teams/...`,
`/v1/training_files/...`, `/graphql/`): they must be mounted ahead of ModelArts' `/v1/{project_id}/...`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from trainplane.api.asgi import request_headers
from trainplane.api.auth.keyring import ReloadableKeyring
from trainplane.api.auth.port import Authenticator, RequestFacts
from trainplane.api.baseten import access, files, graphql, job_data, projects, s3_target, uploads
from trainplane.api.baseten import errors as wire_errors
from trainplane.api.baseten.context import Call, Services
from trainplane.api.off_loop import Workers
from trainplane.domain import errors
from trainplane.service.groups import GroupService
from trainplane.service.jobs import JobService

Handler = Callable[[Call], Any]
PROJECT = "/v1/training_projects/{project_id}"
JOB = PROJECT + "/jobs/{job_id}"
ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


@dataclass(frozen=True)
class _Entry:
    path: str
    method: str
    handler: Handler
    is_read_only: bool = False


_TABLE: Sequence[_Entry] = (
    _Entry("/v1/training_projects", "GET", projects.list_projects, True),
    _Entry("/v1/training_projects", "POST", projects.upsert_project),
    _Entry("/v1/teams/{team_id}/training_projects", "POST", projects.upsert_team_project),
    _Entry(PROJECT, "GET", projects.get_project, True),
    _Entry(PROJECT, "DELETE", projects.delete_project),
    _Entry(PROJECT + "/jobs", "POST", projects.create_job),
    _Entry(PROJECT + "/jobs", "GET", projects.list_jobs, True),
    _Entry(JOB, "GET", projects.get_job, True),
    _Entry(JOB, "PATCH", projects.update_job),
    _Entry(JOB, "DELETE", projects.delete_job),
    _Entry(JOB + "/stop", "POST", projects.stop_job),
    _Entry(JOB + "/recreate", "POST", projects.recreate_job),
    _Entry("/v1/training_jobs/search", "POST", projects.search_jobs, True),
    _Entry(JOB + "/logs", "POST", job_data.post_logs, True),
    _Entry(JOB + "/logs", "GET", job_data.get_logs, True),
    _Entry(JOB + "/metrics", "POST", job_data.post_metrics, True),
    _Entry(JOB + "/metrics", "GET", job_data.get_metrics, True),
    _Entry(JOB + "/checkpoints", "GET", job_data.checkpoints, True),
    _Entry(JOB + "/checkpoint_files", "GET", job_data.checkpoint_files, True),
    _Entry(JOB + "/download", "GET", job_data.download, True),
    _Entry(JOB + "/auth_codes", "GET", job_data.auth_codes, True),
    _Entry("/graphql/", "POST", graphql.answer, True),
    _Entry("/v1/blobs/credentials/train", "GET", s3_target.credentials),
)
# Anything else under Baseten's fixed prefixes is a Baseten 404, not another dialect's.
_PREFIXES = (
    "/v1/training_projects/{rest:path}",
    "/v1/training_jobs/{rest:path}",
    "/v1/training_files/{rest:path}",
    "/v1/teams/{rest:path}",
    "/v1/blobs/{rest:path}",
)


class _Runner:
    def __init__(self, services: Services, authenticator: Authenticator, workers: Workers) -> None:
        self.services = services
        self.authenticator = authenticator
        self.workers = workers

    def route(self, entry: _Entry) -> Route:
        async def endpoint(request: Request) -> Response:
            try:
                body = await request.body()
            except ClientDisconnect:
                return Response(status_code=400)
            status, headers, content = await self.workers.run(
                entry.is_read_only, lambda: self.answer(entry.handler, request, body)
            )
            return Response(content, status, headers)

        return Route(entry.path, endpoint, methods=[entry.method], name=f"baseten:{entry.handler.__name__}")

    def answer(self, handler: Handler, request: Request, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Blocking: authentication and the handler run on a worker thread."""
        try:
            facts = RequestFacts.from_scope(request.scope, request_headers(request.scope), body)
            principal = self.authenticator.authenticate(facts)
            result = handler(self._call(principal.tenant, request, body))
        except Exception as exc:
            return wire_errors.render(exc)
        content = json.dumps(result, separators=(",", ":")).encode()
        return 200, {"Content-Type": wire_errors.CONTENT_TYPE}, content

    def _call(self, tenant: str, request: Request, body: bytes) -> Call:
        return Call(
            services=self.services,
            tenant=tenant,
            path={key: str(value) for key, value in request.path_params.items()},
            query=dict(request.query_params),
            body=body,
            base_url=str(request.base_url).rstrip("/"),
        )

    async def file(self, request: Request) -> Response:
        """A presigned URL: the token is the credential (no Authorization header)."""
        call = self._call("", request, b"")
        try:
            path, name = await self.workers.run(True, lambda: job_data.served_file(call))
        except Exception as exc:
            status, headers, content = wire_errors.render(exc)
            return Response(content, status, headers)
        return FileResponse(path, filename=name)

    async def not_found(self, request: Request) -> Response:
        status, headers, content = wire_errors.render(errors.NotFound("route", request.url.path))
        return Response(content, status, headers)


def routes(
    jobs: JobService,
    groups: GroupService,
    keyring: ReloadableKeyring | None,
    workers: Workers,
    data_dir: Path | None,
) -> list[BaseRoute]:
    """Baseten's routes, to mount ahead of any `/v1/{...}` route of another dialect."""
    blobs = None if data_dir is None else uploads.Blobs(data_dir / "baseten" / "uploads")
    services = Services(jobs, groups, files.Signer(), data_dir, uploads.UploadKeys(), blobs)
    runner = _Runner(services, access.authenticator(keyring), workers)
    table: list[BaseRoute] = [runner.route(entry) for entry in _TABLE]
    table.append(Route(files.FILES_ROUTE, runner.file, methods=["GET"], name="baseten:file"))
    s3 = s3_target.S3Target(services, workers)
    table.append(
        Route(s3_target.ROUTE, s3.endpoint, methods=["PUT", "POST", "DELETE"], name="baseten:uploads")
    )
    table.extend(Route(prefix, runner.not_found, methods=ALL_METHODS) for prefix in _PREFIXES)
    return table
