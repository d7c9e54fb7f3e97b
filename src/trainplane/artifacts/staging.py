"""Make a job's inputs and durable checkpoints appear in its tree before the job starts.

Local data is linked, not copied: a channel directory is a symlink to the source directory (a single
source file is linked inside a real channel directory under its own name), so staging costs nothing
whatever the data size. A job that writes into a channel writes into the source, unlike SageMaker's
downloaded copy. The checkpoint directory is a symlink to the durable checkpoint directory, which gives
SageMaker's checkpoint semantics for free: existing checkpoints are visible at start (resume), and
every write or delete lands in the durable location at once, so nothing is lost when the job is
SIGKILLed.

s3:// channels and checkpoints (artifacts.s3) are downloaded instead, before the job starts: a channel
into a real input/data/<name> directory, the checkpoints into LocalPath (SageMaker's resume); the
checkpoints go back up while the job runs and after it ends (artifacts.s3_checkpoints).

Staging never replaces or removes anything it did not create: every path it links lies inside the
job's own tree (LocalPath and channel names are checked at create and again here), and the only things
it replaces are its own symlinks and empty directories.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from trainplane.artifacts import s3
from trainplane.artifacts.layout import LOCAL_PATH_FIELD, JobLayout, check_channel_name
from trainplane.artifacts.locations import to_local_path
from trainplane.domain import errors, fields
from trainplane.domain.job import JobSpec

CHECKPOINT_FIELD = fields.CHECKPOINT_LOCATION
channel_field = fields.channel_source


def stage_inputs(spec: JobSpec, layout: JobLayout, should_stop: Callable[[], bool] = lambda: False) -> None:
    """Link every channel under input/data/<name> and the checkpoint dir to its durable location
    (download them, for s3:// ones).

    Idempotent: staging the same job again relinks the same targets.

    Raises:
        errors.Invalid: a channel source does not exist, or the checkpoint LocalPath is a
            non-empty directory that is not the durable location.
        s3.Interrupted: `should_stop()` turned true during a download (nothing was started).
        OSError: a download failed after its retries.
    """
    sources = _channel_sources(spec)
    layout.create()
    for field, name, source in sources:
        if isinstance(source, s3.S3Location):
            _download_channel(field, layout.channel_dir(name), source, should_stop)
        else:
            _stage_channel(field, layout.channel_dir(name), source)
    if s3.is_s3_uri(spec.checkpoint_uri):
        _download_checkpoints(spec, layout, should_stop)
    else:
        _stage_checkpoints(spec, layout)


def _channel_sources(spec: JobSpec) -> list[tuple[str, str, Path | s3.S3Location]]:
    # Check every source before touching the tree, so a bad request leaves nothing half staged.
    sources: list[tuple[str, str, Path | s3.S3Location]] = []
    for index, channel in enumerate(spec.channels, start=1):
        check_channel_name(fields.channel_name(index), channel.name)
        field = channel_field(index)
        if s3.is_s3_uri(channel.source):
            sources.append((field, channel.name, s3.parse(field, channel.source)))
            continue
        source = to_local_path(field, channel.source)
        if not source.exists():
            raise errors.Invalid(field, f"channel {channel.name!r}: {source} does not exist")
        sources.append((field, channel.name, source))
    return sources


def _download_channel(
    field: str, channel_dir: Path, source: s3.S3Location, should_stop: Callable[[], bool]
) -> None:
    if channel_dir.is_symlink():
        channel_dir.unlink()  # an earlier staging's link: the channel becomes a real download
    channel_dir.mkdir(parents=True, exist_ok=True)
    if s3.download_prefix(source, channel_dir, should_stop) == 0 and not any(channel_dir.iterdir()):
        raise errors.Invalid(field, f"no objects under {source.uri}")


def _download_checkpoints(spec: JobSpec, layout: JobLayout, should_stop: Callable[[], bool]) -> None:
    assert spec.checkpoint_uri is not None
    local_dir = layout.checkpoint_dir(spec)
    _check_inside(layout, local_dir)
    if local_dir.is_symlink():
        local_dir.unlink()
    local_dir.mkdir(parents=True, exist_ok=True)
    s3.download_prefix(s3.parse(CHECKPOINT_FIELD, spec.checkpoint_uri), local_dir, should_stop)


def _stage_channel(field: str, channel_dir: Path, source: Path) -> None:
    if source.is_dir():
        _link(field, channel_dir, source)
        return
    if channel_dir.is_symlink():
        channel_dir.unlink()
    channel_dir.mkdir(parents=True, exist_ok=True)
    _link(field, channel_dir / source.name, source)


def _stage_checkpoints(spec: JobSpec, layout: JobLayout) -> None:
    local_dir = layout.checkpoint_dir(spec)
    _check_inside(layout, local_dir)
    if spec.checkpoint_uri is None:
        local_dir.mkdir(parents=True, exist_ok=True)
        return
    durable_dir = to_local_path(CHECKPOINT_FIELD, spec.checkpoint_uri)
    durable_dir.mkdir(parents=True, exist_ok=True)
    if local_dir.resolve() == durable_dir.resolve():
        return
    if local_dir.is_dir() and not local_dir.is_symlink():
        if any(local_dir.iterdir()):
            # Merging would hide which files are durable; SageMaker starts from an empty LocalPath.
            raise errors.Invalid(
                LOCAL_PATH_FIELD,
                f"{local_dir} already holds files; it must be empty or absent to be linked to {durable_dir}",
            )
        local_dir.rmdir()
    _link(LOCAL_PATH_FIELD, local_dir, durable_dir)


def _check_inside(layout: JobLayout, local_dir: Path) -> None:
    # The tree's own directories are real directories staging created, so resolving the parent
    # must stay inside base_dir; anything else (a symlink planted in the tree) is refused.
    base = Path(os.path.realpath(layout.base_dir))
    parent = Path(os.path.realpath(local_dir.parent))
    if parent != base and base not in parent.parents:
        raise errors.Invalid(LOCAL_PATH_FIELD, f"{local_dir} resolves outside the job's tree ({parent})")


def _link(field: str, link: Path, target: Path) -> None:
    """Point `link` at `target`, replacing only an older link or an empty directory, atomically.

    Raises:
        errors.Invalid: `link` is a file or a non-empty directory (never staging's own).
    """
    if link.is_symlink() and Path(os.readlink(link)) == target:
        return
    if link.exists() and not link.is_symlink() and not (link.is_dir() and not any(link.iterdir())):
        raise errors.Invalid(field, f"{link} exists and is not staging's own: refusing to replace it")
    link.parent.mkdir(parents=True, exist_ok=True)
    temporary = link.with_name(f".{link.name}.link-{os.getpid()}")
    if temporary.is_symlink():
        temporary.unlink()
    temporary.symlink_to(target, target_is_directory=target.is_dir())
    if link.is_dir() and not link.is_symlink():
        link.rmdir()  # os.replace cannot replace a directory; staging only ever finds it empty
    os.replace(temporary, link)
