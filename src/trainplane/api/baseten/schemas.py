"""Baseten request bodies and query strings, validated into typed values (pure).

Every refusal is `errors.Invalid(<the wire path>, reason)`. Unknown keys are ignored and `null` is the
same as absent (truss sends keys the SDK lacks, and null for every filter it leaves out: §2.1).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainplane.domain import errors
from trainplane.domain.groups import MAX_NAME_CHARS as MAX_GROUP_NAME_CHARS

MAX_NAME_CHARS = 256
# A project is a job group: its name must fit the group's column (longer was a 500 on PostgreSQL).
MAX_PROJECT_NAME_CHARS = MAX_GROUP_NAME_CHARS
LOG_LIMIT_DEFAULT = 500
LOG_LIMIT_MAX = 1000
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
ORDER_FIELDS = ("created_at",)
CHECKPOINT_PAGE_DEFAULT = 1000
CHECKPOINT_PAGE_MAX = 1000
MAX_INT = 2**63 - 1
_MEMORY = re.compile(r"([0-9]{1,15})(Ki|Mi|Gi|Ti|K|M|G|T|k)?")
_MEMORY_BYTES = {
    None: 1,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
}


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes) -> Any:
    """The body's JSON (an empty body is `{}`). Raises: errors.Invalid naming `body`."""
    if not raw.strip():
        return {}
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise errors.Invalid("body", f"the request body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise errors.Invalid("body", "the request body is nested too deeply") from exc


def obj(value: Any, path: str) -> Mapping[str, Any]:
    """An object member (absent or null: empty). Raises: errors.Invalid."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise errors.Invalid(path, f"must be an object, not {_type(value)}")
    return value


def string(doc: Mapping[str, Any], key: str, path: str, *, required: bool = False) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise errors.Invalid(f"{path}.{key}" if path else key, "is required")
        return None
    if not isinstance(value, str):
        raise errors.Invalid(f"{path}.{key}" if path else key, f"must be a string, not {_type(value)}")
    return value


def integer(doc: Mapping[str, Any], key: str, path: str, low: int, high: int = MAX_INT) -> int | None:
    value = doc.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise errors.Invalid(where, f"must be an integer, not {_type(value)}")
    if not low <= value <= high:
        raise errors.Invalid(where, f"must be from {low} to {high}")
    return value


def strings(doc: Mapping[str, Any], key: str, path: str) -> tuple[str, ...]:
    value = doc.get(key)
    where = f"{path}.{key}" if path else key
    if value is None:
        return ()
    if not isinstance(value, list):
        raise errors.Invalid(where, f"must be a list of strings, not {_type(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise errors.Invalid(f"{where}.{index}", f"must be a string, not {_type(item)}")
    return tuple(value)


def _type(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else "null"
    )


def _name(value: str, where: str, max_chars: int = MAX_NAME_CHARS) -> str:
    if not value.strip() or len(value) > max_chars or any(ord(c) < 32 for c in value):
        raise errors.Invalid(
            where, f"must be 1 to {max_chars} characters, not blank, without control characters"
        )
    return value


# --- projects ------------------------------------------------------------------------------------


def project_name(body: Any) -> str:
    """`{"training_project": {"name": ...}}` (upsert). Raises: errors.Invalid."""
    project = obj(body, "body")
    if project.get("training_project") is None:
        raise errors.Invalid("training_project", "is required")
    member = obj(project["training_project"], "training_project")
    name = string(member, "name", "training_project", required=True)
    assert name is not None
    return _name(name, "training_project.name", MAX_PROJECT_NAME_CHARS)


# --- jobs ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compute:
    node_count: int = 1
    cpu_count: int = 1
    memory_mib: int = 2048
    accelerator: str | None = None
    accelerator_count: int = 0


@dataclass(frozen=True)
class CreateJob:
    """A CreateTrainingJob, as far as trainplane runs it."""

    base_image: str
    start_commands: tuple[str, ...]
    environment: Mapping[str, str]
    compute: Compute
    name: str | None
    artifacts: tuple[tuple[str, str], ...]  # (s3_bucket, s3_key) of the code tarballs


def create_job(body: Any) -> CreateJob:
    """`{"training_job": CreateTrainingJob}`. Raises: errors.Invalid naming the field."""
    root = obj(body, "body")
    if root.get("training_job") is None:
        raise errors.Invalid("training_job", "is required")
    job = obj(root["training_job"], "training_job")
    if job.get("image") is None:
        raise errors.Invalid("training_job.image", "is required")
    image = obj(job["image"], "training_job.image")
    base_image = string(image, "base_image", "training_job.image", required=True)
    assert base_image is not None
    runtime = obj(job.get("runtime"), "training_job.runtime")
    name = string(job, "name", "training_job")
    return CreateJob(
        base_image=base_image,
        start_commands=strings(runtime, "start_commands", "training_job.runtime"),
        environment=_environment(runtime),
        compute=_compute(obj(job.get("compute"), "training_job.compute")),
        name=None if name is None else _name(name, "training_job.name"),
        artifacts=_artifacts(runtime),
    )


def _environment(runtime: Mapping[str, Any]) -> Mapping[str, str]:
    where = "training_job.runtime.environment_variables"
    variables = obj(runtime.get("environment_variables"), where)
    for key, value in variables.items():
        if isinstance(value, dict):
            raise errors.Invalid(
                f"{where}.{key}", "secret references are not supported here: give the value itself"
            )
        if not isinstance(value, str):
            raise errors.Invalid(f"{where}.{key}", f"must be a string, not {_type(value)}")
    return dict(variables)


def _compute(compute: Mapping[str, Any]) -> Compute:
    where = "training_job.compute"
    node_count = integer(compute, "node_count", where, 1, 1024)
    if node_count is not None and node_count != 1:
        raise errors.Invalid(f"{where}.node_count", "trainplane runs one node per job (node_count 1)")
    accelerator = obj(compute.get("accelerator"), f"{where}.accelerator")
    model = string(accelerator, "accelerator", f"{where}.accelerator", required=bool(accelerator))
    count = integer(accelerator, "count", f"{where}.accelerator", 0, 1024)
    memory = string(compute, "memory", where)
    return Compute(
        cpu_count=integer(compute, "cpu_count", where, 1, 1024) or 1,
        memory_mib=2048 if memory is None else memory_mib(memory, f"{where}.memory"),
        accelerator=model,
        accelerator_count=(1 if count is None else count) if model else 0,
    )


def memory_mib(quantity: str, where: str) -> int:
    """A Kubernetes-style quantity ("2Gi", "512Mi", "4G") in MiB, rounded up. Raises: errors.Invalid."""
    match = _MEMORY.fullmatch(quantity.strip())
    if match is None:
        raise errors.Invalid(where, f"{quantity[:40]!r} is not a memory quantity like 2Gi or 512Mi")
    total = int(match.group(1)) * _MEMORY_BYTES[match.group(2)]
    return max(1, -(-total // 1024**2))


def _artifacts(runtime: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    where = "training_job.runtime.artifacts"
    value = runtime.get("artifacts")
    if value is None:
        return ()
    if not isinstance(value, list):
        raise errors.Invalid(where, f"must be a list, not {_type(value)}")
    found = []
    for index, item in enumerate(value):
        artifact = obj(item, f"{where}.{index}")
        bucket = string(artifact, "s3_bucket", f"{where}.{index}", required=True)
        key = string(artifact, "s3_key", f"{where}.{index}", required=True)
        assert bucket is not None and key is not None
        found.append((bucket, key))
    return tuple(found)


# --- search --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    project_id: str | None
    job_id: str | None
    statuses: tuple[str, ...] | None
    ascending: bool


def search(body: Any, known_statuses: Sequence[str]) -> Search:
    """`POST /v1/training_jobs/search`. Raises: errors.Invalid."""
    doc = obj(body, "body")
    statuses = None if doc.get("statuses") is None else strings(doc, "statuses", "")
    for index, status in enumerate(statuses or ()):
        if status not in known_statuses:
            raise errors.Invalid(f"statuses.{index}", f"{status[:64]!r} is not a training job status")
    return Search(
        project_id=string(doc, "project_id", ""),
        job_id=string(doc, "job_id", ""),
        statuses=statuses,
        ascending=_ascending(doc.get("order_by")),
    )


def _ascending(order_by: Any) -> bool:
    if order_by is None or order_by == []:
        return False  # created_at desc, the documented default
    if not isinstance(order_by, list):
        raise errors.Invalid("order_by", f"must be a list, not {_type(order_by)}")
    first = obj(order_by[0], "order_by.0")
    field = string(first, "field", "order_by.0", required=True)
    order = string(first, "order", "order_by.0", required=True)
    if field not in ORDER_FIELDS:
        raise errors.Invalid("order_by.0.field", f"jobs can be ordered by {', '.join(ORDER_FIELDS)}")
    if order not in ("asc", "desc"):
        raise errors.Invalid("order_by.0.order", "must be asc or desc")
    return order == "asc"


# --- logs, metrics, checkpoint files -------------------------------------------------------------


@dataclass(frozen=True)
class LogWindow:
    start_ms: int | None
    end_ms: int | None
    is_ascending: bool
    limit: int


def log_window(doc: Mapping[str, Any]) -> LogWindow:
    """The logs request (a POST body, or a GET's query with numbers as text). Raises: errors.Invalid."""
    direction = string(doc, "direction", "")
    if direction not in (None, "asc", "desc"):
        raise errors.Invalid("direction", "must be asc or desc")
    level = string(doc, "min_level", "")
    if level is not None and level not in LOG_LEVELS:
        raise errors.Invalid("min_level", f"must be one of {', '.join(LOG_LEVELS)}")
    start, end = _window(doc)
    limit = integer(doc, "limit", "", 1, LOG_LIMIT_MAX)
    return LogWindow(start, end, direction == "asc", LOG_LIMIT_DEFAULT if limit is None else limit)


def _window(doc: Mapping[str, Any]) -> tuple[int | None, int | None]:
    start = integer(doc, "start_epoch_millis", "", 0)
    end = integer(doc, "end_epoch_millis", "", 0)
    if start is not None and end is not None and end < start:
        raise errors.Invalid("end_epoch_millis", "must not be before start_epoch_millis")
    return start, end


@dataclass(frozen=True)
class MetricsWindow:
    start_ms: int | None
    end_ms: int | None
    step_seconds: int | None


def metrics_window(doc: Mapping[str, Any]) -> MetricsWindow:
    start, end = _window(doc)
    return MetricsWindow(start, end, integer(doc, "step_seconds", "", 1, 86_400))


def checkpoint_page(query: Mapping[str, Any]) -> tuple[int, int]:
    """(page_size, page_token) of checkpoint_files. Raises: errors.Invalid."""
    size = integer(query, "page_size", "", 1, CHECKPOINT_PAGE_MAX)
    token = integer(query, "page_token", "", 0)
    return (CHECKPOINT_PAGE_DEFAULT if size is None else size), (token or 0)


def query_numbers(query: Mapping[str, str], names: Sequence[str]) -> dict[str, Any]:
    """A query string's members, with `names` turned into integers. Raises: errors.Invalid."""
    doc: dict[str, Any] = dict(query)
    for name in names:
        if name in doc:
            text = doc[name]
            if not re.fullmatch(r"-?[0-9]{1,19}", text):
                raise errors.Invalid(name, f"{text[:40]!r} is not an integer")
            doc[name] = int(text)
    return doc
