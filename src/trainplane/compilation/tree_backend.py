"""Tree ensembles (XGBoost, LightGBM, scikit-learn forests and boosting) -> Treelite -> TL2cgen -> .so."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from trainplane.compilation.model_files import CompilationError
from trainplane.compilation.targets import Target

LIBRARY = "compiled.so"
_LIGHTGBM_HEADER = b"tree\n"


def load_xgboost(path: Path) -> Any:
    """A Treelite model from an XGBoost model file (JSON, UBJSON, or the legacy binary format)."""
    import treelite

    try:
        if path.suffix in (".json", ".ubj"):
            return treelite.frontend.load_xgboost_model(str(path), format_choice="use_suffix")
        import xgboost

        return treelite.frontend.from_xgboost(xgboost.Booster(model_file=str(path)))
    except Exception as exc:
        raise CompilationError(f"{path.name} is not an XGBoost model Treelite can read: {exc}") from None


def is_lightgbm_text(path: Path) -> bool:
    with path.open("rb") as source:
        return source.read(len(_LIGHTGBM_HEADER)) == _LIGHTGBM_HEADER


def load_lightgbm_text(path: Path) -> Any:
    import treelite

    try:
        return treelite.frontend.load_lightgbm_model(str(path))
    except Exception as exc:
        raise CompilationError(f"{path.name} is not a LightGBM model Treelite can read: {exc}") from None


def load_pickle(path: Path) -> Any:
    """The estimator a scikit-learn job saved with joblib or pickle (the job's own file, run as the job)."""
    try:
        if path.suffix == ".joblib":
            import joblib

            return joblib.load(path)
        with path.open("rb") as source:
            return pickle.load(source)
    except Exception as exc:
        raise CompilationError(f"{path.name} could not be loaded: {exc}") from None


def treelite_model(estimator: Any) -> Any | None:
    """The Treelite model of a tree ensemble (sklearn, LightGBM or XGBoost API); None for anything else."""
    import treelite

    module = type(estimator).__module__
    if module.startswith("lightgbm"):
        return treelite.frontend.from_lightgbm(estimator.booster_)
    if module.startswith("xgboost"):
        return treelite.frontend.from_xgboost(estimator.get_booster())
    try:
        return treelite.sklearn.import_model(estimator)
    except Exception:  # not a tree ensemble Treelite knows: the caller converts it another way
        return None


def compile_trees(model: Any, target: Target, out_dir: Path, classes: list[Any] | None) -> dict[str, Any]:
    """Generate C with TL2cgen and build it for `target`; returns the manifest's runtime members."""
    import tl2cgen
    import treelite

    try:
        tl2cgen.export_lib(
            model,
            toolchain="gcc",
            libpath=str(out_dir / LIBRARY),
            params={"parallel_comp": 0},
            options=["-O2", f"-march={target.mcpu}"],
            nthread=1,
        )
    except Exception as exc:
        raise CompilationError(f"TL2cgen could not build the model: {exc}") from None
    return {
        "runtime": "tl2cgen",
        "library": LIBRARY,
        "inputs": [{"name": "input", "shape": ["N", model.num_feature], "dtype": "float32"}],
        "classes": classes,
        "compiler": {"name": "treelite+tl2cgen", "version": f"{treelite.__version__}+{tl2cgen.__version__}"},
    }
