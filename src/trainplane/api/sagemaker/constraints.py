"""Check a decoded JSON value against a botocore shape and word each violation as AWS does.

Pure: botocore shapes, `regex`, stdlib. Client-side reusable (the CLI validates before sending).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import regex

log = logging.getLogger("trainplane.api.sagemaker.shapes")

# A value echoed in a message is cut to this many characters plus "...": a hostile request's
# 8 MB string is never sent back (issue 6).
MAX_ECHOED_CHARS = 100

# A pathological pattern/value pair must not pin a worker thread.
PATTERN_TIMEOUT_SECONDS = 0.25

# DOCUMENTED EXTENSION: these URI fields also take `file://` URIs and absolute paths, so a local
# control plane can read inputs and write models on its own disk. Length checks still apply.
LOCAL_URI_SHAPES = frozenset({"S3Uri", "S3ModelUri"})
LOCAL_URI_MEMBERS = frozenset({("ContainerDefinition", "ModelDataUrl")})
LOCAL_URI_PREFIXES = ("file://", "/")

_INTEGER_TYPES = frozenset({"integer", "long"})
_FLOAT_TYPES = frozenset({"float", "double"})
_EXPECTED = {
    "structure": "an object",
    "map": "an object",
    "list": "an array",
    "string": "a string",
    "blob": "a base64 string",
    "integer": "a 32-bit integer",
    "long": "a 64-bit integer",
    "float": "a number",
    "double": "a number",
    "boolean": "a boolean",
    "timestamp": "a timestamp (epoch seconds or an ISO-8601 string)",
}


@dataclass(frozen=True)
class Violation:
    """One failed constraint: `path` is AWS's member path (`inputDataConfig.1.member.channelName`)."""

    path: str
    value: object  # the offending value; None when the member is missing
    constraint: str

    def text(self) -> str:
        shown = "null" if self.value is None else f"'{echoed(self.value)}'"
        return f"Value {shown} at '{self.path}' failed to satisfy constraint: {self.constraint}"


class TypeMismatch(Exception):
    """The JSON type does not fit the shape; AWS answers these before validating anything."""

    def __init__(self, path: str, shape_type: str, value: object) -> None:
        where = f" at '{path}'" if path else ""
        super().__init__(f"Expected {_EXPECTED.get(shape_type, shape_type)}{where}, got {_json_type(value)}")
        self.path = path


def check(shape: Any, value: object) -> list[Violation]:
    """All violations of `value` against the structure `shape`, in member order.

    Raises TypeMismatch for the first value whose JSON type does not fit.
    """
    return list(_structure(shape, value, ""))


def java_repr(value: object) -> str:
    """Render a value the way AWS's Java services print it in messages ([a, b], {k=v}, true)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(java_repr(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}={java_repr(item)}" for key, item in value.items()) + "}"
    return "null" if value is None else str(value)


def echoed(value: object) -> str:
    """`java_repr(value)` cut to MAX_ECHOED_CHARS characters plus "..."."""
    text = java_repr(value)
    return text if len(text) <= MAX_ECHOED_CHARS else text[:MAX_ECHOED_CHARS] + "..."


def timestamp_from_wire(value: object) -> datetime | None:
    """Epoch seconds (number or numeric string) or ISO-8601 -> aware UTC datetime; None if neither."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        seconds = float(value)
    except ValueError:  # not a number: an ISO-8601 string, or nothing
        return _iso_timestamp(value) if isinstance(value, str) else None
    except OverflowError:
        return None
    if not math.isfinite(seconds):
        return None
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def lower_camel(member_name: str) -> str:
    """AWS lower-cases only the first letter in member paths (`S3OutputPath` -> `s3OutputPath`)."""
    return member_name[:1].lower() + member_name[1:]


