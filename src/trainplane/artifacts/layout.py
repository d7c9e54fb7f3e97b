"""The /opt/ml-style directory tree of one job, rooted at the job's SAGEMAKER_BASE_DIR."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from trainplane.domain.job import JobSpec

CONTAINER_BASE_DIR = PurePosixPath("/opt/ml")  # where SageMaker mounts the tree in a container


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
        return self.data_dir / name

    def checkpoint_dir(self, spec: JobSpec) -> Path:
        """Where the job writes checkpoints: CheckpointConfig.LocalPath, with /opt/ml mapped here."""
        local_path = spec.checkpoint_local_path
        if not local_path:
            return self.base_dir / "checkpoints"
        posix = PurePosixPath(os.path.normpath(local_path))
        if posix == CONTAINER_BASE_DIR or CONTAINER_BASE_DIR in posix.parents:
            return self.base_dir / posix.relative_to(CONTAINER_BASE_DIR)
        if posix.is_absolute():
            return Path(posix)
        # SageMaker only accepts absolute paths; a relative one is kept inside the job's tree.
        return self.base_dir / posix

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
