"""ONNX (and what converts to it) -> Apache TVM Relax -> a shared library plus its parameters."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainplane.compilation.model_files import CompilationError
from trainplane.compilation.targets import Target

LIBRARY = "compiled.so"
PARAMS = "params.npz"


def compile_onnx(
    model: Any, shapes: Mapping[str, list[int]] | None, target: Target, out_dir: Path
) -> dict[str, Any]:
    """Compile an onnx.ModelProto into `out_dir`; returns the manifest's runtime members."""
    import numpy as np
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx

    inputs = _graph_inputs(model, shapes)
    try:
        module = from_onnx(
            model,
            shape_dict={i["name"]: i["shape"] for i in inputs if i["is_fixed"]},
            keep_params_in_input=True,
        )
    except Exception as exc:  # the frontend says which operators it lacks
        raise CompilationError(f"Apache TVM cannot import this ONNX model: {exc}") from None
    module, params = relax.frontend.detach_params(module)
    return _build(module, list(params.get("main", ())), inputs, target, out_dir, np, tvm)


def _build(
    module: Any,
    params: list[Any],
    inputs: list[dict[str, Any]],
    target: Target,
    out_dir: Path,
    np: Any,
    tvm: Any,
) -> dict[str, Any]:
    executable = tvm.compile(module, target=tvm.target.Target(_llvm_target(target)))
    executable.export_library(str(out_dir / LIBRARY))
    np.savez(out_dir / PARAMS, **{f"p{index}": p.numpy() for index, p in enumerate(params)})
    return {
        "runtime": "tvm-relax",
        "library": LIBRARY,
        "params": PARAMS,
        "param_count": len(params),
        "inputs": [{k: v for k, v in i.items() if k != "is_fixed"} for i in inputs],
        "compiler": {"name": "apache-tvm", "version": tvm.__version__},
    }


def _llvm_target(target: Target) -> dict[str, Any]:
    return {"kind": "llvm", "mcpu": target.mcpu, "mtriple": target.triple, "num-cores": 1}


_DTYPES = {1: "float32", 6: "int32", 7: "int64", 10: "float16", 11: "float64"}


def _graph_inputs(model: Any, shapes: Mapping[str, list[int]] | None) -> list[dict[str, Any]]:
    initializers = {tensor.name for tensor in model.graph.initializer}
    inputs = []
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        shape: list[int | str] = [
            d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in tensor.shape.dim
        ]
        given = (shapes or {}).get(value.name)
        if given is not None:
            shape = list(given)
        inputs.append(
            {
                "name": value.name,
                "shape": shape,
                "dtype": _DTYPES.get(tensor.elem_type, "float32"),
                "is_fixed": given is not None,
            }
        )
    unknown = sorted(set(shapes or {}) - {i["name"] for i in inputs})
    if unknown:
        names = ", ".join(i["name"] for i in inputs)
        raise CompilationError(
            f"DataInputConfig names {', '.join(unknown)}, which the model lacks (inputs: {names})"
        )
    return inputs


def compile_onnx_file(
    path: Path, shapes: Mapping[str, list[int]] | None, target: Target, out_dir: Path
) -> dict[str, Any]:
    import onnx

    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise CompilationError(f"{path.name} is not a readable ONNX model: {exc}") from None
    return compile_onnx(model, shapes, target, out_dir)


def compile_pytorch_file(
    path: Path, shapes: Mapping[str, list[int]] | None, target: Target, out_dir: Path
) -> dict[str, Any]:
    """A torch.export'ed program (`.pt2`), where torch is installed."""
    try:
        import torch
    except ImportError:
        raise CompilationError(
            "Framework PYTORCH needs torch, which is not installed on this server "
            "(install it into the server's environment: pip install torch)"
        ) from None
    import numpy as np
    import tvm
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    program = torch.export.load(str(path))
    module = from_exported_program(program, keep_params_as_input=True)
    module, params = relax.frontend.detach_params(module)
    inputs = [
        {"name": f"input{index}", "shape": list(shape), "dtype": "float32"}
        for index, shape in enumerate((shapes or {}).values())
    ]
    return _build(module, list(params.get("main", ())), inputs, target, out_dir, np, tvm)