@functools.cache
def compiled(pattern: str) -> regex.Pattern[str] | None:
    """The model's Java pattern compiled with `regex` (it knows \\p{L}); None if it cannot compile."""
    try:
        return regex.compile(pattern)
    except regex.error as exc:  # cached, so logged once per pattern
        log.warning("event=shape_pattern_skipped pattern=%r error=%s", pattern, exc)
        return None


def declared_constraints(shape: Any) -> list[str]:
    """Every constraint the shape declares, worded as AWS lists them inside map-key/value errors."""
    meta = shape.metadata
    texts = []
    if "max" in meta:
        texts.append(_bound_text(shape, "less", meta["max"]))
    if "min" in meta:
        texts.append(_bound_text(shape, "greater", meta["min"]))
    if "pattern" in meta:
        texts.append(_pattern_text(meta["pattern"]))
    if getattr(shape, "enum", None):
        texts.append(_enum_text(shape.enum))
    return texts


def _structure(shape: Any, value: object, path: str) -> Iterator[Violation]:
    if not isinstance(value, dict):
        raise TypeMismatch(path, "structure", value)
    required = set(shape.required_members)
    # Unknown members are ignored, as AWS's JSON 1.1 services do: newer SDKs send newer members.
    for name, member in shape.members.items():
        member_path = f"{path}.{lower_camel(name)}" if path else lower_camel(name)
        member_value = value.get(name)
        if member_value is None:  # JSON null counts as absent, as it does on AWS
            if name in required:
                yield Violation(member_path, None, "Member must not be null")
            continue
        is_local_uri = member.name in LOCAL_URI_SHAPES or (shape.name, name) in LOCAL_URI_MEMBERS
        yield from _value(member, member_value, member_path, is_local_uri)


def _value(shape: Any, value: object, path: str, is_local_uri: bool = False) -> Iterator[Violation]:
    kind = shape.type_name
    if kind == "structure":
        yield from _structure(shape, value, path)
    elif kind == "list":
        yield from _list(shape, value, path)
    elif kind == "map":
        yield from _map(shape, value, path)
    else:
        _check_scalar_type(shape, value, path)
        yield from _scalar(shape, value, path, is_local_uri)


def _list(shape: Any, value: object, path: str) -> Iterator[Violation]:
    if not isinstance(value, list):
        raise TypeMismatch(path, "list", value)
    yield from _bounds(shape, value, _size(value), path)
    for index, item in enumerate(value, start=1):
        item_path = f"{path}.{index}.member"
        if item is None:
            yield Violation(item_path, None, "Member must not be null")
        else:
            yield from _value(shape.member, item, item_path)


def _map(shape: Any, value: object, path: str) -> Iterator[Violation]:
    if not isinstance(value, dict):
        raise TypeMismatch(path, "map", value)
    yield from _bounds(shape, value, len(value), path)
    for key in value:
        _check_scalar_type(shape.key, key, f"{path}.{key}")
    if any(_failures(shape.key, key, False) for key in value):
        yield _map_aspect(path, value, "Map keys", shape.key)
    if shape.value.type_name in ("structure", "list", "map"):
        for key, item in value.items():
            yield from _value(shape.value, item, f"{path}.{key}")
        return
    for key, item in value.items():
        if item is None:
            yield Violation(f"{path}.{key}", None, "Member must not be null")
        else:
            _check_scalar_type(shape.value, item, f"{path}.{key}")
    if any(item is not None and _failures(shape.value, item, False) for item in value.values()):
        yield _map_aspect(path, value, "Map value", shape.value)


def _map_aspect(path: str, value: object, aspect: str, shape: Any) -> Violation:
    # AWS reports keys once and values once per map, listing all the declared constraints.
    listed = ", ".join(declared_constraints(shape))
    return Violation(path, value, f"{aspect} must satisfy constraint: [{listed}]")


def _scalar(shape: Any, value: object, path: str, is_local_uri: bool) -> Iterator[Violation]:
    for constraint in _failures(shape, value, is_local_uri):
        yield Violation(path, value, constraint)


