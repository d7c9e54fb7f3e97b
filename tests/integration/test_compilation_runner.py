"""The compiler runner's backends, called directly: compile a real model, load it, predict the same."""

from __future__ import annotations

import tarfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier

from tests.support import compilable
from trainplane.compilation import runner, targets
from trainplane.compilation.model_files import CompilationError
from trainplane.runtime import compiled

# Short fits on purpose: the models need not be good, only compiled faithfully.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
X, Y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
TARGET = targets.PLATFORMS[("LINUX", "X86_64")].to_dict()


def compile_and_load(tmp_path: Path, framework: str, files: dict[str, bytes]) -> compiled.CompiledModel:
    """Compile `files` (packed as model.tar.gz) as the runner does in a job, then load the result."""
    source, out, work = tmp_path / "source", tmp_path / "out", tmp_path / "work"
    for directory in (source, out, work):
        directory.mkdir(parents=True)
    compilable.model_tar(source / "model.tar.gz", files)
    runner.compile_model({"framework": framework, "target": TARGET}, source, out, work)
    artifact = tmp_path / "compiled.tar.gz"
    with tarfile.open(artifact, "w:gz") as archive:
        for path in out.iterdir():
            archive.add(path, arcname=path.name)
    return compiled.load(artifact)


def fitted(estimator: Any) -> Any:
    return estimator.fit(X, Y)


def test_an_sklearn_mlp_compiles_through_skl2onnx_and_tvm(tmp_path: Path) -> None:
    mlp = fitted(MLPClassifier(hidden_layer_sizes=(16,), max_iter=30, random_state=0))

    loaded = compile_and_load(tmp_path, "SKLEARN", {"model.joblib": _joblib_bytes(mlp, tmp_path)})

    assert loaded.manifest["runtime"] == "tvm-relax"
    np.testing.assert_allclose(loaded.predict(X), mlp.predict_proba(X), atol=1e-4)
    np.testing.assert_array_equal(loaded.predict_labels(X), mlp.predict(X))


def test_sklearn_gradient_boosting_compiles_with_treelite(tmp_path: Path) -> None:
    boosting = fitted(GradientBoostingClassifier(n_estimators=5, max_depth=2, random_state=0))

    loaded = compile_and_load(tmp_path, "SKLEARN", {"model.pkl": compilable.pickled(boosting)})

    assert loaded.manifest["runtime"] == "tl2cgen"
    np.testing.assert_allclose(loaded.predict(X), boosting.predict_proba(X), atol=1e-5)


def test_a_lightgbm_model_compiles_with_treelite(tmp_path: Path) -> None:
    import lightgbm

    booster = fitted(lightgbm.LGBMClassifier(n_estimators=5, num_leaves=7, verbose=-1))
    text = booster.booster_.model_to_string().encode()

    from_text = compile_and_load(tmp_path / "text", "SKLEARN", {"model.txt": text})
    from_pickle = compile_and_load(tmp_path / "pickle", "SKLEARN", {"model.pkl": compilable.pickled(booster)})

    for loaded in (from_text, from_pickle):
        np.testing.assert_allclose(loaded.predict(X), booster.predict_proba(X), atol=1e-5)


def test_a_model_of_onnx_ml_operators_fails_naming_them(tmp_path: Path) -> None:
    linear = fitted(LogisticRegression(max_iter=50))

    with pytest.raises(CompilationError, match="LinearClassifier"):
        compile_and_load(tmp_path, "SKLEARN", {"model.pkl": compilable.pickled(linear)})


def test_an_archive_with_two_candidate_models_is_refused_by_name(tmp_path: Path) -> None:
    onnx_model = compilable.mlp_onnx_bytes(compilable.mlp_weights())

    with pytest.raises(CompilationError, match=r"several ONNX model files \(a.onnx, b.onnx\)"):
        compile_and_load(tmp_path, "ONNX", {"a.onnx": onnx_model, "b.onnx": onnx_model})


def test_a_damaged_archive_fails_with_its_name(tmp_path: Path) -> None:
    source, out = tmp_path / "source", tmp_path / "out"
    source.mkdir()
    out.mkdir()
    (source / "model.tar.gz").write_bytes(b"\x1f\x8b not really gzip")

    with pytest.raises(CompilationError, match=r"model\.tar\.gz is not a readable tar archive"):
        runner.compile_model({"framework": "ONNX", "target": TARGET}, source, out, tmp_path)


def _joblib_bytes(estimator: Any, tmp_path: Path) -> bytes:
    import joblib

    path = tmp_path / "estimator.joblib"
    joblib.dump(estimator, path)
    return path.read_bytes()
