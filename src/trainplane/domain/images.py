"""Resolve a training image URI to a local runtime through the configured map (exact or glob)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from trainplane.domain import errors, fields

BUILTIN_PYTHON_IMAGE = "trainplane/python"
IMAGES_SETTING = "TRAINPLANE_IMAGES"


@dataclass(frozen=True)
class Runtime:
    """How to run an image locally: a command prefix and extra environment."""

    command: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)
    # "ContainerEntrypoint replaces command" images behave like Docker ENTRYPOINT overrides.
    entrypoint_replaces_command: bool = False


@dataclass(frozen=True)
class ImageRule:
    pattern: str  # an exact URI or a glob (fnmatch)
    runtime: Runtime


def resolve(rules: Sequence[ImageRule], image: str) -> Runtime:
    """The runtime of the first rule whose pattern matches; exact matches win over globs.

    Raises:
        errors.Invalid: no rule matches.
    """
    for rule in rules:
        if rule.pattern == image:
            return rule.runtime
    for rule in rules:
        if fnmatch.fnmatchcase(image, rule.pattern):
            return rule.runtime
    known = ", ".join(rule.pattern for rule in rules) or "none"
    raise errors.Invalid(
        fields.IMAGE,
        f"image {image!r} is not in the server's image map (setting {IMAGES_SETTING} or "
        f"`trainplane serve --images`; known: {known})",
    )


def build_command(runtime: Runtime, entrypoint: Sequence[str], arguments: Sequence[str]) -> tuple[str, ...]:
    """The argv a job runs: the runtime's command unless the entrypoint replaces it."""
    if entrypoint and runtime.entrypoint_replaces_command:
        return (*entrypoint, *arguments)
    return (*runtime.command, *entrypoint, *arguments)


def parse_rules(mapping: Mapping[str, Mapping[str, object]]) -> list[ImageRule]:
    """Rules from the settings document `{pattern: {"command": [...], "environment": {...}}}`.

    Raises:
        errors.Invalid: a rule is malformed.
    """
    rules = []
    for pattern, spec in mapping.items():
        command = spec.get("command", [])
        environment = spec.get("environment", {})
        if not isinstance(command, list) or not all(isinstance(part, str) for part in command):
            raise errors.Invalid(f"{IMAGES_SETTING}.{pattern}.command", "must be a list of strings")
        if not isinstance(environment, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in environment.items()
        ):
            raise errors.Invalid(f"{IMAGES_SETTING}.{pattern}.environment", "must map strings to strings")
        replaces = bool(spec.get("entrypoint_replaces_command", False))
        rules.append(ImageRule(pattern, Runtime(tuple(command), dict(environment), replaces)))
    return rules
