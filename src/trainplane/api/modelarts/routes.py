"""The URL table of ModelArts v1 under `/v1/{project_id}/` (reference/modelarts_baseten.md §1.2,
rows 1-11, 14 and 15): method and path pattern -> handler."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from trainplane.api.modelarts import handlers
from trainplane.api.modelarts.errors import UnknownApi

Handler = Callable[[handlers.Context, handlers.Call], dict[str, Any]]
PREFIX = "/v1/"
# Literal first segments under /v1/ that other routes (Baseten's) own; every other one is a project.
NOT_PROJECTS = frozenset({"training_projects", "training_jobs", "teams", "blobs"})
JOB = "{job_id}"
VERSION = "{version_id}"


@dataclass(frozen=True)
class Api:
    method: str
    pattern: tuple[str, ...]  # the path after /v1/{project_id}/, by segment; "{...}" is a path id
    handler: Handler
    is_read_only: bool  # reads and writes run in separate worker pools (api.off_loop)


def _api(method: str, path: str, handler: Handler) -> Api:
    return Api(method, tuple(path.split("/")), handler, method == "GET")


_VERSION = f"training-jobs/{JOB}/versions/{VERSION}"
APIS: Sequence[Api] = (
    _api("POST", "training-jobs", handlers.create_job),
    _api("GET", "training-jobs", handlers.list_jobs),
    _api("PUT", f"training-jobs/{JOB}", handlers.edit_description),
    _api("DELETE", f"training-jobs/{JOB}", handlers.delete_job),
    _api("GET", f"training-jobs/{JOB}/versions", handlers.list_versions),
    _api("POST", f"training-jobs/{JOB}/versions", handlers.create_version),
    _api("GET", _VERSION, handlers.version_detail),
    _api("DELETE", _VERSION, handlers.delete_version),
    _api("POST", f"{_VERSION}/stop", handlers.stop_version),
    _api("GET", f"{_VERSION}/log/file-names", handlers.log_file_names),
    _api("GET", f"{_VERSION}/aom-log", handlers.aom_log),
    _api("GET", "job/resource-specs", handlers.resource_specs),
    _api("GET", "job/ai-engines", handlers.ai_engines),
)


def match(method: str, path: str) -> tuple[Api, dict[str, str]]:
    """The API for `method` and the path after the project, with its raw path ids.

    Raises: UnknownApi (the gateway matches method and path together, as ModelArts' does).
    """
    segments = tuple(path.strip("/").split("/"))
    for api in APIS:
        if api.method != method or len(api.pattern) != len(segments):
            continue
        ids: dict[str, str] = {}
        for expected, actual in zip(api.pattern, segments, strict=True):
            if expected.startswith("{"):
                ids[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return api, ids
    raise UnknownApi(method, path)


def is_modelarts_path(path: str) -> bool:
    """Whether `path` is one ModelArts answers (`/v1/{project_id}/...`), e.g. to word a refusal."""
    project, slash, _ = path.removeprefix(PREFIX).partition("/")
    return path.startswith(PREFIX) and bool(slash) and bool(project) and project not in NOT_PROJECTS
