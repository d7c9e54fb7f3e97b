"""SageMaker request validation against botocore's own service model (the CLI has its own skeletons)."""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any

import botocore.session

from trainplane.api.sagemaker import constraints
from trainplane.domain import errors

# Adding an operation is one line here (and a handler in operations.py).
SUPPORTED_OPERATIONS: frozenset[str] = frozenset(
    {
        "CreateTrainingJob",
        "DescribeTrainingJob",
        "ListTrainingJobs",
        "StopTrainingJob",
        "DeleteTrainingJob",
        "CreateCompilationJob",
        "DescribeCompilationJob",
        "ListCompilationJobs",
        "StopCompilationJob",
        "DeleteCompilationJob",
        "CreateModel",
        "DescribeModel",
        "ListModels",
        "DeleteModel",
        "AddTags",
        "ListTags",
        "DeleteTags",
    }
)

# AWS lists every violation; past this many the message says how many more there were, so a
# malicious body cannot make the error response arbitrarily large.
MAX_LISTED_VIOLATIONS = 100

# The largest valid CreateTrainingJob holds about 2,000 JSON values (100 hyperparameters, 50 tags,
# 100 variables, 20 channels...). Decoding holds the GIL in C for its whole run, off the event loop
# or not: 8 MB of `[],[],...` (2.7 million values) froze /healthz for a second (issue 6).
MAX_JSON_VALUES = 50_000
# Below this size a body cannot hold enough values to matter; above it, it is counted first.
_COUNT_ABOVE_BYTES = 128 * 1024
# A JSON string literal, escapes included (unrolled, so matching is linear).
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')

# The deepest SageMaker input nests about six levels; past this a body is refused before any
# recursive walk (constraints, messages) could meet Python's recursion limit (issue 6).
MAX_NESTING_DEPTH = 32


class ShapeInvalid(errors.Invalid):
    """The body breaks the operation's input shape; `message` is AWS's "N validation errors" text."""

    def __init__(self, violations: list[constraints.Violation]) -> None:
        message = validation_message(violations)
        super().__init__(violations[0].path if violations else "", message)
        self.message = message
        self.args = (message,)
        self.violations = tuple(violations)


class ShapeSerializationError(ShapeInvalid):
    """The body is not JSON of the right types (a string where an object belongs): AWS's
    SerializationException, raised before any constraint is checked."""

    def __init__(self, field: str, reason: str) -> None:
        errors.Invalid.__init__(self, field, reason)  # no violations to word: the reason is the text
        self.message = reason
        self.args = (reason,)
        self.violations = ()


@functools.cache
def service_model(service: str = "sagemaker") -> Any:
    """botocore's model of `service`, loaded once (about 50-70 ms warm for SageMaker's; on start-up)."""
    return botocore.session.get_session().get_service_model(service)


def validate(operation: str, body: object) -> None:
    """Check `body` against the operation's whole input shape, as the AWS server does.

    Raises: ShapeSerializationError for JSON of the wrong type, ShapeInvalid for broken constraints.
    """
    check_against(_operation(operation).input_shape, body)


def check_against(shape: Any, body: object, body_kind: str = "a JSON object") -> None:
    """Check `body` against an input shape of any of botocore's models (None: no input at all).

    Raises: ShapeSerializationError for a body of the wrong type, ShapeInvalid for broken constraints.
    """
    check_depth(body)
    if shape is None:
        return
    if not isinstance(body, dict):
        raise ShapeSerializationError("", f"The request body must be {body_kind}")
    try:
        violations = constraints.check(shape, body)
    except constraints.TypeMismatch as exc:
        raise ShapeSerializationError(exc.path, str(exc)) from exc
    if violations:
        raise ShapeInvalid(violations)


def without_nulls(value: Any) -> Any:
    """`value` with every JSON-null member dropped: AWS treats a null member as absent, and so does
    validation, so the operations never see a None where they expect a default."""
    if isinstance(value, dict):
        return {key: without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_nulls(item) for item in value]
    return value


def check_depth(body: object) -> None:
    """Refuse JSON nested deeper than MAX_NESTING_DEPTH, without recursing.

    Raises: ShapeSerializationError.
    """
    level: list[object] = [body]
    for _ in range(MAX_NESTING_DEPTH + 1):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node if isinstance(node, list) else ())
        ]
        if not level:
            return
    raise ShapeSerializationError("", nesting_message())


def check_value_count(raw: bytes) -> None:
    """Refuse a body with more than MAX_JSON_VALUES values before decoding it.

    Counts the separators and containers outside string literals; fast C scans, no decoding.

    Raises: ShapeSerializationError.
    """
    if len(raw) <= _COUNT_ABOVE_BYTES:
        return
    structure = _STRING.sub(b"", raw)
    count = structure.count(b",") + structure.count(b"[") + structure.count(b"{")
    if count > MAX_JSON_VALUES:
        raise ShapeSerializationError("", f"The request body holds more than {MAX_JSON_VALUES} JSON values")


def nesting_message() -> str:
    return f"The request body is nested more than {MAX_NESTING_DEPTH} levels deep"


def validation_message(violations: list[constraints.Violation]) -> str:
    """AWS's text: "1 validation error detected: Value 'x' at 'a.b' failed to satisfy constraint: ..."."""
    count = len(violations)
    noun = "validation error" if count == 1 else "validation errors"
    listed = "; ".join(violation.text() for violation in violations[:MAX_LISTED_VIOLATIONS])
    more = count - MAX_LISTED_VIOLATIONS
    return f"{count} {noun} detected: {listed}" + (f"; and {more} more" if more > 0 else "")


def parse_timestamp(value: object, field: str) -> datetime:
    """A request timestamp (epoch seconds or ISO-8601) as an aware UTC datetime.

    Raises: ShapeSerializationError (a ShapeInvalid).
    """
    parsed = constraints.timestamp_from_wire(value)
    if parsed is None:
        mismatch = constraints.TypeMismatch(field, "timestamp", value)
        raise ShapeSerializationError(field, str(mismatch))
    return parsed


def _operation(operation: str) -> Any:
    if operation not in SUPPORTED_OPERATIONS:
        raise ValueError(f"operation {operation!r} is not in SUPPORTED_OPERATIONS")
    return service_model().operation_model(operation)
