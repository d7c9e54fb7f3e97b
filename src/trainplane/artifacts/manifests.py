"""Read the manifest inside an artifact (model.tar.gz or a compiled archive) without unpacking it."""

from __future__ import annotations

import json
import tarfile
from collections.abc import Mapping
from typing import Any

from trainplane.artifacts.locations import to_local_path
from trainplane.artifacts.packaging import MANIFEST_MEMBER
from trainplane.domain import errors

MAX_MANIFEST_BYTES = 16 * 1024 * 1024


def read_manifest(field: str, uri: str) -> Mapping[str, Any]:
    """Raises: errors.Invalid when the archive is missing, unreadable, or has no trainplane manifest."""
    path = to_local_path(field, uri)
    try:
        with tarfile.open(path, "r:*") as archive:
            member = archive.getmember(MANIFEST_MEMBER)
            if not member.isfile() or member.size > MAX_MANIFEST_BYTES:
                raise KeyError(MANIFEST_MEMBER)
            source = archive.extractfile(member)
            assert source is not None  # a regular file
            document = json.loads(source.read())
    except FileNotFoundError:
        raise errors.Invalid(field, f"there is no artifact at {uri}") from None
    except KeyError:
        raise errors.Invalid(
            field, f"{uri} holds no {MANIFEST_MEMBER}: not an artifact of a trainplane job"
        ) from None
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise errors.Invalid(field, f"{uri} is not a readable artifact: {exc}") from None
    if not isinstance(document, dict):
        raise errors.Invalid(field, f"{uri}: its {MANIFEST_MEMBER} is not a JSON object")
    return document
