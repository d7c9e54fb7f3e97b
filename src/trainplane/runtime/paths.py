"""The job's directories and hyperparameters, from the SM_* variables trainplane sets."""

from __future__ import annotations

import json
import os
from pathlib import Path


class MissingEnvironment(KeyError):
    """A variable the SageMaker conventions promise is not set (not running under trainplane?)."""

    def __init__(self, variable: str) -> None:
        super().__init__(variable)
        self.variable = variable

    def __str__(self) -> str:
        return (
            f"environment variable {self.variable} is not set: run this under trainplane or "
            f"SageMaker, or set it yourself"
        )


def model_dir() -> Path:
    """SM_MODEL_DIR: everything written here becomes model.tar.gz."""
    return Path(_required("SM_MODEL_DIR"))


def checkpoint_dir() -> Path:
    """SM_CHECKPOINT_DIR: files here persist to CheckpointConfig.S3Uri and come back on resume."""
    return Path(_required("SM_CHECKPOINT_DIR"))


def output_data_dir() -> Path:
    """SM_OUTPUT_DATA_DIR: files here become output.tar.gz."""
    return Path(_required("SM_OUTPUT_DATA_DIR"))


def output_dir() -> Path:
    """SM_OUTPUT_DIR: holds the `failure` file."""
    return Path(_required("SM_OUTPUT_DIR"))


def channel_dir(name: str) -> Path:
    """SM_CHANNEL_<NAME>: where the input channel `name` is staged."""
    return Path(_required(f"SM_CHANNEL_{name.upper()}"))


def hyperparameters() -> dict[str, str]:
    """The request's hyperparameters as strings, from SM_HPS.

    SM_HPS holds JSON-decoded values (the toolkit's encoding); non-strings are re-encoded as JSON,
    so "10" comes back as "10" and "true" as "true".
    """
    raw = _required("SM_HPS")
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"SM_HPS is not JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise ValueError("SM_HPS is not a JSON object")
    return {
        str(key): value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
        for key, value in decoded.items()
    }


def write_failure(reason: str) -> None:
    """Write $SM_OUTPUT_DIR/failure; its first 1024 characters become the job's FailureReason."""
    path = output_dir() / "failure"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(reason, encoding="utf-8")


def _required(variable: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise MissingEnvironment(variable)
    return value
