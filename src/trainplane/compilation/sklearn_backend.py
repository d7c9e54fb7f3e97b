"""scikit-learn models that are not tree ensembles: skl2onnx, keep the standard-ONNX part, Apache TVM.

TVM's ONNX frontend has no `ai.onnx.ml` operators, so the converted graph is cut at the model's
probabilities (or predictions): what computes them must be standard ONNX (MLPs, for one). The label is
the runtime's argmax over `classes`, which the manifest records.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainplane.compilation import tvm_backend
from trainplane.compilation.model_files import CompilationError
from trainplane.compilation.targets import Target

INPUT_NAME = "input"
ML_DOMAIN = "ai.onnx.ml"


def compile_estimator(estimator: Any, target: Target, out_dir: Path) -> dict[str, Any]:
    import numpy as np
    from skl2onnx import to_onnx

    features = getattr(estimator, "n_features_in_", None)
    if features is None:
        raise CompilationError(f"{type(estimator).__name__} is not a fitted scikit-learn estimator")
    classes = getattr(estimator, "classes_", None)
    options = {id(estimator): {"zipmap": False}} if classes is not None else None
    try:
        model = to_onnx(
            estimator,
            initial_types=[(INPUT_NAME, _float_tensor_type(int(features)))],
            options=options,
            target_opset={"": 17, ML_DOMAIN: 3},
        )
    except Exception as exc:
        raise CompilationError(f"skl2onnx cannot convert {type(estimator).__name__}: {exc}") from None
    model = _standard_part(model, "probabilities" if classes is not None else "variable")
    manifest = tvm_backend.compile_onnx(model, None, target, out_dir)
    manifest["classes"] = None if classes is None else np.asarray(classes).tolist()
    return manifest


def _float_tensor_type(features: int) -> Any:
    from skl2onnx.common.data_types import FloatTensorType

    return FloatTensorType([None, features])


def _standard_part(model: Any, output: str) -> Any:
    """The subgraph from the input to `output`. Raises CompilationError if it needs ai.onnx.ml ops."""
    import onnx.utils

    outputs = [value.name for value in model.graph.output]
    if output not in outputs:
        output = outputs[-1]
    part = onnx.utils.Extractor(model).extract_model([INPUT_NAME], [output])
    ml_ops = sorted({node.op_type for node in part.graph.node if node.domain == ML_DOMAIN})
    if ml_ops:
        raise CompilationError(
            "this scikit-learn model converts to ONNX-ML operators Apache TVM cannot compile "
            f"({', '.join(ml_ops)}); supported: tree ensembles (Treelite) and models of standard "
            "operators such as MLPClassifier/MLPRegressor"
        )
    kept = [opset for opset in part.opset_import if opset.domain != ML_DOMAIN]
    del part.opset_import[:]
    part.opset_import.extend(kept)
    return part
