"""The request bodies ModelArts clients send, checked field by field: `errors.Invalid` names the
wire path (`config.spec_id`) and what it must be. Pure.

A version's `config` may leave out what its `pre_version_id` had: the two are merged first
(`merged_config`) and the result checked as a whole (`config`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainplane.domain import errors

JOB_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_DESCRIPTION_CHARS = 256
MAX_URL_CHARS = 2048
MAX_COMMAND_CHARS = 8192
MAX_PARAMETERS = 100
REQUIRED = "is required"
MAX_VALUE_CHARS = 2500  # SageMaker's hyperparameter value limit: the same job may be read through it
PARAMETER_LABEL = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,127}")
# What ModelArts offers that trainplane cannot do; naming one is refused rather than ignored.
UNSUPPORTED = {
    "model_id": "built-in algorithms are not supported: give user_image_url + user_command or boot_file_url",
    "pool_id": "dedicated pools are not supported: give spec_id",
    "dataset_id": "ModelArts datasets are not supported: give data_url",
    "dataset_version_id": "ModelArts datasets are not supported: give data_url",
    "nas_mount_path": "NAS mounts are not supported",
}


def decode(raw: bytes) -> Any:
    """The JSON body. Raises: errors.Invalid."""
    try:
        return json.loads(raw or b"{}", parse_constant=_reject_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise errors.Invalid("body", f"the request body is not valid JSON: {str(exc)[:200]}") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def obj(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise errors.Invalid(path or "body", "must be a JSON object")
    return value


def string(
    body: Mapping[str, Any], path: str, key: str, max_chars: int, *, required: bool = False
) -> str | None:
    value = body.get(key)
    name = f"{path}.{key}" if path else key
    if value is None:
        if required:
            raise errors.Invalid(name, REQUIRED)
        return None
    if not isinstance(value, str):
        raise errors.Invalid(name, "must be a string")
    if len(value) > max_chars:
        raise errors.Invalid(name, f"must be at most {max_chars} characters")
    if "\x00" in value:
        raise errors.Invalid(name, "contains a NUL character")
    return value


def integer(body: Mapping[str, Any], path: str, key: str, *, required: bool = False) -> int | None:
    value = body.get(key)
    name = f"{path}.{key}" if path else key
    if value is None:
        if required:
            raise errors.Invalid(name, REQUIRED)
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)  # the docs' own create sample sends ids as strings
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
        raise errors.Invalid(name, "must be a whole number from 0 to 2**63-1")
    return value


@dataclass(frozen=True)
class NewJobBody:
    job_name: str
    job_desc: str
    config: Mapping[str, Any]


def create_job(body: Any) -> NewJobBody:
    body = obj(body, "")
    name = string(body, "", "job_name", 64, required=True) or ""
    if not JOB_NAME.fullmatch(name):
        raise errors.Invalid("job_name", "must be 1 to 64 letters, digits, hyphens or underscores")
    return NewJobBody(name, description(body, required=False), obj(body.get("config"), "config"))


def create_version(body: Any) -> tuple[str | None, Mapping[str, Any], int]:
    """`job_desc` (None: keep the job's), the given config and its `pre_version_id`."""
    body = obj(body, "")
    config = obj(body.get("config"), "config")
    pre_version_id = integer(config, "config", "pre_version_id", required=True)
    desc = description(body, required=False) if body.get("job_desc") is not None else None
    return desc, config, pre_version_id or 0


def description(body: Any, *, required: bool) -> str:
    body = obj(body, "")
    return string(body, "", "job_desc", MAX_DESCRIPTION_CHARS, required=required) or ""


@dataclass(frozen=True)
class Parameter:
    label: str
    value: str


@dataclass(frozen=True)
class Config:
    """A version's `config` (reference §1.3), complete and checked."""

    spec_id: int
    train_url: str
    user_image_url: str | None
    user_command: str | None
    boot_file_url: str | None
    app_url: str | None
    engine_id: int
    data_urls: tuple[str, ...]
    log_url: str | None
    parameters: tuple[Parameter, ...]


def config(raw: Mapping[str, Any]) -> Config:
    """Raises: errors.Invalid naming the first field that is missing, mistyped or unsupported."""
    for key, reason in UNSUPPORTED.items():
        if raw.get(key) not in (None, "", 0):
            raise errors.Invalid(f"config.{key}", reason)
    if raw.get("volumes"):
        raise errors.Invalid(
            "config.volumes", "volumes are not supported: name locations in data_url/train_url"
        )
    workers = integer(raw, "config", "worker_server_num", required=True)
    if workers != 1:
        raise errors.Invalid("config.worker_server_num", "trainplane runs one worker per version: give 1")
    spec_id = integer(raw, "config", "spec_id", required=True) or 0
    train_url = string(raw, "config", "train_url", MAX_URL_CHARS, required=True) or ""
    image = string(raw, "config", "user_image_url", MAX_URL_CHARS)
    command = string(raw, "config", "user_command", MAX_COMMAND_CHARS)
    boot_file = string(raw, "config", "boot_file_url", MAX_URL_CHARS)
    _check_code(image, command, boot_file)
    engine_id = integer(raw, "config", "engine_id")
    return Config(
        spec_id=spec_id,
        train_url=train_url,
        user_image_url=image,
        user_command=command,
        boot_file_url=boot_file,
        app_url=string(raw, "config", "app_url", MAX_URL_CHARS),
        engine_id=1 if engine_id is None else engine_id,
        data_urls=_data_urls(raw),
        log_url=string(raw, "config", "log_url", MAX_URL_CHARS),
        parameters=_parameters(raw.get("parameter")),
    )


def _check_code(image: str | None, command: str | None, boot_file: str | None) -> None:
    if image is not None:
        if not command:
            raise errors.Invalid("config.user_command", "is required with user_image_url")
        if boot_file is not None:
            raise errors.Invalid("config.boot_file_url", "give user_image_url or boot_file_url, not both")
    elif not boot_file:
        raise errors.Invalid(
            "config.boot_file_url",
            "is required: give boot_file_url (+ engine_id) or user_image_url + user_command",
        )


def _data_urls(raw: Mapping[str, Any]) -> tuple[str, ...]:
    data_url = string(raw, "config", "data_url", MAX_URL_CHARS)
    sources = raw.get("data_source")
    if sources is None:
        return (data_url,) if data_url else ()
    if data_url:
        raise errors.Invalid("config.data_source", "give data_url or data_source, not both")
    if not isinstance(sources, list) or len(sources) > 20:
        raise errors.Invalid("config.data_source", "must be a list of at most 20 {type, data_url} objects")
    urls = []
    for index, source in enumerate(sources):
        path = f"config.data_source[{index}]"
        source = obj(source, path)
        if source.get("type", "obs") != "obs":
            raise errors.Invalid(f"{path}.type", "only type obs (a data_url) is supported")
        urls.append(string(source, path, "data_url", MAX_URL_CHARS, required=True) or "")
    return tuple(urls)


def _parameters(value: Any) -> tuple[Parameter, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or len(value) > MAX_PARAMETERS:
        raise errors.Invalid(
            "config.parameter", f"must be a list of at most {MAX_PARAMETERS} {{label, value}} objects"
        )
    found: dict[str, Parameter] = {}
    for index, item in enumerate(value):
        path = f"config.parameter[{index}]"
        item = obj(item, path)
        label = string(item, path, "label", 128, required=True) or ""
        if not PARAMETER_LABEL.fullmatch(label):
            raise errors.Invalid(
                f"{path}.label", "must start with a letter or _ and hold letters, digits, _ . -"
            )
        raw_value = item.get("value", "")
        if isinstance(raw_value, int | float) and not isinstance(raw_value, bool):
            raw_value = str(raw_value)
        found[label] = Parameter(label, string({"value": raw_value}, path, "value", MAX_VALUE_CHARS) or "")
    return tuple(found.values())
