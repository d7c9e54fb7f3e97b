"""Reading and writing the credentials file: JSON, mode 0600, replaced atomically, changes serialised.

The server refuses a file that group or others may access (`ssh` refuses such keys for the same
reason): it holds HMAC secrets in the clear, which cannot be hashed (the server recomputes signatures).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from trainplane.credentials.records import CredentialsError, CredentialSet, from_document

FILE_MODE = 0o600


def load(path: Path) -> CredentialSet:
    """The file's credentials.

    Raises:
        CredentialsError: unreadable, open to group/others, not valid JSON, or malformed.
    """
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            raw = handle.read()
    except OSError as exc:
        raise CredentialsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if mode & 0o077:
        raise CredentialsError(
            f"{path} is accessible by group or others (mode {stat.S_IMODE(mode):04o}); "
            f"it holds secrets: chmod 600 {path}"
        )
    try:
        document = json.loads(raw)
    except ValueError as exc:
        raise CredentialsError(f"{path} is not valid JSON: {exc}") from exc
    try:
        return from_document(document)
    except CredentialsError as exc:
        raise CredentialsError(f"{path}: {exc}") from exc


def load_or_empty(path: Path) -> CredentialSet:
    """Like `load`, but a file that does not exist yet is an empty set. Raises: CredentialsError."""
    if not path.exists():
        return CredentialSet()
    return load(path)


def save(path: Path, credentials: CredentialSet) -> None:
    """Replace the file atomically (temp file, fsync, rename, fsync the directory), mode 0600.

    Raises:
        CredentialsError: the directory is not writable.
    """
    text = json.dumps(credentials.to_document(), indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(descriptor, FILE_MODE)  # whatever the umask
            os.write(descriptor, text.encode())
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(temporary, path)
        _fsync_directory(path.parent)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise CredentialsError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


@contextlib.contextmanager
def changing(path: Path) -> Iterator[None]:
    """Hold the directory's lock while reading, changing and saving, so concurrent commands never
    lose each other's keys (the file itself is replaced, so it cannot carry the lock).

    Raises:
        CredentialsError: the directory cannot be opened.
    """
    try:
        descriptor = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise CredentialsError(f"cannot open {path.parent}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)