def _failures(shape: Any, value: object, is_local_uri: bool) -> list[str]:
    """The constraint texts a type-checked scalar fails: enum, pattern, then max/min."""
    meta = shape.metadata
    failed: list[str] = []
    if isinstance(value, str) and shape.type_name == "string":
        if shape.enum and value not in shape.enum:
            failed.append(_enum_text(shape.enum))
        skip_pattern = is_local_uri and value.startswith(LOCAL_URI_PREFIXES)
        if "pattern" in meta and not skip_pattern and not _matches(meta["pattern"], value):
            failed.append(_pattern_text(meta["pattern"]))
        size: float = _size(value)
    elif shape.type_name in _INTEGER_TYPES | _FLOAT_TYPES:
        assert isinstance(value, int | float)
        size = value
    else:
        return failed
    if "max" in meta and size > meta["max"]:
        failed.append(_bound_text(shape, "less", meta["max"]))
    if "min" in meta and size < meta["min"]:
        failed.append(_bound_text(shape, "greater", meta["min"]))
    return failed


def _bounds(shape: Any, value: object, size: int, path: str) -> Iterator[Violation]:
    meta = shape.metadata
    if "max" in meta and size > meta["max"]:
        yield Violation(path, value, _bound_text(shape, "less", meta["max"]))
    if "min" in meta and size < meta["min"]:
        yield Violation(path, value, _bound_text(shape, "greater", meta["min"]))


def _check_scalar_type(shape: Any, value: object, path: str) -> None:
    fits = _TYPE_CHECKS.get(shape.type_name)
    if fits is not None and not fits(value):
        raise TypeMismatch(path, shape.type_name, value)


def _is_integer(value: object, bits: int) -> bool:
    # An integral float (1.0, as Python's json writes it) is the same number; 1.5 is not.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    limit = 2 ** (bits - 1)
    return isinstance(value, int) and not isinstance(value, bool) and -limit <= value < limit


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


_TYPE_CHECKS: Mapping[str, Callable[[object], bool]] = {
    "string": lambda value: isinstance(value, str),
    "blob": lambda value: isinstance(value, str),
    "integer": lambda value: _is_integer(value, 32),
    "long": lambda value: _is_integer(value, 64),
    "float": _is_number,
    "double": _is_number,
    "boolean": lambda value: isinstance(value, bool),
    "timestamp": lambda value: timestamp_from_wire(value) is not None,
}


def _matches(pattern: str, value: str) -> bool:
    compiled_pattern = compiled(pattern)
    if compiled_pattern is None:
        return True
    try:
        return compiled_pattern.fullmatch(value, timeout=PATTERN_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        return False


def _size(value: str | list[object]) -> int:
    if isinstance(value, list):
        return len(value)
    # AWS counts length in UTF-16 code units, as Java's String.length() does.
    return len(value.encode("utf-16-le")) // 2


def _bound_text(shape: Any, side: str, bound: float) -> str:
    noun = "value" if shape.type_name in _INTEGER_TYPES | _FLOAT_TYPES else "length"
    shown = float(bound) if shape.type_name in _FLOAT_TYPES else bound
    return f"Member must have {noun} {side} than or equal to {shown}"


def _pattern_text(pattern: str) -> str:
    # SageMaker's own model anchors its patterns; botocore's copy dropped the '^'. AWS prints it.
    anchored = pattern if pattern.startswith("^") else f"^{pattern}"
    return f"Member must satisfy regular expression pattern: {anchored}"


def _enum_text(values: list[str]) -> str:
    return f"Member must satisfy enum value set: [{', '.join(values)}]"


def _iso_timestamp(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    # A timestamp without an offset is UTC, as botocore reads one.
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return f"a boolean ({java_repr(value)})"
    if isinstance(value, int | float):
        return f"a number ({echoed(value)})"
    if isinstance(value, str):
        return f"a string ('{value[:64]}')"
    if isinstance(value, list):
        return "an array"
    return "an object" if isinstance(value, Mapping) else "null"
