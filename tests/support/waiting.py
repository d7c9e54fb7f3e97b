"""Synchronise tests on conditions, never on sleeps: poll a predicate until a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold within the time allowed."""


def wait_until(
    predicate: Callable[[], T | None],
    timeout_seconds: float,
    interval_seconds: float = 0.01,
    *,
    message: str = "",
) -> T:
    """Return the first truthy value of `predicate()`; raise WaitTimeout after `timeout_seconds`."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = predicate()
        if value is not None and value:
            return value
        if time.monotonic() >= deadline:
            description = message or getattr(predicate, "__name__", repr(predicate))
            raise WaitTimeout(f"condition not met within {timeout_seconds} s: {description}")
        time.sleep(interval_seconds)
