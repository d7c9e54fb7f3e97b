"""Small real models to compile, packed as a training job would leave them (model.tar.gz)."""

from __future__ import annotations

import importlib.util
import io
import pickle
import sys
import tarfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "train_digits.py"


def mlp_weights(
    seed: int = 0, inputs: int = 64, hidden: int = 32, classes: int = 10
) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "w1": rng.normal(0, 0.2, (inputs, hidden)).astype(np.float32),
        "b1": rng.normal(0, 0.1, hidden).astype(np.float32),
        "w2": rng.normal(0, 0.2, (hidden, classes)).astype(np.float32),
        "b2": rng.normal(0, 0.1, classes).astype(np.float32),
    }


def mlp_reference(weights: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """What the ONNX MLP computes, in NumPy: softmax(relu(x w1 + b1) w2 + b2)."""
    logits = np.maximum(x @ weights["w1"] + weights["b1"], 0) @ weights["w2"] + weights["b2"]
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def example_module() -> ModuleType:
    """examples/train_digits.py, loaded as a module (it is a script, not a package member)."""
    spec = importlib.util.spec_from_file_location("train_digits", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def mlp_onnx_bytes(weights: dict[str, np.ndarray]) -> bytes:
    """The MLP as the example writes it to ONNX (input `x`, output `probabilities`, batch symbolic)."""
    model: bytes | None = example_module().onnx_bytes(weights)
    assert model is not None, "the onnx package is installed with the compile extra"
    return model


def model_tar(path: Path, files: dict[str, bytes]) -> Path:
    """Write `files` as a model.tar.gz at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def pickled(estimator: Any) -> bytes:
    return pickle.dumps(estimator)
