"""ModelArts' error wire format: one table from error class to (HTTP status, code), rendered once.

Body `{"is_success": false, "error_code": "ModelArts.NNNN", "error_message": "...", "error_msg": "..."}`:
the current docs name the text `error_message`, pages from 2019-2021 and the gateway `error_msg`, so
both are sent (reference/modelarts_baseten.md §1.1, §1.6). The status is the one the error-code
appendix pairs with each code. Pure.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from trainplane.api import error_detail
from trainplane.api.auth import port as auth
from trainplane.api.auth import sdk_hmac
from trainplane.domain import errors, fields

CONTENT_TYPE = "application/json;charset=UTF-8"
INTERNAL_ERROR = "ModelArts.0010"
MAX_MESSAGE_CHARS = 4096  # a hostile request never makes the answer large


@dataclass(frozen=True)
class WireError:
    http_status: int
    code: str
    message: str


class UnknownApi(Exception):
    """No API answers this method and path (what ModelArts' API gateway says as APIGW.0101)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(
            f"The API does not exist or has not been published in the environment: "
            f"{method} {error_detail.capped(path, 256)}"
        )


class ProjectMismatch(errors.Unauthorized):
    """The project in the URL is not the credential's project."""


class NoProject(errors.Unauthorized):
    """The credential's tenant has no ModelArts project id."""


# Looked up along the exception's MRO, so the most specific class wins.
_TABLE: Mapping[type[BaseException], tuple[int, str]] = {
    UnknownApi: (404, "APIGW.0101"),
    errors.Invalid: (400, "ModelArts.0101"),  # Invalid Argument; the message names the field
    errors.InvalidState: (400, "ModelArts.0104"),  # e.g. stop a version that has completed
    errors.NotFound: (404, "ModelArts.0015"),  # "The resource you requested is not exist"
    errors.NameInUse: (400, "ModelArts.0103"),  # the docs' sample: "Job name:X is existed"
    errors.Conflict: (409, "ModelArts.0104"),
    errors.LimitExceeded: (400, "ModelArts.0116"),  # job quota reached
    errors.Unauthorized: (401, "ModelArts.0203"),  # Invalid token
    auth.MissingCredentials: (401, "ModelArts.0203"),
    sdk_hmac.UnknownAccessKey: (401, "ModelArts.0206"),  # Invalid AK/SK
    auth.MalformedSignature: (401, "ModelArts.0206"),
    auth.BadSignature: (401, "ModelArts.0206"),
    ProjectMismatch: (403, "ModelArts.0210"),  # the URL's project is not the token's
    NoProject: (403, "ModelArts.0204"),  # the token has no project
    errors.Unavailable: (503, INTERNAL_ERROR),
}

# The core's neutral field names (domain.fields), as the ModelArts request names them.
_FIELDS: Mapping[str, str] = {
    fields.IMAGE: "config.user_image_url",
    fields.ENTRYPOINT: "config.user_command",
    fields.OUTPUT_LOCATION: "config.train_url",
    fields.CHECKPOINT_LOCATION: "config.train_url",
    fields.HYPERPARAMETERS: "config.parameter",
    fields.ENVIRONMENT: "config.parameter",
    fields.INSTANCE_TYPE: "config.spec_id",
    fields.INSTANCE_COUNT: "config.worker_server_num",
    fields.CHANNELS: "config.data_url",
}

# The core's resource words, in ModelArts' terms.
_RESOURCES: Mapping[str, str] = {"job group": "training job", "job": "training job version"}


def to_wire(exc: BaseException) -> WireError:
    """The status, code and message ModelArts answers `exc` with; None in the table: internal."""
    entry = next((_TABLE[cls] for cls in type(exc).__mro__ if cls in _TABLE), None)
    if entry is None:
        return WireError(500, INTERNAL_ERROR, "Internal error.")
    status, code = entry
    if isinstance(exc, errors.NotFound):
        resource = _RESOURCES.get(exc.kind, exc.kind)
        name = error_detail.capped(exc.name, 256)
        return WireError(status, code, f"The resource you requested is not exist: {resource} {name}.")
    if isinstance(exc, errors.Invalid) and exc.field:
        return WireError(status, code, f"{wire_field(exc.field)}: {exc.reason}")
    return WireError(status, code, str(getattr(exc, "message", None) or exc))


def render(err: WireError, request_id: str | None = None) -> tuple[int, dict[str, str], bytes]:
    """HTTP status, headers and body for `err`; an internal error names the request id."""
    request_id = request_id or str(uuid.uuid4())
    message = error_detail.capped(err.message, MAX_MESSAGE_CHARS)
    if err.code == INTERNAL_ERROR and err.http_status == 500:
        message = f"{message} Request id: {request_id}."
    document = {"is_success": False, "error_code": err.code, "error_message": message, "error_msg": message}
    headers = {"Content-Type": CONTENT_TYPE, "X-Request-Id": request_id}
    return err.http_status, headers, json.dumps(document).encode()


def wire_field(field: str) -> str:
    """The ModelArts request path of a core field name (`channels.1.source` -> `config.data_url`)."""
    indexed = fields.split_indexed(field)
    return _FIELDS.get(indexed[0] if indexed else field, field)
