"""Which locations a request may name, and the field every rejection names."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.domain import errors

FIELD = "outputDataConfig.s3OutputPath"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/tmp/out", "/tmp/out"),
        ("/tmp/out/", "/tmp/out"),
        ("/tmp//a/./b/../c", "/tmp/a/c"),
        ("file:///tmp/out", "/tmp/out"),
        ("file://localhost/tmp/out", "/tmp/out"),
        ("file:/tmp/out", "/tmp/out"),
        ("FILE:///tmp/out", "/tmp/out"),
        ("file:///tmp/with%20space", "/tmp/with space"),
        ("/tmp/with%20percent", "/tmp/with%20percent"),
        ("/tmp/colon:name", "/tmp/colon:name"),
    ],
)
def test_absolute_paths_and_local_file_uris_are_accepted(uri: str, expected: str) -> None:
    assert to_local_path(FIELD, uri) == Path(expected)


@pytest.mark.parametrize(
    ("uri", "reason_part"),
    [
        ("s3://bucket/prefix", "s3:// URIs need an S3 endpoint configured in the server"),
        ("S3://bucket/prefix", "s3:// URIs need an S3 endpoint configured in the server"),
        ("", "is empty"),
        ("   ", "is empty"),
        ("relative/dir", "relative path"),
        ("./dir", "relative path"),
        ("file:relative/dir", "does not name an absolute path"),
        ("file://otherhost/tmp/x", "not host 'otherhost'"),
        ("file:///tmp/x?versionId=1", "query or fragment"),
        ("https://example.com/data", "scheme 'https' is not supported"),
        ("gs://bucket/x", "scheme 'gs' is not supported"),
        ("/tmp/nul\x00byte", "NUL"),
        ("file:///tmp/nul%00byte", "NUL"),
    ],
)
def test_unsupported_locations_are_invalid_and_name_the_field(uri: str, reason_part: str) -> None:
    with pytest.raises(errors.Invalid) as caught:
        to_local_path(FIELD, uri)
    assert caught.value.field == FIELD
    assert reason_part in caught.value.reason
    assert str(caught.value).startswith(f"{FIELD}: ")


def test_s3_rejection_says_what_to_use_instead() -> None:
    with pytest.raises(errors.Invalid) as caught:
        to_local_path("checkpointConfig.s3Uri", "s3://b/k")
    assert caught.value.reason == (
        "s3:// URIs need an S3 endpoint configured in the server (--s3-endpoint-url): "
        "use a file:// URI or an absolute path"
    )


@pytest.mark.parametrize("path", ["/tmp/out", "/tmp/with space/ü", "/tmp/100%"])
def test_to_uri_round_trips_through_to_local_path(path: str) -> None:
    uri = to_uri(Path(path))
    assert uri.startswith("file:///")
    assert to_local_path(FIELD, uri) == Path(path)


def test_to_uri_refuses_a_relative_path() -> None:
    with pytest.raises(ValueError):
        to_uri(Path("relative"))
