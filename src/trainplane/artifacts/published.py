"""Publish a job's model dir as one named archive under its output location, only when it completed.

Compilation jobs use this instead of `<job>/output/model.tar.gz`: SageMaker Neo writes
`<S3OutputLocation>/<model>-<target>.tar.gz`. A stopped or failed job publishes nothing, so no partial
artifact ever sits at the name a client reads. The archive holds the model dir's files and
`trainplane-manifest.json` (the same members and link rules as model.tar.gz, see packaging).
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

from trainplane.artifacts import beneath
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.locations import to_local_path, to_uri
from trainplane.artifacts.packaging import MANIFEST_FORMAT, OUTPUT_FIELD, write_tree_archive
from trainplane.domain.job import check_aware
from trainplane.service.ports import PackagedModel

PUBLISHED_ARCHIVE = "published_archive"  # JobSpec.payload key: the archive's file name


def publish(
    *,
    layout: JobLayout,
    job_name: str,
    job_kind: str,
    output_uri: str,
    archive_name: str,
    reason: str,
    now: datetime,
    pinned_output_root: Path | None = None,
) -> PackagedModel:
    """Write `<output>/<archive_name>` atomically when `reason` is "completed"; nothing otherwise.

    Raises:
        errors.Invalid: `output_uri` is not a local location.
        OSError: writing failed (a link or file where the directory is).
    """
    check_aware(now)
    if not archive_name or "/" in archive_name or archive_name.startswith("."):
        raise ValueError(f"archive name {archive_name!r} cannot be a file name")
    if reason != "completed":
        return PackagedModel()
    output_root = to_local_path(OUTPUT_FIELD, output_uri)
    manifest = {
        "format": MANIFEST_FORMAT,
        "job_name": job_name,
        "job_kind": job_kind,
        "reason": reason,
        "packaged_at": now.isoformat(),
        "file_count": sum(1 for path in layout.model_dir.rglob("*") if path.is_file()),
    }
    root_fd = beneath.open_root(output_root, pinned_output_root)
    try:
        digest, _ = write_tree_archive(
            root_fd, archive_name, layout.model_dir, _json_bytes(manifest), now.timestamp()
        )
        os.fsync(root_fd)  # the rename is durable before the job is reported complete
    finally:
        os.close(root_fd)
    return PackagedModel(model_uri=to_uri(output_root / archive_name), model_digest=digest)


def _json_bytes(document: dict[str, object]) -> bytes:
    return (json.dumps(document, indent=2, sort_keys=True) + "\n").encode()
