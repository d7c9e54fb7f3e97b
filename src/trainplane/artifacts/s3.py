"""s3:// locations on any S3-compatible store (AWS S3, MinIO, Ceph RGW): parse, download, upload, sync.

The endpoint and credentials come from the usual AWS chain (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, profiles, instance roles); the server's `--s3-endpoint-url`
sets `AWS_ENDPOINT_URL_S3` for itself and the supervisors it starts. boto3 is imported on first use, so
a supervisor of a job without s3:// locations never loads it.

Every transfer is retried (botocore's standard mode, then whole-file attempts here) and logged with its
size (`event=s3_download`, `event=s3_upload`). A download checks `should_stop` between objects, so a
stop during staging never has to wait for the whole data set.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from trainplane.domain import errors

log = logging.getLogger("trainplane.artifacts.s3")
ENDPOINT_ENV = "AWS_ENDPOINT_URL_S3"
UPLOAD_ATTEMPTS = 5
RETRY_BASE_SECONDS = 0.5
_BUCKET_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789.-")


class Interrupted(Exception):
    """A transfer gave up because the job is being stopped."""


@dataclass(frozen=True)
class S3Location:
    bucket: str
    key: str  # no leading slash; a "prefix" when it names a directory

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def child(self, relative: str) -> S3Location:
        key = f"{self.key.rstrip('/')}/{relative}" if self.key else relative
        return S3Location(self.bucket, key)


def is_s3_uri(uri: str | None) -> bool:
    return uri is not None and uri[:5].lower() == "s3://"


def parse(field: str, uri: str) -> S3Location:
    """Raises: errors.Invalid naming `field` when `uri` is not s3://<bucket>[/<key>]."""
    parts = urlsplit(uri)
    bucket = parts.netloc
    if parts.scheme.lower() != "s3" or not bucket:
        raise errors.Invalid(field, f"{uri[:200]!r} is not an s3://<bucket>/<key> URI")
    if not 3 <= len(bucket) <= 63 or not set(bucket) <= _BUCKET_CHARS or bucket[0] in ".-":
        raise errors.Invalid(field, f"{bucket[:80]!r} is not a valid S3 bucket name")
    if parts.query or parts.fragment or "\x00" in uri:
        raise errors.Invalid(field, "an s3:// URI must not carry a query, fragment or NUL")
    key = parts.path.lstrip("/")
    if any(part in (".", "..") for part in key.split("/")):
        raise errors.Invalid(field, "an s3:// key must not contain '.' or '..' segments")
    return S3Location(bucket, key)


def client() -> Any:
    """A boto3 S3 client from the usual AWS chain, with botocore's standard retries."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "max_attempts": 5}, s3={"addressing_style": "path"})
    return boto3.client("s3", config=config)


def download_prefix(
    source: S3Location, destination: Path, should_stop: Callable[[], bool] = lambda: False
) -> int:
    """Every object under `source` (a key prefix, or one object) into `destination`, keeping the key
    below the prefix as the relative path; the number of bytes downloaded.

    Raises:
        Interrupted: `should_stop()` said so between two objects.
        errors.Invalid: a key would land outside `destination`.
    """
    s3 = client()
    total = 0
    destination.mkdir(parents=True, exist_ok=True)
    for key, size_bytes in _objects(s3, source):
        if should_stop():
            raise Interrupted(source.uri)
        relative = _relative_key(source.key, key)
        if relative is None:
            continue  # a "directory marker" object
        target = _inside(destination, relative)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f".{target.name}.partial")
        _retrying(
            functools.partial(s3.download_file, source.bucket, key, str(partial)),
            f"s3://{source.bucket}/{key}",
        )
        os.replace(partial, target)
        total += size_bytes
        log.info("event=s3_download uri=s3://%s/%s bytes=%d", source.bucket, key, size_bytes)
    return total


def upload_file(path: Path, target: S3Location) -> None:
    """Upload one file, retried as a whole UPLOAD_ATTEMPTS times. Raises: OSError when every try failed."""
    s3 = client()
    size_bytes = path.stat().st_size
    _retrying(lambda: s3.upload_file(str(path), target.bucket, target.key), target.uri)
    log.info("event=s3_upload uri=%s bytes=%d", target.uri, size_bytes)


def sync_up(local_dir: Path, target: S3Location, sent: dict[str, tuple[int, int]]) -> int:
    """Upload the files under `local_dir` that changed since `sent` (relative path -> (size, mtime_ns)),
    updating it; symlinks are not followed. The number of files uploaded."""
    uploaded = 0
    for relative, path in _files(local_dir):
        try:
            status = path.lstat()
        except FileNotFoundError:
            continue  # deleted while we walked
        stamp = (status.st_size, status.st_mtime_ns)
        if sent.get(relative) == stamp:
            continue
        upload_file(path, target.child(relative))
        sent[relative] = stamp
        uploaded += 1
    return uploaded


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    if not root.is_dir():
        return
    for directory, _, names in os.walk(root, followlinks=False):
        for name in sorted(names):
            path = Path(directory, name)
            if path.is_symlink() or not path.is_file() or name.endswith(".partial"):
                continue
            yield path.relative_to(root).as_posix(), path


def _objects(s3: Any, source: S3Location) -> Iterator[tuple[str, int]]:
    """(key, size) of the object `source` names, or of every object under it as a prefix."""
    from botocore.exceptions import ClientError

    prefix = source.key
    if prefix and not prefix.endswith("/"):
        try:
            head = s3.head_object(Bucket=source.bucket, Key=prefix)
        except ClientError as exc:
            if not _is_permanent(exc):
                raise
            prefix += "/"  # not one object: a prefix
        else:
            yield prefix, int(head["ContentLength"])
            return
    yield from _listed(s3, source.bucket, prefix)


def _listed(s3: Any, bucket: str, prefix: str) -> Iterator[tuple[str, int]]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", ()):
            yield item["Key"], int(item["Size"])


def _relative_key(prefix: str, key: str) -> str | None:
    if key == prefix:
        return PurePosixPath(key).name or None  # a single object: its own name
    relative = key[len(prefix) :].lstrip("/") if prefix else key
    return None if not relative or relative.endswith("/") else relative


def _inside(root: Path, relative: str) -> Path:
    parts = PurePosixPath(relative).parts
    if any(part in ("..", ".") for part in parts) or PurePosixPath(relative).is_absolute():
        raise errors.Invalid("s3 key", f"{relative[:200]!r} would land outside {root}")
    return root.joinpath(*parts)


def _retrying(transfer: Callable[[], object], uri: str) -> None:
    from botocore.exceptions import BotoCoreError, ClientError

    for attempt in range(1, UPLOAD_ATTEMPTS + 1):
        try:
            transfer()
            return
        except (BotoCoreError, ClientError, OSError) as exc:
            if attempt == UPLOAD_ATTEMPTS or _is_permanent(exc):
                raise OSError(f"{uri}: {exc}") from exc
            log.warning("event=s3_retry uri=%s attempt=%d error=%s", uri, attempt, exc)
            time.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))  # backoff between whole-file attempts


def _is_permanent(exc: Exception) -> bool:
    response = getattr(exc, "response", None)
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) if response else 0
    return 400 <= status < 500 and status not in (408, 429)
