"""Turn the locations a request names (absolute paths, file:// URIs) into local paths, and back."""

from __future__ import annotations

import os
import pathlib
from urllib.parse import unquote, urlsplit

from trainplane.domain import errors

_S3_REASON = "s3:// URIs are not supported yet: use a file:// URI or an absolute path"
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
    if not path.startswith("/"):
        raise errors.Invalid(field, f"{uri!r} does not name an absolute path: {_FORMS}")
    return _normalised(path)


def _normalised(path: str) -> pathlib.Path:
    # normpath folds "a/../b" and duplicate slashes; it never touches the file system.
    return pathlib.Path(os.path.normpath(path))
