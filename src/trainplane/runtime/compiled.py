"""Load a model a compilation job compiled (`<model>-<target>.tar.gz`) and predict with it.

    from trainplane.runtime import compiled
    model = compiled.load("/tmp/tp/compiled/model-ml_c5.tar.gz")    # or a file:// URI
    probabilities = model.predict(features)                          # a NumPy array in, one out

Standard library at import; the compiler's own runtime (Apache TVM's or TL2cgen's) and NumPy are
imported by `load`, as `compiled.json` in the archive says.
"""

from __future__ import annotations

import json
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

MANIFEST = "compiled.json"


class CompiledModel:
    """A loaded artifact: `predict(x)` returns the model's output for the rows of `x`."""

    def __init__(self, directory: Path, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self._directory = directory  # kept until the model is garbage collected
        self._predict = _LOADERS[manifest["runtime"]](directory, manifest)

    @property
    def classes(self) -> list[Any] | None:
        """A classifier's labels, in the order of the output's columns; None when unknown."""
        classes = self.manifest.get("classes")
        return None if classes is None else list(classes)

    def predict(self, x: Any) -> Any:
        """The model's output (probabilities for a classifier) as a NumPy array, one row per input row."""
        return self._predict(x)

    def predict_labels(self, x: Any) -> Any:
        """A classifier's labels: the argmax of `predict`, mapped through `classes` when known."""
        import numpy as np

        columns = np.asarray(self.predict(x)).argmax(axis=1)
        classes = self.classes
        return columns if classes is None else np.asarray(classes)[columns]

    def __del__(self) -> None:
        shutil.rmtree(self._directory, ignore_errors=True)


def load(location: str | Path) -> CompiledModel:
    """Unpack the artifact at `location` (a path or file:// URI) into a private directory and load it."""
    path = _local_path(str(location))
    directory = Path(tempfile.mkdtemp(prefix="trainplane-compiled-"))
    try:
        with tarfile.open(path) as archive:
            archive.extractall(directory, filter="data")
        manifest = json.loads((directory / MANIFEST).read_text())
        return CompiledModel(directory, manifest)
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise


def _local_path(location: str) -> Path:
    if location.startswith("file://"):
        parsed = urllib.parse.urlparse(location)
        return Path(urllib.request.url2pathname(parsed.path))
    return Path(location)


def _tvm_predictor(directory: Path, manifest: dict[str, Any]) -> Any:
    import numpy as np
    import tvm
    from tvm import relax

    device = tvm.cpu()
    machine = relax.VirtualMachine(tvm.runtime.load_module(str(directory / manifest["library"])), device)
    with np.load(directory / manifest["params"]) as saved:
        params = [tvm.runtime.tensor(saved[f"p{index}"], device) for index in range(manifest["param_count"])]
    dtype = manifest["inputs"][0]["dtype"]

    def predict(x: Any) -> Any:
        tensor = tvm.runtime.tensor(np.ascontiguousarray(x, dtype=dtype), device)
        result = machine["main"](tensor, *params)
        return (result[0] if isinstance(result, tvm.ir.Array | list | tuple) else result).numpy()

    return predict


def _tl2cgen_predictor(directory: Path, manifest: dict[str, Any]) -> Any:
    import numpy as np
    import tl2cgen

    predictor = tl2cgen.Predictor(str(directory / manifest["library"]), nthread=1)

    def predict(x: Any) -> Any:
        rows = np.ascontiguousarray(x, dtype=np.float32)
        output = np.asarray(predictor.predict(tl2cgen.DMatrix(rows)))
        return output.reshape(len(rows), -1)

    return predict


_LOADERS = {"tvm-relax": _tvm_predictor, "tl2cgen": _tl2cgen_predictor}
