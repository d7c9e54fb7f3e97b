"""SageMaker request shapes from botocore's own service model: validation, CLI options, skeletons.

Imports only botocore, `regex`, stdlib and `trainplane.domain`, so the CLI can use it client-side.
"""

from __future__ import annotations

import functools
import html
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import botocore.session
from botocore import xform_name

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
        "AddTags",
        "ListTags",
        "DeleteTags",
    }
)

# AWS lists every violation; past this many the message says how many more there were, so a
# malicious body cannot make the error response arbitrarily large.
MAX_LISTED_VIOLATIONS = 100
SKELETON_TIMESTAMP = "1970-01-01T00:00:00Z"


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


@dataclass(frozen=True)
class MemberInfo:
    """One top-level input member, described for the CLI."""

    name: str  # wire name, e.g. "TrainingJobName"
    option: str  # the AWS CLI's option for it, e.g. "--training-job-name"
    type: str  # string | integer | float | boolean | blob | timestamp | structure | list | map
    is_required: bool
    documentation: str  # the first sentence, plain text
    enum: tuple[str, ...] = ()


@functools.cache
def service_model() -> Any:
    """botocore's SageMaker model, loaded once (about 50-70 ms warm; it is on server start-up)."""
    return botocore.session.get_session().get_service_model("sagemaker")


def validate(operation: str, body: object) -> None:
    """Check `body` against the operation's whole input shape, as the AWS server does.

    Raises: ShapeSerializationError for JSON of the wrong type, ShapeInvalid for broken constraints.
    """
    shape = _operation(operation).input_shape
    if shape is None:
        return
    if not isinstance(body, dict):
        raise ShapeSerializationError("", "The request body must be a JSON object")
    try:
        violations = constraints.check(shape, body)
    except constraints.TypeMismatch as exc:
        raise ShapeSerializationError(exc.path, str(exc)) from exc
    if violations:
        raise ShapeInvalid(violations)


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


def input_members(operation: str) -> list[MemberInfo]:
    """The operation's top-level input members in model order, for building CLI options."""
    shape = _operation(operation).input_shape
    if shape is None:
        return []
    required = set(shape.required_members)
    return [
        MemberInfo(
            name=name,
            option="--" + xform_name(name, "-"),  # the AWS CLI's own spelling
            type=_CLI_TYPES.get(member.type_name, member.type_name),
            is_required=name in required,
            documentation=first_sentence(member.documentation),
            enum=tuple(getattr(member, "enum", ())),
        )
        for name, member in shape.members.items()
    ]


def input_skeleton(operation: str) -> dict[str, Any]:
    """Like `aws sagemaker <op> --generate-cli-skeleton input`: every member with a placeholder."""
    shape = _operation(operation).input_shape
    return {} if shape is None else _skeleton(shape, ())


def output_skeleton(operation: str) -> dict[str, Any]:
    """Like `--generate-cli-skeleton output`; {} for operations that answer with an empty body."""
    shape = _operation(operation).output_shape
    return {} if shape is None else _skeleton(shape, ())


def first_sentence(documentation: str) -> str:
    """The first sentence of botocore's HTML documentation, as plain text."""
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", documentation)).split())
    text = re.sub(r" ([.,;:!?)])", r"\1", text)  # "<code>NextToken</code>." must not gain a space
    match = re.match(r"(.+?[.!?])(\s|$)", text)
    return match.group(1) if match else text


_CLI_TYPES = {"long": "integer", "double": "float"}
_SCALAR_PLACEHOLDERS: dict[str, Any] = {
    "string": "",
    "blob": "",
    "integer": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "boolean": True,
    "timestamp": SKELETON_TIMESTAMP,
}


def _operation(operation: str) -> Any:
    if operation not in SUPPORTED_OPERATIONS:
        raise ValueError(f"operation {operation!r} is not in SUPPORTED_OPERATIONS")
    return service_model().operation_model(operation)


def _skeleton(shape: Any, stack: tuple[str, ...]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if shape.name in stack:  # recursive shapes (e.g. nested filters) stop at one level
            return {}
        inner = (*stack, shape.name)
        return {name: _skeleton(member, inner) for name, member in shape.members.items()}
    if kind == "list":
        return [_skeleton(shape.member, stack)]
    if kind == "map":
        return {"KeyName": _skeleton(shape.value, stack)}
    return _SCALAR_PLACEHOLDERS.get(kind, "")
