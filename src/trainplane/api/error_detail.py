"""The structured member every error answer carries beside the dialect's code and message.

`{"trainplaneError": {"class": "NotFound", "kind": "training job", "name": "a"}}`: botocore ignores
it; the trainplane client rebuilds the same `domain.errors` class from it instead of parsing English.
Pure: domain and protocol only.
"""

from __future__ import annotations

from trainplane import protocol
from trainplane.domain import errors

# The structured fields of the domain errors, as they are named on the error classes.
_FIELDS = ("kind", "name", "field", "reason", "operation", "status", "arn", "event", "job_id")
MAX_ECHOED_CHARS = 100  # a value echoed back is cut to this many characters


def capped(text: str, limit: int = MAX_ECHOED_CHARS) -> str:
    """`text` cut to `limit` characters plus "..." (a hostile 200 MB value is never echoed back)."""
    return text if len(text) <= limit else text[:limit] + "..."


def of(exc: BaseException) -> dict[str, str] | None:
    """The detail member of `exc`: its nearest `domain.errors` class and its string fields."""
    domain_class = next(
        (cls for cls in type(exc).__mro__ if cls.__module__ == errors.__name__),
        None,
    )
    if domain_class is None:
        return None
    detail = {protocol.ERROR_CLASS_KEY: domain_class.__name__}
    for field in _FIELDS:
        value = getattr(exc, field, None)
        if isinstance(value, str):
            # `reason` words the problem and may be long; the rest are names and paths.
            detail[field] = capped(value, 1000 if field == "reason" else MAX_ECHOED_CHARS * 3)
    expected_version = getattr(exc, "expected_version", None)
    if isinstance(expected_version, int):
        detail["expected_version"] = str(expected_version)
    return detail
