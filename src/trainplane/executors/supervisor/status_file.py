"""Small JSON files written atomically (tmp + rename), durably when asked (fsync file and dir)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_atomic(path: Path, doc: dict[str, Any], *, is_durable: bool = True) -> None:
    """Replace `path` with `doc` so a reader sees the old or the new file, never a torn one.

    `is_durable` adds the fsyncs that make it survive a power loss, not just a killed process.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = json.dumps(doc, sort_keys=True).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, payload)
        if is_durable:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    if is_durable:
        _fsync_dir(path.parent)


def create_exclusive(path: Path, doc: dict[str, Any], *, is_durable: bool = True) -> bool:
    """Publish `doc` at `path` only if nothing is there yet; False when another writer won."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(json.dumps(doc, sort_keys=True).encode())
    if is_durable:
        fd = os.open(tmp, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    try:
        # link() fails if the target exists, so the first writer wins and is never overwritten.
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    if is_durable:
        _fsync_dir(path.parent)
    return True


def read(path: Path) -> dict[str, Any] | None:
    """The document at `path`, or None if it does not exist (yet)."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return None
    doc = json.loads(text)
    if not isinstance(doc, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return doc


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
