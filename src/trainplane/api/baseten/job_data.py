"""Handlers of what a job leaves: logs, metrics, checkpoints and their files, the model download."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from trainplane.api.baseten import files, logs, metrics, schemas, translate
from trainplane.api.baseten.context import Call
from trainplane.domain import errors

_LOG_NUMBERS = ("start_epoch_millis", "end_epoch_millis", "limit")
_METRIC_NUMBERS = ("start_epoch_millis", "end_epoch_millis", "step_seconds")


def post_logs(call: Call) -> dict[str, Any]:
    return _logs(call, schemas.obj(call.json(), "body"))


def get_logs(call: Call) -> dict[str, Any]:
    return _logs(call, schemas.query_numbers(call.query, _LOG_NUMBERS))


def _logs(call: Call, doc: Any) -> dict[str, Any]:
    window = schemas.log_window(doc)
    _, job = call.job()
    return {"logs": logs.log_lines(call.services.jobs, job, window, datetime.now(UTC))}


def post_metrics(call: Call) -> dict[str, Any]:
    return _metrics(call, schemas.obj(call.json(), "body"))


def get_metrics(call: Call) -> dict[str, Any]:
    return _metrics(call, schemas.query_numbers(call.query, _METRIC_NUMBERS))


def _metrics(call: Call, doc: Any) -> dict[str, Any]:
    window = schemas.metrics_window(doc)
    group, job = call.job()
    samples = call.services.jobs.read_usage(call.tenant, job.kind, job.name)
    return {**metrics.metrics_doc(samples, window), "training_job": translate.job_doc(job, group)}


def checkpoints(call: Call) -> dict[str, Any]:
    group, job = call.job()
    return {"training_job": translate.job_doc(job, group), "checkpoints": files.checkpoints(job)}


def checkpoint_files(call: Call) -> dict[str, Any]:
    page_size, token = schemas.checkpoint_page(schemas.query_numbers(call.query, ("page_size", "page_token")))
    _, job = call.job()
    root = files.checkpoint_dir(job)
    entries = list(files.walk(root)) if root is not None and root.is_dir() else []
    page = entries[token : token + page_size]
    expires_at = time.time() + files.URL_LIFETIME_SECONDS
    urls = [
        {
            "url": _url(
                call,
                call.services.signer.token(call.tenant, job.id, files.CHECKPOINT, e.relative, expires_at),
            ),
            "relative_file_name": e.relative,
            "node_rank": 0,
            "size_bytes": e.size_bytes,
            "last_modified": e.modified_at.isoformat(),
        }
        for e in page
    ]
    is_more = token + page_size < len(entries)
    return {
        "presigned_urls": urls,
        "next_page_token": token + page_size if is_more else None,
        "total_count": len(entries),
    }


def download(call: Call) -> dict[str, Any]:
    """The packaged model (model.tar.gz) once the job has ended; none before."""
    _, job = call.job()
    model = None if job.outcome is None else files.local_dir(job.outcome.model_uri)
    if model is None or not model.is_file():
        return {"artifact_presigned_urls": []}
    token = call.services.signer.token(
        call.tenant, job.id, files.MODEL, model.name, time.time() + files.URL_LIFETIME_SECONDS
    )
    return {"artifact_presigned_urls": [_url(call, token)]}


def auth_codes(call: Call) -> dict[str, Any]:
    """No interactive sessions here, so no codes (truss asks before it shows logs)."""
    call.job()
    return {"auth_codes": []}


def _url(call: Call, token: str) -> str:
    return call.base_url + files.FILES_ROUTE.replace("{token}", quote(token, safe=""))


def served_file(call: Call) -> tuple[str, str]:
    """(path, download name) of a presigned URL's file. Raises: errors.NotFound."""
    tenant, job_id, kind, relative = call.services.signer.claims(call.path["token"], time.time())
    job = call.services.jobs.get_job(tenant, job_id)
    if kind == files.MODEL:
        model = None if job.outcome is None else files.local_dir(job.outcome.model_uri)
        if model is None or not model.is_file():
            raise errors.NotFound("file", relative)
        return str(model), model.name
    root = files.checkpoint_dir(job)
    if root is None:
        raise errors.NotFound("file", relative)
    return str(files.inside(root, relative)), relative.rsplit("/", 1)[-1]
