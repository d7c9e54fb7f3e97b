"""Open, create and replace files beneath a directory descriptor without following any symlink.

Packaging runs in the supervisor, which may be root while the job ran as another user (`run_as`).
Whatever the job left behind (a link named like the output dir, a model subdirectory swapped for a
link to /root) must not steer a privileged write or read elsewhere. Every path here is walked one
component at a time from an open directory with O_NOFOLLOW, so a symlink anywhere on the way is an
error (ELOOP or ENOTDIR), never followed.
"""

from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_root(path: Path, pinned: Path | None) -> int:
    """A descriptor of the directory `path`, created if missing.

    `pinned` is the real path `path` had when the job was launched (None: not pinned). Pinned, the
    walk goes from / down that real path, creating what is missing and following no link, so a link
    the job made since (even where the path did not exist yet) is refused, never followed. The operator's
    own links were resolved at launch and stay honoured.

    Raises: OSError (ELOOP/ENOTDIR, worded, when a component became a link or a file).
    """
    if pinned is None:
        path.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    if not pinned.is_absolute():
        raise ValueError(f"pinned output root {pinned} must be absolute")
    top = os.open("/", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if pinned == Path("/"):
            return os.dup(top)
        return make_directories(top, Path("/"), pinned.as_posix().lstrip("/"))
    finally:
        os.close(top)


def make_directories(root_fd: int, root_path: Path, relative: str) -> int:
    """A descriptor of `root_fd`/`relative`, creating missing directories; no component may be a link.

    Raises: OSError (ELOOP or ENOTDIR for a symlink or a file on the way, with a message naming it).
    """
    fd = os.dup(root_fd)
    try:
        components = _components(relative)
        for index, component in enumerate(components):
            try:
                os.mkdir(component, 0o755, dir_fd=fd)
            except FileExistsError:
                pass
            try:
                child = os.open(component, _DIRECTORY_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno not in (errno.ELOOP, errno.ENOTDIR):
                    raise
                named = root_path.joinpath(*components[: index + 1])
                raise OSError(errno.ENOTDIR, _not_a_directory(fd, component, named)) from exc
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(root_fd: int, relative: str) -> int:
    """A read-only descriptor of the regular file `root_fd`/`relative`, reached through no link.

    Raises: OSError (ELOOP or ENOTDIR for a symlink on the way; ENXIO/EISDIR-like for non-files).
    """
    *directories, name = _components(relative)
    fd = os.dup(root_fd)
    try:
        for component in directories:
            child = os.open(component, _DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        # O_NONBLOCK: a FIFO swapped in does not hang the supervisor; the fstat below refuses it.
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    if not _is_regular(file_fd):
        os.close(file_fd)
        raise OSError(errno.EINVAL, f"{relative} is not a regular file")
    os.set_blocking(file_fd, True)
    return file_fd


@contextmanager
def replacing_file(dir_fd: int, name: str, *, is_dir_synced: bool = True) -> Iterator[BinaryIO]:
    """A new file in `dir_fd` that replaces `name` only once complete and on disk (0644)."""
    temporary = f".{name}.{secrets.token_hex(6)}.tmp"
    fd = os.open(
        temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644, dir_fd=dir_fd
    )
    try:
        with os.fdopen(fd, "wb") as sink:
            yield sink
            sink.flush()
            os.fchmod(sink.fileno(), 0o644)  # whatever the umask: the artifact is meant to be read
            os.fsync(sink.fileno())
        os.replace(temporary, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        try:
            os.unlink(temporary, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        raise
    if is_dir_synced:
        os.fsync(dir_fd)  # makes the rename durable: without it a crash can leave the old name or none


def _not_a_directory(dir_fd: int, name: str, named: Path) -> str:
    try:
        is_link = stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode)
    except OSError:
        is_link = False
    if is_link:
        return (
            f"{named} is a symlink; trainplane follows no link on the way to a job's output"
            " (the job may have made it)"
        )
    return f"{named}: Not a directory"


def _components(relative: str) -> list[str]:
    parts = [part for part in relative.split("/") if part not in ("", ".")]
    if not parts or ".." in parts:
        raise ValueError(f"{relative!r} is not a plain relative path")
    return parts


def _is_regular(fd: int) -> bool:
    return stat.S_ISREG(os.fstat(fd).st_mode)
