"""AWS-CLI-shaped options generated from the botocore input shape the server validates against.

Each member becomes `--kebab-case-name`; scalars take a value, structures/lists/maps take JSON, and
any value may be `file://path`. `--cli-input-json` supplies a whole request that explicit options
override key by key.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import botocore
import botocore.session

SERVICE = "sagemaker"
FILE_PREFIX = "file://"
CLI_INPUT_JSON_DEST = "cli_input_json"

_JSON_TYPES = {"structure": dict, "map": dict, "list": list}
_HELP_CHARS = 160
_HELP_ENUM_VALUES = 8


class UsageError(Exception):
    """The command line is wrong; the CLI prints it like argparse does and exits with 2."""


@functools.cache
def service_model() -> Any:
    """botocore's SageMaker model (loading it costs ~0.3 s, so only job commands ask for it)."""
    return botocore.session.get_session().get_service_model(SERVICE)


def input_shape(operation: str) -> Any:
    return service_model().operation_model(operation).input_shape


def output_shape(operation: str) -> Any:
    return service_model().operation_model(operation).output_shape


@dataclass(frozen=True)
class ShapeOption:
    """One generated option: the wire member it fills and the flag that sets it."""

    member: str
    flag: str
    dest: str


def flag_for(member: str) -> str:
    """The aws CLI's name for a member: `S3OutputPath` -> `--s3-output-path`."""
    return "--" + str(botocore.xform_name(member, "-"))


def add_shape_options(parser: argparse.ArgumentParser, shape: Any) -> tuple[ShapeOption, ...]:
    """One option per member of `shape`; none is argparse-required (`--cli-input-json` may fill it)."""
    options = []
    required = set(shape.required_members)
    for member, member_shape in shape.members.items():
        option = ShapeOption(member, flag_for(member), f"member:{member}")
        help_text = _help(member_shape, is_required=member in required)
        if member_shape.type_name == "boolean":
            parser.add_argument(
                option.flag,
                dest=option.dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            parser.add_argument(
                option.flag,
                dest=option.dest,
                type=functools.partial(parse_value, shape=member_shape),
                metavar=_metavar(member_shape),
                default=None,
                help=help_text,
            )
        options.append(option)
    return tuple(options)


def add_cli_input_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--cli-input-json",
        dest=CLI_INPUT_JSON_DEST,
        metavar="JSON|file://PATH",
        type=_parse_input_json,
        default=None,
        help="the whole request as JSON (see --generate-cli-skeleton); explicit options override its keys",
    )


def request_from_args(args: argparse.Namespace, options: Sequence[ShapeOption], shape: Any) -> dict[str, Any]:
    """The request: `--cli-input-json` first, explicit options on top, required members checked.

    Raises:
        UsageError: an unknown member in --cli-input-json, or a required member missing.
    """
    request: dict[str, Any] = dict(getattr(args, CLI_INPUT_JSON_DEST, None) or {})
    unknown = sorted(set(request) - set(shape.members))
    if unknown:
        raise UsageError(f"--cli-input-json: unknown member(s) {', '.join(unknown)}")
    for option in options:
        value = getattr(args, option.dest)
        if value is not None:
            request[option.member] = value
    missing = [flag_for(m) for m in shape.required_members if m not in request]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}")
    return request


def parse_value(text: str, shape: Any) -> Any:
    """One option value converted for `shape`; `file://path` reads the value from a file."""
    text = _read_param_file(text)
    kind = shape.type_name
    try:
        if kind in _JSON_TYPES:
            return _parse_json(text, _JSON_TYPES[kind])
        if kind in ("integer", "long"):
            return int(text)
        if kind in ("float", "double"):
            return float(text)
        if kind == "timestamp":
            return _parse_timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"invalid {kind} value {text!r}: {exc}") from exc
    return text


def _parse_json(text: str, expected: type) -> Any:
    decoded = json.loads(text)
    if not isinstance(decoded, expected):
        raise ValueError(f"expected a JSON {'object' if expected is dict else 'array'}")
    return decoded


def _parse_timestamp(text: str) -> datetime:
    """Epoch seconds or ISO-8601 (naive means UTC); sent as epoch seconds like botocore."""
    try:
        return datetime.fromtimestamp(float(text), tz=UTC)
    except ValueError:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _parse_input_json(text: str) -> dict[str, Any]:
    text = _read_param_file(text)
    try:
        return dict(_parse_json(text, dict))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not a JSON object: {exc}") from exc


def _read_param_file(text: str) -> str:
    if not text.startswith(FILE_PREFIX):
        return text
    path = Path(text.removeprefix(FILE_PREFIX)).expanduser()
    try:
        return path.read_text()
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {path}: {exc.strerror}") from exc


def _metavar(shape: Any) -> str:
    kind = shape.type_name
    if kind in _JSON_TYPES:
        return "JSON"
    return {"integer": "INT", "long": "INT", "float": "NUMBER", "double": "NUMBER"}.get(
        kind, "TIMESTAMP" if kind == "timestamp" else "TEXT"
    )


def _help(shape: Any, *, is_required: bool) -> str:
    doc = summary(shape.documentation)
    notes = []
    if is_required:
        notes.append("required")
    if shape.type_name in _JSON_TYPES:
        notes.append(f"{shape.type_name} as JSON or file://path")
    enum = getattr(shape, "enum", None) or []
    if 0 < len(enum) <= _HELP_ENUM_VALUES:
        notes.append("one of " + "|".join(enum))
    text = f"{doc} ({'; '.join(notes)})" if notes else doc
    return text.replace("%", "%%")  # argparse formats help with %


def summary(documentation: str) -> str:
    """The first sentence of botocore's HTML documentation, as plain text."""
    text = re.sub(r"<[^>]+>", "", documentation or "")
    text = " ".join(text.split())
    first = re.split(r"(?<=\.)\s", text, maxsplit=1)[0]
    return first if len(first) <= _HELP_CHARS else first[: _HELP_CHARS - 3] + "..."
