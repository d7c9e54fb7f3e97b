"""`--generate-cli-skeleton`: the JSON shape of an operation's input or output, as the aws CLI prints it.

Unlike botocore's ArgumentGenerator, which picks a random enum value, the skeleton is deterministic
(the first enum value) so it can be diffed and tested.
"""

from __future__ import annotations

import json
from typing import Any

from trainplane.cli import arguments

EPOCH_TEXT = "1970-01-01T00:00:00"
_SCALARS: dict[str, Any] = {
    "integer": 0,
    "long": 0,
    "float": 0.0,
    "double": 0.0,
    "boolean": True,
    "timestamp": EPOCH_TEXT,
    "blob": "",
}


def generate(operation: str, which: str) -> str:
    """The skeleton of `operation`'s `which` ("input" or "output") shape as indented JSON."""
    if which == "output":
        shape = arguments.output_shape(operation)
        value = {} if shape is None else skeleton(shape, use_member_names=True)
    else:
        value = skeleton(arguments.input_shape(operation), use_member_names=False)
    return json.dumps(value, indent=4)


def skeleton(shape: Any, *, use_member_names: bool) -> Any:
    """A placeholder value of `shape`; strings are "" (input) or the member's name (output)."""
    return _value(shape, use_member_names, name="", stack=[])


def _value(shape: Any, use_member_names: bool, name: str, stack: list[str]) -> Any:
    kind = shape.type_name
    if kind == "structure":
        return _structure(shape, use_member_names, stack)
    if kind == "list":
        item_name = shape.member.name if use_member_names else ""
        return [_value(shape.member, use_member_names, item_name, stack)]
    if kind == "map":
        return {"KeyName": _value(shape.value, use_member_names, "", stack)}
    if kind == "string":
        if use_member_names:
            return name
        return shape.enum[0] if shape.enum else ""
    return _SCALARS.get(kind, "")


def _structure(shape: Any, use_member_names: bool, stack: list[str]) -> dict[str, Any]:
    # Recursive shapes (a structure that contains itself) stop at their second appearance.
    if shape.name in stack:
        return {}
    stack.append(shape.name)
    try:
        return {
            member: _value(member_shape, use_member_names, member, stack)
            for member, member_shape in shape.members.items()
        }
    finally:
        stack.pop()
