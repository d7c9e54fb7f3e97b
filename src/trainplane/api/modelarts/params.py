"""Path and query parameters: numbers within their documented ranges, or `errors.Invalid` naming the
parameter (never a 500). Unknown query parameters are ignored, as ModelArts ignores them. Pure."""

from __future__ import annotations

from collections.abc import Mapping

from trainplane.api import error_detail
from trainplane.domain import errors

MAX_ID = 2**63 - 1  # ids are Longs
MAX_DIGITS = 19


def identifier(name: str, text: str) -> int:
    """A path id (`job_id`, `version_id`): a whole number from 1 to 2**63-1."""
    if (
        not text.isascii()
        or not text.isdigit()
        or len(text) > MAX_DIGITS
        or int(text) < 1
        or int(text) > MAX_ID
    ):
        raise errors.Invalid(
            name, f"must be a positive whole number (a Long), not {error_detail.capped(text)!r}"
        )
    return int(text)


def integer(query: Mapping[str, str], name: str, low: int, high: int, default: int) -> int:
    """An integer query parameter in [low, high]; `default` when it is absent or empty."""
    text = query.get(name, "")
    if text == "":
        return default
    is_number = text.isascii() and text.lstrip("-").isdigit() and len(text) <= MAX_DIGITS + 1
    if not is_number or not low <= int(text) <= high:
        raise errors.Invalid(
            name, f"must be a whole number from {low} to {high}, not {error_detail.capped(text)!r}"
        )
    return int(text)


def choice(query: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    """One of `allowed` (case-insensitive); `default` when absent or empty."""
    text = query.get(name, "")
    if text == "":
        return default
    if text.lower() not in allowed:
        raise errors.Invalid(name, f"must be one of {', '.join(allowed)}, not {error_detail.capped(text)!r}")
    return text.lower()


def text(query: Mapping[str, str], name: str, max_chars: int) -> str:
    value = query.get(name, "")
    if len(value) > max_chars:
        raise errors.Invalid(name, f"must be at most {max_chars} characters")
    return value
