"""What a create request may name: resource specs (the instance-type table) and AI engines (the
server's image map), with stable numeric ids. Pure."""

from __future__ import annotations

import functools
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from trainplane.domain import errors, images, instance_types

MAX_WORKERS = 1  # trainplane runs one worker per version (as the SageMaker dialect, one instance)
_GLOB_CHARACTERS = frozenset("*?[")


@dataclass(frozen=True)
class Spec:
    spec_id: int
    spec_code: str  # the instance type, e.g. ml.m5.large
    resources: instance_types.InstanceResources


def spec_id_of(instance_type: str) -> int:
    """A spec id that stays the same whatever else the table holds: CRC-32 of the type's name."""
    return zlib.crc32(instance_type.encode())


@functools.cache
def specs() -> Mapping[int, Spec]:
    """Every published instance type, by spec id (a unit test holds the ids free of collisions)."""
    table = instance_types.PUBLISHED
    return {spec_id_of(name): Spec(spec_id_of(name), name, table[name]) for name in sorted(table)}


def spec(spec_id: int) -> Spec:
    """Raises: errors.Invalid naming config.spec_id."""
    found = specs().get(spec_id)
    if found is None:
        raise errors.Invalid(
            "config.spec_id",
            f"no resource spec {spec_id}: GET /v1/{{project_id}}/job/resource-specs lists them",
        )
    return found


def spec_document(item: Spec) -> dict[str, Any]:
    """One entry of `specs[]` (reference §1.2 row 14): cores and memory as strings, as ModelArts has them."""
    resources = item.resources
    return {
        "spec_id": item.spec_id,
        "core": str(resources.vcpus),
        "cpu": f"{resources.memory_mib // 1024}GiB",
        "gpu_num": resources.gpus,
        "gpu_type": resources.gpu_model,
        "spec_code": item.spec_code,
        "max_num": MAX_WORKERS,
        "unit_num": 1,
        "storage": "",
        "interface_type": 1,
        "no_resource": False,
    }


@dataclass(frozen=True)
class Engine:
    engine_id: int  # 1-based position in the image map: the first (trainplane/python by default) is 1
    image: str


def engines(rules: Sequence[images.ImageRule]) -> list[Engine]:
    """The image map's exact images (a glob names no one image to run) as engines."""
    exact = [rule.pattern for rule in rules if not _GLOB_CHARACTERS.intersection(rule.pattern)]
    return [Engine(index, image) for index, image in enumerate(exact, start=1)]


def engine(rules: Sequence[images.ImageRule], engine_id: int) -> Engine:
    """Raises: errors.Invalid naming config.engine_id."""
    for item in engines(rules):
        if item.engine_id == engine_id:
            return item
    raise errors.Invalid(
        "config.engine_id", f"no AI engine {engine_id}: GET /v1/{{project_id}}/job/ai-engines lists them"
    )


def engine_of_image(rules: Sequence[images.ImageRule], image: str) -> Engine | None:
    return next((item for item in engines(rules) if item.image == image), None)


def engine_document(item: Engine) -> dict[str, Any]:
    name, _, version = item.image.partition(":")
    return {
        "engine_type": item.engine_id,
        "engine_id": item.engine_id,
        "engine_name": name,
        "engine_version": version or "latest",
    }
