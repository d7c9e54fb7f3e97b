"""The compilation job's process: `python -m trainplane.compilation.runner --config <json>`.

Runs under the job's supervisor like any training process (same stop protocol: SIGTERM ends it at
once, as Python's default action; the supervisor publishes nothing for a stopped job). It unpacks the
model the job was given (channel `model`), compiles it for the target and leaves in SM_MODEL_DIR the
shared library, its parameters and `compiled.json`, which says how to load it (trainplane.runtime.compiled).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainplane import runtime
from trainplane.compilation import model_files, sklearn_backend, targets, tree_backend, tvm_backend
from trainplane.compilation.model_files import CompilationError
from trainplane.compilation.targets import Target

MANIFEST = "compiled.json"
MANIFEST_FORMAT = 1
MODEL_CHANNEL = "model"


def compile_model(config: dict[str, Any], source_dir: Path, out_dir: Path, work_dir: Path) -> dict[str, Any]:
    """Compile the model in `source_dir` into `out_dir`; returns the manifest written there."""
    framework = config["framework"]
    target = Target.from_dict(config["target"])
    shapes = targets.input_shapes(config.get("data_input_config"))
    started = time.monotonic()
    source = model_files.unpacked_source(source_dir, work_dir)
    path = model_files.model_file(source, framework)
    members = _COMPILERS[framework](path, shapes, target, out_dir)
    manifest = {
        "format": MANIFEST_FORMAT,
        **members,
        "framework": framework,
        "target": target.to_dict(),
        "source": {"file": path.name, "sha256": _sha256(path)},
        "compile_seconds": round(time.monotonic() - started, 3),
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _compile_sklearn(path: Path, shapes: Any, target: Target, out_dir: Path) -> dict[str, Any]:
    if path.suffix == ".txt":
        if not tree_backend.is_lightgbm_text(path):
            raise CompilationError(f"{path.name} is not a LightGBM text model")
        return tree_backend.compile_trees(tree_backend.load_lightgbm_text(path), target, out_dir, None)
    estimator = tree_backend.load_pickle(path)
    trees = tree_backend.treelite_model(estimator)
    if trees is None:
        return sklearn_backend.compile_estimator(estimator, target, out_dir)
    classes = getattr(estimator, "classes_", None)
    return tree_backend.compile_trees(
        trees, target, out_dir, None if classes is None else list(map(_plain, classes))
    )


def _compile_xgboost(path: Path, shapes: Any, target: Target, out_dir: Path) -> dict[str, Any]:
    if path.suffix == ".txt":
        return tree_backend.compile_trees(tree_backend.load_lightgbm_text(path), target, out_dir, None)
    return tree_backend.compile_trees(tree_backend.load_xgboost(path), target, out_dir, None)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


_COMPILERS: dict[str, Callable[[Path, Any, Target, Path], dict[str, Any]]] = {
    "ONNX": tvm_backend.compile_onnx_file,
    "PYTORCH": tvm_backend.compile_pytorch_file,
    "XGBOOST": _compile_xgboost,
    "SKLEARN": _compile_sklearn,
}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="trainplane.compilation.runner")
    parser.add_argument("--config", required=True, help="the compilation job's settings (JSON)")
    args = parser.parse_args(argv)
    config = json.loads(args.config)
    out_dir = runtime.model_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"compiling {config['framework']} for {config['target']['label']}", flush=True)
    try:
        with tempfile.TemporaryDirectory(prefix="compile-", dir=runtime.output_dir()) as work:
            manifest = compile_model(config, runtime.channel_dir(MODEL_CHANNEL), out_dir, Path(work))
    except Exception as exc:  # the edge: whatever failed, the reason goes to the FailureReason
        reason = str(exc) if isinstance(exc, CompilationError) else f"{type(exc).__name__}: {exc}"
        runtime.write_failure(reason)
        print(f"error: {reason}", file=sys.stderr, flush=True)
        return 1
    print(f"compiled with {manifest['compiler']['name']} in {manifest['compile_seconds']} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
