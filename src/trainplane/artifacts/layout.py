"""The /opt/ml-style directory tree of one job, rooted at the job's SAGEMAKER_BASE_DIR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trainplane.domain import errors, fields
from trainplane.domain.job import JobSpec

CONTAINER_BASE_DIR = PurePosixPath("/opt/ml")  # where SageMaker mounts the tree in a container
DEFAULT_CHECKPOINT_DIR = CONTAINER_BASE_DIR / "checkpoints"
LOCAL_PATH_FIELD = fields.CHECKPOINT_LOCAL_PATH
# Parts of the tree trainplane writes itself: a checkpoint dir there would hide or replace them.
_RESERVED = ("input", "model", "output")


def checkpoint_subpath(local_path: str | None, field: str = LOCAL_PATH_FIELD) -> PurePosixPath:
    """Where CheckpointConfig.LocalPath lies relative to the job's tree (/opt/ml mapped to base_dir).

    Raises:
        errors.Invalid: the path is not under /opt/ml once `..` is folded, is /opt/ml itself, or lies
            in a part of the tree trainplane writes (input, model, output).
    """
    if not local_path:
        return DEFAULT_CHECKPOINT_DIR.relative_to(CONTAINER_BASE_DIR)
    if "\x00" in local_path:
        raise errors.Invalid(field, "contains a NUL character")
    posix = PurePosixPath(os.path.normpath(local_path))
    if not posix.is_absolute() or CONTAINER_BASE_DIR not in posix.parents:
        raise errors.Invalid(
            field, f"{local_path!r} must be an absolute path under {CONTAINER_BASE_DIR}, the job's own tree"
        )
    relative = posix.relative_to(CONTAINER_BASE_DIR)
    if relative.parts[0] in _RESERVED:
        raise errors.Invalid(
            field, f"{local_path!r} lies in {CONTAINER_BASE_DIR / relative.parts[0]}, which trainplane writes"
        )
    return relative


def check_channel_name(field: str, name: str) -> None:
    """Raises: errors.Invalid when `name` is not one plain directory name (no `/`, not `.` or `..`)."""
    if not name or name in (".", "..") or "/" in name or "\x00" in name:
        raise errors.Invalid(field, f"channel name {name[:64]!r} must be a plain directory name")


@dataclass(frozen=True)
class JobLayout:
    """Paths of one job's tree; `base_dir` mirrors /opt/ml and is what SAGEMAKER_BASE_DIR names."""

    base_dir: Path

    @property
    def input_dir(self) -> Path:
        return self.base_dir / "input"

    @property
    def input_config_dir(self) -> Path:
        return self.input_dir / "config"

    @property
    def data_dir(self) -> Path:
        return self.input_dir / "data"

    @property
    def model_dir(self) -> Path:
        return self.base_dir / "model"

    @property
    def output_dir(self) -> Path:
        return self.base_dir / "output"

    @property
    def output_data_dir(self) -> Path:
        return self.output_dir / "data"

    @property
    def output_intermediate_dir(self) -> Path:
        return self.output_dir / "intermediate"

    @property
    def failure_file(self) -> Path:
        return self.output_dir / "failure"

    def channel_dir(self, name: str) -> Path:
        """Raises: errors.Invalid when the name would leave input/data (see check_channel_name)."""
        check_channel_name(fields.CHANNELS, name)
        return self.data_dir / name

    def checkpoint_dir(self, spec: JobSpec) -> Path:
        """Where the job writes checkpoints: CheckpointConfig.LocalPath, with /opt/ml mapped here.

        Raises:
            errors.Invalid: LocalPath is outside the job's tree (see checkpoint_subpath).
        """
        return self.base_dir / checkpoint_subpath(spec.checkpoint_local_path)

    def create(self) -> None:
        """Create every directory of the tree (idempotent)."""
        for directory in (
            self.input_config_dir,
            self.data_dir,
            self.model_dir,
            self.output_data_dir,
            self.output_intermediate_dir,
        ):
            directory.mkdir(parents=True, exist_ok=True)
