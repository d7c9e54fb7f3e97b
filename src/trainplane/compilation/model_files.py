"""Find the model a compilation job was given: unpack model.tar.gz safely, pick the framework's file."""

from __future__ import annotations

import tarfile
from collections.abc import Sequence
from pathlib import Path

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar")
# Each framework's model files, most specific first (what SageMaker's containers save them as).
MODEL_SUFFIXES: dict[str, tuple[str, ...]] = {
    "ONNX": (".onnx",),
    "PYTORCH": (".pt2",),
    "XGBOOST": (".json", ".ubj", ".model", ".bst", ".xgb"),
    "SKLEARN": (".joblib", ".pkl", ".pickle", ".txt"),
}
IGNORED_NAMES = frozenset({"trainplane-manifest.json", "model.json", "compiled.json"})


class CompilationError(Exception):
    """What the FailureReason says; the user's to fix (the model, the request)."""


def unpacked_source(channel_dir: Path, work_dir: Path) -> Path:
    """A directory holding the model's files: the archive in `channel_dir` unpacked, or the dir itself."""
    entries = sorted(path for path in channel_dir.iterdir() if not path.name.startswith("."))
    archives = [path for path in entries if path.name.endswith(ARCHIVE_SUFFIXES) and path.is_file()]
    if len(archives) > 1:
        raise CompilationError(f"InputConfig.S3Uri holds {len(archives)} archives: give one model.tar.gz")
    if not archives:
        return channel_dir
    target = work_dir / "model"
    target.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archives[0]) as archive:
            archive.extractall(target, filter="data")  # no links out, no absolute paths, no devices
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise CompilationError(f"{archives[0].name} is not a readable tar archive: {exc}") from None
    return target


def model_file(source: Path, framework: str) -> Path:
    """The one model file of `framework` under `source` (a name `model.*` wins over others)."""
    suffixes = MODEL_SUFFIXES[framework]
    found = [
        path
        for path in sorted(source.rglob("*"))
        if path.is_file() and path.name.endswith(suffixes) and path.name not in IGNORED_NAMES
    ]
    preferred = [path for path in found if path.name.startswith("model.")]
    candidates = preferred or found
    if len(candidates) != 1:
        return _ambiguous(found, framework, suffixes)
    return candidates[0]


def _ambiguous(found: Sequence[Path], framework: str, suffixes: Sequence[str]) -> Path:
    wanted = ", ".join(f"*{suffix}" for suffix in suffixes)
    if not found:
        raise CompilationError(f"the model archive holds no {framework} model file ({wanted})")
    names = ", ".join(path.name for path in found[:5])
    raise CompilationError(
        f"the model archive holds several {framework} model files ({names}): name one model.*"
    )
