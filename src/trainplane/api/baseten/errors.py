"""Baseten's error shape, rendered in one place: `{"code": ..., "message": ...}` with the HTTP status
the reference recommends (reference/modelarts_baseten.md §2.5). truss prints `message` on any 4xx."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping

from trainplane.api import error_detail
from trainplane.domain import errors, fields

log = logging.getLogger("trainplane.api.baseten")
CONTENT_TYPE = "application/json"
MAX_MESSAGE_CHARS = 4096

# Domain error class -> (HTTP status, wire code), looked up along the MRO.
_TABLE: Mapping[type[BaseException], tuple[int, str]] = {
    errors.NotFound: (404, "NOT_FOUND"),
    errors.InvalidState: (409, "CONFLICT"),
    errors.Invalid: (400, "VALIDATION_ERROR"),
    errors.Conflict: (409, "CONFLICT"),
    errors.LimitExceeded: (429, "LIMIT_EXCEEDED"),
    errors.Unauthorized: (401, "UNAUTHORIZED"),
    errors.Unavailable: (503, "UNAVAILABLE"),
}
# The core's neutral field names, as a Baseten client spells them in a CreateTrainingJob request.
_FIELDS: Mapping[str, str] = {
    fields.IMAGE: "training_job.image.base_image",
    fields.ENTRYPOINT: "training_job.runtime.start_commands",
    fields.ENVIRONMENT: "training_job.runtime.environment_variables",
    fields.INSTANCE_TYPE: "training_job.compute",
    fields.INSTANCE_COUNT: "training_job.compute.node_count",
}
# The core's resource kinds, in Baseten's words.
_KINDS: Mapping[str, str] = {
    "job group": "training project",
    "job": "training job",
    "training job": "training job",
}


def render(exc: BaseException) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body for `exc`; anything outside the table is logged and answered 500."""
    entry = next((_TABLE[cls] for cls in type(exc).__mro__ if cls in _TABLE), None)
    if entry is None:
        request_id = str(uuid.uuid4())
        log.error("event=internal_error request_id=%s", request_id, exc_info=exc)
        status, code, message = (
            500,
            "INTERNAL_ERROR",
            f"An internal error occurred. Request id: {request_id}.",
        )
    else:
        status, code = entry
        message = error_detail.capped(_message(exc), MAX_MESSAGE_CHARS)
    body = json.dumps({"code": code, "message": message}).encode()
    return status, {"Content-Type": CONTENT_TYPE}, body


def _message(exc: BaseException) -> str:
    if isinstance(exc, errors.NotFound):
        return f"{_KINDS.get(exc.kind, exc.kind)} {error_detail.capped(exc.name)!r} not found"
    if isinstance(exc, errors.InvalidState):
        return exc.reason
    if isinstance(exc, errors.Invalid) and exc.field:
        return f"{_FIELDS.get(exc.field, exc.field)}: {exc.reason}"
    return str(getattr(exc, "message", None) or exc)
