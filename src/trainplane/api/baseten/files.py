"""A job's checkpoint files and model, listed and served through presigned URLs (signed, expiring).

The checkpoint dir is the job's durable checkpoint location (a Baseten job's BT_CHECKPOINT_DIR; a
SageMaker job's CheckpointConfig.S3Uri when local). Each entry at its top is one checkpoint. A URL names
(tenant, job, file) under an HMAC of a per-process secret: it works without an Authorization header (as
presigned S3 URLs do, and truss fetches them so) until it expires or the server restarts. Serving
resolves the file under the checkpoint dir and refuses `..`, absolute paths, links and non-files.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from trainplane.domain import errors
from trainplane.domain.job import Job

URL_LIFETIME_SECONDS = 3600
FILES_ROUTE = "/v1/training_files/{token}"
MAX_FILES = 100_000  # listed per job at most
CHECKPOINT = "checkpoint"
MODEL = "model"


def local_dir(uri: str | None) -> Path | None:
    """The local path of a file:// URI or absolute path (what admission accepted); None otherwise."""
    if not uri:
        return None
    if uri.startswith("/"):
        return Path(os.path.normpath(uri))
    parsed = urlsplit(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        return None
    return Path(os.path.normpath(unquote(parsed.path)))


def checkpoint_dir(job: Job) -> Path | None:
    return local_dir(job.spec.checkpoint_uri)


@dataclass(frozen=True)
class FileEntry:
    relative: str
    size_bytes: int
    modified_at: datetime


def walk(root: Path) -> Iterator[FileEntry]:
    """Every regular file under `root`, sorted, links not followed (a link a job planted leads nowhere)."""
    count = 0
    for directory, subdirs, names in os.walk(root, followlinks=False):
        subdirs.sort()
        for name in sorted(names):
            path = Path(directory, name)
            info = path.lstat()
            if not stat.S_ISREG(info.st_mode):
                continue
            count += 1
            if count > MAX_FILES:
                return
            modified = datetime.fromtimestamp(info.st_mtime, tz=UTC)
            yield FileEntry(path.relative_to(root).as_posix(), info.st_size, modified)


def checkpoints(job: Job) -> list[dict[str, Any]]:
    """One wire checkpoint per top-level entry of the job's checkpoint dir, oldest first."""
    root = checkpoint_dir(job)
    if root is None or not root.is_dir():
        return []
    grouped: dict[str, list[FileEntry]] = {}
    for entry in walk(root):
        grouped.setdefault(entry.relative.split("/", 1)[0], []).append(entry)
    found = [
        {
            "checkpoint_id": name,
            "created_at": max(e.modified_at for e in entries).isoformat(),
            "checkpoint_type": "lora" if any(_is_adapter(e) for e in entries) else "full",
            "base_model": None,
            "lora_adapter_config": None,
            "size_bytes": sum(e.size_bytes for e in entries),
            "sync_status": "COMPLETED" if job.is_terminal else "SYNCING",
            "training_job_id": job.id,
        }
        for name, entries in grouped.items()
    ]
    return sorted(found, key=lambda checkpoint: (checkpoint["created_at"], checkpoint["checkpoint_id"]))


def _is_adapter(entry: FileEntry) -> bool:
    return entry.relative.endswith("/adapter_config.json")


class Signer:
    """Mints and checks the tokens of presigned URLs."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)

    def token(self, tenant: str, job_id: str, kind: str, relative: str, expires_at: float) -> str:
        claims = json.dumps([tenant, job_id, kind, relative, int(expires_at)], separators=(",", ":"))
        payload = base64.urlsafe_b64encode(claims.encode()).decode().rstrip("=")
        return f"{payload}.{self._mac(payload)}"

    def claims(self, token: str, now: float) -> tuple[str, str, str, str]:
        """(tenant, job id, kind, relative path). Raises: errors.NotFound (bad, forged or expired)."""
        payload, _, mac = token.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(payload).encode()):
            raise errors.NotFound("file", token[:40])
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        tenant, job_id, kind, relative, expires_at = decoded
        if now > expires_at:
            raise errors.NotFound("file", token[:40])
        return tenant, job_id, kind, relative

    def _mac(self, payload: str) -> str:
        digest = hmac.new(self._secret, payload.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def inside(root: Path, relative: str) -> Path:
    """The regular file `relative` names under `root`. Raises: errors.NotFound for anything else."""
    parts = PurePosixPath(relative).parts
    if not relative or "\x00" in relative or relative.startswith("/") or ".." in parts:
        raise errors.NotFound("file", relative[:100])
    real_root = Path(os.path.realpath(root))
    candidate = Path(os.path.realpath(root / relative))
    if real_root not in candidate.parents:
        raise errors.NotFound("file", relative[:100])
    try:
        info = os.lstat(root / relative)
    except OSError as exc:
        raise errors.NotFound("file", relative[:100]) from exc
    if not stat.S_ISREG(info.st_mode):
        raise errors.NotFound("file", relative[:100])
    return candidate
