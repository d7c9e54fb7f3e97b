"""One Settings object for the server; every field has an environment variable TRAINPLANE_<FIELD>."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trainplane.domain import errors
from trainplane.domain import images as image_map
from trainplane.domain.job import DEFAULT_GRACE_SECONDS
from trainplane.domain.names import DEFAULT_ACCOUNT, DEFAULT_REGION

ENV_PREFIX = "TRAINPLANE_"


def builtin_images() -> dict[str, dict[str, Any]]:
    """`trainplane/python` runs ContainerEntrypoint + ContainerArguments with this server's Python."""
    bin_dir = str(Path(sys.executable).parent)
    return {
        image_map.BUILTIN_PYTHON_IMAGE: {
            "command": [],
            "environment": {
                "TRAINPLANE_PYTHON_BIN": bin_dir,
                "PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}",
            },
        },
        f"{image_map.BUILTIN_PYTHON_IMAGE}:*": {
            "command": [],
            "environment": {
                "TRAINPLANE_PYTHON_BIN": bin_dir,
                "PATH": f"{bin_dir}:{os.environ.get('PATH', os.defpath)}",
            },
        },
    }


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"  # loopback until authentication lands
    port: int = 8080
    data_dir: Path = Path("tp-data")
    stop_grace_seconds: float = DEFAULT_GRACE_SECONDS
    images: str = ""  # JSON object or @path: {pattern: {"command": [...], "environment": {...}}}
    region: str = DEFAULT_REGION
    account: str = DEFAULT_ACCOUNT
    database_url: str = ""  # empty: SQLite in data_dir
    max_active_jobs: int = 1000  # per tenant; 0 for no limit (each local job is a few processes)
    log_level: str = "info"
    auth_tokens: str = ""  # JSON or @path: {"<bearer token>": "<tenant>"}; empty: one tenant, no credentials
    reconcile_interval_seconds: float = 5.0  # full sweep period; events wake it sooner
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "trainplane.db"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path.resolve()}"

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def image_rules(self) -> list[image_map.ImageRule]:
        """Built-in images plus the configured map; configured patterns override built-ins.

        Raises:
            errors.Invalid: the configured map is not valid JSON of the documented shape.
        """
        mapping: dict[str, Any] = builtin_images()
        text = self.images
        if text.startswith("@"):
            text = Path(text[1:]).read_text()
        if text:
            try:
                configured = json.loads(text)
            except json.JSONDecodeError as exc:
                raise errors.Invalid(image_map.IMAGES_SETTING, f"not valid JSON: {exc}") from exc
            if not isinstance(configured, dict):
                raise errors.Invalid(image_map.IMAGES_SETTING, "must be a JSON object")
            mapping.update(configured)
        return image_map.parse_rules(mapping)


def env_name(field_name: str) -> str:
    return ENV_PREFIX + field_name.upper()


def from_env(environ: Mapping[str, str], **overrides: Any) -> Settings:
    """Settings from TRAINPLANE_* variables, then explicit overrides (e.g. CLI options) on top."""
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None or f.name == "extra":
            continue
        values[f.name] = _coerce(f.type, raw)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values)


def _coerce(type_name: Any, raw: str) -> Any:
    kind = str(type_name)
    if kind == "int":
        return int(raw)
    if kind == "float":
        return float(raw)
    if kind == "Path":
        return Path(raw)
    return raw
