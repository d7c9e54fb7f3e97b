"""Package a job's model dir into <output>/<job>/output/model.tar.gz, atomically, with a manifest.

What goes in: regular files and directories of the model dir at the archive root (as SageMaker's
model.tar.gz has them), plus `trainplane-manifest.json`. Symlinks are never archived as links: one
that resolves to a regular file inside the model dir is stored as that file's contents; any other
(escaping, dangling, or to a directory, which could loop) is left out and listed under `skipped`.
Sockets, FIFOs and devices are left out the same way. The archive therefore only ever holds plain
relative paths and extracts safely with `tar -xzf` or tarfile's "data" filter.

Every read and write goes through `beneath`: no symlink the job left is followed on the way to a file
we read or a directory we write (the supervisor may be root while the job ran as another user).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from trainplane.artifacts import beneath, s3
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.domain import fields
from trainplane.domain.job import check_aware
from trainplane.service.ports import PackagedModel

OUTPUT_FIELD = fields.OUTPUT_LOCATION
MANIFEST_MEMBER = "trainplane-manifest.json"
MANIFEST_FORMAT = 1
REASONS = frozenset({"completed", "failed", "user", "max_runtime", "preempted"})
S3_STAGING_DIR_NAME = "s3-output"  # in the run dir: what goes to an s3:// output location, packaged first
COMPRESS_LEVEL = 6  # level 9 costs about twice the time for a few per cent on model weights


@dataclass(frozen=True)
class _Entry:
    name: str  # the member name: a relative POSIX path
    source: str  # what to read, relative to the root (the target's path for a followed link)
    is_dir: bool
    size_bytes: int = 0
    mtime: float = 0.0


@dataclass(frozen=True)
class _Tree:
    root: Path
    entries: tuple[_Entry, ...]
    skipped: tuple[dict[str, str], ...]


def package_model(
    *,
    layout: JobLayout,
    output_uri: str,
    job_name: str,
    reason: str,
    stopped_at: datetime | None,
    has_complete_checkpoint: bool,
    now: datetime,
    pinned_output_root: Path | None = None,
) -> PackagedModel:
    """Write model.tar.gz (and output.tar.gz when output/data has files) plus manifest.json.

    manifest.json is written last, so its presence says the packaging finished. `pinned_output_root`:
    the real path the output location had at launch; a link made on it since is refused (beneath.open_root).

    An s3:// output location gets the same files, packaged in the run dir and uploaded (artifacts.s3).

    Raises:
        errors.Invalid: `output_uri` is neither a local location nor an s3:// URI.
        OSError: a link or file where a directory is written (ENOTDIR), writing or uploading failed.
    """
    if reason not in REASONS:
        raise ValueError(f"unknown packaging reason {reason!r}")
    if not job_name or "/" in job_name or job_name in (".", ".."):
        raise ValueError(f"job name {job_name!r} cannot be a path component")  # names.py forbids it
    check_aware(now)
    if stopped_at is not None:
        check_aware(stopped_at)
    if s3.is_s3_uri(output_uri):
        return _package_to_s3(layout, output_uri, job_name, reason, stopped_at, has_complete_checkpoint, now)
    output_root = to_local_path(OUTPUT_FIELD, output_uri)
    destination = output_root / job_name / "output"
    root_fd = beneath.open_root(output_root, pinned_output_root)
    try:
        destination_fd = beneath.make_directories(root_fd, output_root, f"{job_name}/output")
    finally:
        os.close(root_fd)
    try:
        return _package_into(
            destination_fd, destination, layout, job_name, reason, stopped_at, has_complete_checkpoint, now
        )
    finally:
        os.close(destination_fd)


def _package_to_s3(
    layout: JobLayout,
    output_uri: str,
    job_name: str,
    reason: str,
    stopped_at: datetime | None,
    has_complete_checkpoint: bool,
    now: datetime,
) -> PackagedModel:
    """Package into the run dir, then upload model.tar.gz, output.tar.gz and manifest.json (retried)."""
    target = s3.parse(OUTPUT_FIELD, output_uri).child(f"{job_name}/output")
    staging_root = layout.base_dir.parent / S3_STAGING_DIR_NAME
    staging_root.mkdir(mode=0o700, exist_ok=True)
    local = package_model(
        layout=layout,
        output_uri=to_uri(staging_root),
        job_name=job_name,
        reason=reason,
        stopped_at=stopped_at,
        has_complete_checkpoint=has_complete_checkpoint,
        now=now,
        pinned_output_root=staging_root,
    )
    packaged = staging_root / job_name / "output"
    if local.output_uri is not None:
        s3.upload_file(packaged / "output.tar.gz", target.child("output.tar.gz"))
    s3.upload_file(packaged / "model.tar.gz", target.child("model.tar.gz"))
    s3.upload_file(packaged / "manifest.json", target.child("manifest.json"))  # last: says it is whole
    return PackagedModel(
        model_uri=target.child("model.tar.gz").uri,
        output_uri=None if local.output_uri is None else target.child("output.tar.gz").uri,
        has_complete_checkpoint=has_complete_checkpoint,
    )


def _package_into(
    destination_fd: int,
    destination: Path,
    layout: JobLayout,
    job_name: str,
    reason: str,
    stopped_at: datetime | None,
    has_complete_checkpoint: bool,
    now: datetime,
) -> PackagedModel:
    output_path = _package_output_data(layout, destination_fd, destination)
    tree = _collect(layout.model_dir)
    manifest = {
        "format": MANIFEST_FORMAT,
        "job_name": job_name,
        "reason": reason,
        "stopped_at": None if stopped_at is None else stopped_at.isoformat(),
        "packaged_at": now.isoformat(),
        "has_complete_checkpoint": has_complete_checkpoint,
        **_contents(tree),
    }
    model_path = destination / "model.tar.gz"
    digest, size_bytes = _write_archive(
        destination_fd, model_path.name, tree, _json_bytes(manifest), now.timestamp()
    )
    archive = {"path": model_path.name, "sha256": digest, "size_bytes": size_bytes}
    sidecar = {**manifest, "archive": archive}
    with beneath.replacing_file(destination_fd, "manifest.json") as sink:
        sink.write(_json_bytes(sidecar))
    return PackagedModel(
        model_uri=to_uri(model_path),
        output_uri=None if output_path is None else to_uri(output_path),
        has_complete_checkpoint=has_complete_checkpoint,
    )


def _package_output_data(layout: JobLayout, destination_fd: int, destination: Path) -> Path | None:
    tree = _collect(layout.output_data_dir)
    if not any(not entry.is_dir for entry in tree.entries):
        return None
    path = destination / "output.tar.gz"
    _write_archive(destination_fd, path.name, tree, manifest=None, manifest_mtime=0.0)
    return path


def _contents(tree: _Tree) -> dict[str, Any]:
    files = [
        {"path": entry.name, "size_bytes": entry.size_bytes} for entry in tree.entries if not entry.is_dir
    ]
    return {"files": files, "skipped": list(tree.skipped)}


def _collect(root: Path) -> _Tree:
    """The archivable entries under `root`, sorted, and what was left out and why."""
    entries: list[_Entry] = []
    skipped: list[dict[str, str]] = []
    if not root.is_dir():
        return _Tree(root, (), ())
    real_root = root.resolve()
    for directory, dir_names, file_names in os.walk(root, followlinks=False):
        dir_names.sort()
        for name in sorted(dir_names) + sorted(file_names):
            path = Path(directory, name)
            relative = path.relative_to(root).as_posix()
            entry, why_not = _classify(path, relative, real_root)
            if entry is not None:
                entries.append(entry)
            else:
                skipped.append({"path": relative, "reason": why_not})
    entries.sort(key=lambda entry: entry.name)
    return _Tree(root, tuple(entries), tuple(skipped))


def _classify(path: Path, relative: str, real_root: Path) -> tuple[_Entry | None, str]:
    if relative == MANIFEST_MEMBER:
        return None, "the name is reserved for trainplane's manifest"
    status = path.lstat()
    if stat.S_ISDIR(status.st_mode):
        return _Entry(relative, relative, is_dir=True, mtime=status.st_mtime), ""
    if stat.S_ISREG(status.st_mode):
        return _Entry(relative, relative, is_dir=False, size_bytes=status.st_size), ""
    if not stat.S_ISLNK(status.st_mode):
        return None, "not a regular file, directory or symlink"
    target = path.resolve()
    if not target.is_relative_to(real_root):
        return None, "symlink points outside the model directory"
    if not target.is_file():
        return None, "symlink does not point to a regular file"
    source = target.relative_to(real_root).as_posix()
    return _Entry(relative, source, is_dir=False, size_bytes=target.stat().st_size), ""


def write_tree_archive(dir_fd: int, name: str, root: Path, manifest: bytes, mtime: float) -> tuple[str, int]:
    """Archive the files under `root` plus `manifest` as `name` in `dir_fd`, atomically: (sha256, size).

    The same members and link rules as model.tar.gz (for artifacts other packagers publish)."""
    return _write_archive(dir_fd, name, _collect(root), manifest, mtime)


def _write_archive(
    dir_fd: int, name: str, tree: _Tree, manifest: bytes | None, manifest_mtime: float
) -> tuple[str, int]:
    """Write the gzipped tar atomically; return its sha256 and size.

    Its directory is not fsynced here: manifest.json is always written last into the same directory,
    and that fsync makes every rename in it durable (one fsync fewer on a stop's critical path).
    """
    # No entries (a job stopped before it ran may have no model dir at all): nothing to read from.
    source_fd = os.open(tree.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC) if tree.entries else -1
    try:
        with beneath.replacing_file(dir_fd, name, is_dir_synced=False) as raw:
            hashing = _HashingWriter(raw)
            _write_members(hashing, source_fd, tree, manifest, manifest_mtime)
    finally:
        if source_fd >= 0:
            os.close(source_fd)
    return hashing.digest.hexdigest(), hashing.size_bytes


def _write_members(
    sink: _HashingWriter, source_fd: int, tree: _Tree, manifest: bytes | None, manifest_mtime: float
) -> None:
    with tarfile.open(
        fileobj=sink, mode="w:gz", compresslevel=COMPRESS_LEVEL, format=tarfile.PAX_FORMAT
    ) as archive:
        for entry in tree.entries:
            _add(archive, source_fd, entry)
        if manifest is not None:
            info = _member_info(MANIFEST_MEMBER, mode=0o644, size_bytes=len(manifest), mtime=manifest_mtime)
            archive.addfile(info, io.BytesIO(manifest))


def _add(archive: tarfile.TarFile, source_fd: int, entry: _Entry) -> None:
    if entry.is_dir:
        archive.addfile(_member_info(entry.name, mode=0o755, mtime=entry.mtime, is_dir=True))
        return
    # Reached through no link at all: a directory swapped for a link after _collect is refused.
    fd = beneath.open_file(source_fd, entry.source)
    with os.fdopen(fd, "rb") as source:
        status = os.fstat(source.fileno())
        info = _member_info(
            entry.name,
            mode=stat.S_IMODE(status.st_mode) & 0o755 | 0o600,
            size_bytes=status.st_size,
            mtime=status.st_mtime,
        )
        archive.addfile(info, source)


def _member_info(
    name: str, *, mode: int, size_bytes: int = 0, mtime: float = 0.0, is_dir: bool = False
) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = mode
    info.size = size_bytes
    info.mtime = int(mtime)
    # No host user names or ids in a shared artifact.
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class _HashingWriter(io.RawIOBase):
    """Passes writes through while hashing them, so the archive is hashed without a re-read."""

    def __init__(self, sink: BinaryIO) -> None:
        super().__init__()
        self._sink = sink
        self.digest = hashlib.sha256()
        self.size_bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, chunk: Any) -> int:
        view = memoryview(chunk)
        self._sink.write(view)
        self.digest.update(view)
        self.size_bytes += view.nbytes
        return view.nbytes


def _json_bytes(document: dict[str, Any]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
