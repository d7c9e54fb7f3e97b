"""Turn the locations a request names (absolute paths, file:// URIs) into local paths, and back."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote, urlsplit

from trainplane.domain import errors, fields

_S3_REASON = (
    "s3:// URIs need an S3 endpoint configured in the server (--s3-endpoint-url): "
    "use a file:// URI or an absolute path"
)
_FORMS = "use a file:// URI (file:///abs/path) or an absolute path"


def to_local_path(field: str, uri: str) -> pathlib.Path:
    """The absolute local path `uri` names; `field` is the wire path reported in errors.

    Raises:
        errors.Invalid: `uri` is empty, relative, s3://, another scheme, or a remote file:// URI.
    """
    if not uri or not uri.strip():
        raise errors.Invalid(field, f"is empty: {_FORMS}")
    if "\x00" in uri:
        raise errors.Invalid(field, "contains a NUL character")
    if uri.startswith("/"):
        return _normalised(uri)
    parsed = urlsplit(uri)
    scheme = parsed.scheme.lower()
    if scheme == "s3":
        raise errors.Invalid(field, _S3_REASON)
    if scheme == "file":
        return _from_file_uri(field, uri)
    if scheme:
        raise errors.Invalid(field, f"the URI scheme {parsed.scheme!r} is not supported: {_FORMS}")
    raise errors.Invalid(field, f"{uri!r} is a relative path: {_FORMS}")


def to_uri(path: pathlib.Path) -> str:
    """The file:// URI of an absolute path (percent-encoded, so to_local_path reverses it)."""
    if not path.is_absolute():
        raise ValueError(f"{path} is not absolute")
    return path.as_uri()


def _from_file_uri(field: str, uri: str) -> pathlib.Path:
    parsed = urlsplit(uri)
    if parsed.netloc not in ("", "localhost"):
        raise errors.Invalid(
            field, f"file:// URIs must name this machine (file:///path), not host {parsed.netloc!r}"
        )
    if parsed.query or parsed.fragment:
        raise errors.Invalid(field, "a file:// URI must not carry a query or fragment")
    path = unquote(parsed.path)
    if "\x00" in path:
        raise errors.Invalid(field, "contains a NUL character")
    if not path.startswith("/"):
        raise errors.Invalid(field, f"{uri!r} does not name an absolute path: {_FORMS}")
    return _normalised(path)


def _normalised(path: str) -> pathlib.Path:
    # normpath folds "a/../b" and duplicate slashes; it never touches the file system.
    return pathlib.Path(os.path.normpath(path))


class LocationPolicy:
    """Which local directories requests may name: inside an allowed root, clear of the server's own files.

    A location is normalised before the check (percent-decoding and `file://localhost` handled by
    to_local_path, `..` folded, then symlinks resolved through the longest existing prefix), so no
    spelling of a path outside the roots gets in. `protected` paths (the database, the runs dir) are
    refused even inside a root, and so is any location that contains one of them.
    """

    def __init__(self, allowed_roots: Sequence[Path], protected: Sequence[Path] = ()) -> None:
        self.allowed_roots = tuple(_resolved(root) for root in allowed_roots)
        self.protected = tuple(_resolved(path) for path in protected)

    def check(self, field: str, uri: str) -> Path:
        """The resolved local path of `uri` if requests may use it.

        Raises:
            errors.Invalid: `uri` is malformed, outside every allowed root, or touches a protected path.
        """
        path = _resolved(to_local_path(field, uri))
        for protected in self.protected:
            if path == protected or protected in path.parents or path in protected.parents:
                raise errors.Invalid(field, f"{path} holds or is inside the server's own data ({protected})")
        if not any(path == root or root in path.parents for root in self.allowed_roots):
            roots = ", ".join(str(root) for root in self.allowed_roots) or "none"
            raise errors.Invalid(
                field, f"{path} is outside the allowed roots ({roots}; setting TRAINPLANE_ALLOWED_ROOTS)"
            )
        return path


def pinned_output_root(uri: str) -> str | None:
    """The real path of an output location, taken at launch (before the job runs) for packaging.

    Packaging later walks this real path following no link (artifacts.beneath), so a link the job
    makes on the way to its output is refused there. None when `uri` is not a local location.
    """
    try:
        return str(_resolved(to_local_path(fields.OUTPUT_LOCATION, uri)))
    except errors.Invalid:
        return None


def _resolved(path: Path) -> Path:
    # realpath resolves every symlink of the existing prefix and keeps the rest as written.
    return Path(os.path.realpath(os.path.normpath(path)))
