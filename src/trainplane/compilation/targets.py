"""Which frameworks compile for which targets here, decided at create (pure: no compiler is loaded).

SageMaker Neo builds on Apache TVM and Treelite; so does trainplane. A request that asks for anything
outside this table is refused at create with the supported choices, never a job that fails later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trainplane.domain import errors

FRAMEWORK_FIELD = "inputConfig.framework"
DATA_INPUT_FIELD = "inputConfig.dataInputConfig"
TARGET_DEVICE_FIELD = "outputConfig.targetDevice"
TARGET_PLATFORM_FIELD = "outputConfig.targetPlatform"

# Framework -> how it compiles. PYTORCH needs torch in the server's environment (an optional extra):
# without it the job fails with a FailureReason saying so.
FRAMEWORKS: Mapping[str, str] = {
    "ONNX": "Apache TVM (Relax)",
    "SKLEARN": "Treelite + TL2cgen for tree ensembles, Apache TVM through skl2onnx for the rest",
    "XGBOOST": "Treelite + TL2cgen",
    "PYTORCH": "Apache TVM (Relax) from torch.export (needs torch installed on the server)",
}


@dataclass(frozen=True)
class Target:
    """A CPU target: the label in the artifact's name and what LLVM and the C compiler are told."""

    label: str  # ml_c5, LINUX_X86_64, ...
    mcpu: str  # LLVM's -mcpu and gcc's -march
    triple: str = "x86_64-linux-gnu"

    def to_dict(self) -> dict[str, str]:
        return {"label": self.label, "mcpu": self.mcpu, "triple": self.triple}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Target:
        return cls(str(doc["label"]), str(doc["mcpu"]), str(doc.get("triple", "x86_64-linux-gnu")))


# The CPUs of SageMaker's instance families (C4/M4: Haswell; C5/M5: Skylake-SP with AVX-512).
DEVICES: Mapping[str, Target] = {
    "ml_c4": Target("ml_c4", "haswell"),
    "ml_m4": Target("ml_m4", "haswell"),
    "ml_c5": Target("ml_c5", "skylake-avx512"),
    "ml_m5": Target("ml_m5", "skylake-avx512"),
}
PLATFORMS: Mapping[tuple[str, str], Target] = {
    ("LINUX", "X86_64"): Target("LINUX_X86_64", "x86-64"),
}


def supported_text() -> str:
    devices = ", ".join(sorted(DEVICES))
    platforms = ", ".join(f"Os={os_} Arch={arch}" for os_, arch in sorted(PLATFORMS))
    return f"TargetDevice {devices}, or TargetPlatform {platforms} (no Accelerator)"


def check_framework(framework: str) -> str:
    """Raises: errors.Invalid naming the supported frameworks."""
    if framework not in FRAMEWORKS:
        supported = ", ".join(sorted(FRAMEWORKS))
        raise errors.Invalid(
            FRAMEWORK_FIELD, f"Framework {framework} cannot be compiled here; supported: {supported}"
        )
    return framework


def target_for(output_config: Mapping[str, Any]) -> Target:
    """The target OutputConfig names. Raises: errors.Invalid naming the supported targets."""
    device = output_config.get("TargetDevice")
    platform = output_config.get("TargetPlatform")
    if (device is None) == (platform is None):
        raise errors.Invalid(
            TARGET_DEVICE_FIELD, f"give exactly one of TargetDevice and TargetPlatform: {supported_text()}"
        )
    if device is not None:
        if device not in DEVICES:
            raise errors.Invalid(
                TARGET_DEVICE_FIELD,
                f"TargetDevice {device} is not supported here; supported: {supported_text()}",
            )
        return DEVICES[device]
    assert platform is not None  # exactly one of the two is given
    key = (platform.get("Os", ""), platform.get("Arch", ""))
    if key not in PLATFORMS or platform.get("Accelerator"):
        named = " ".join(f"{k}={v}" for k, v in sorted(platform.items()))
        raise errors.Invalid(
            TARGET_PLATFORM_FIELD,
            f"TargetPlatform {named} is not supported here; supported: {supported_text()}",
        )
    return PLATFORMS[key]


def input_shapes(data_input_config: str | None) -> dict[str, list[int]] | None:
    """DataInputConfig as {input name: shape}; None when absent (shapes come from the model).

    Raises: errors.Invalid when it is not a JSON object of lists of non-negative integers.
    """
    if not data_input_config:
        return None
    try:
        document = json.loads(data_input_config)
    except json.JSONDecodeError as exc:
        raise errors.Invalid(DATA_INPUT_FIELD, f"is not JSON: {exc.msg}") from None
    if isinstance(document, list):  # Neo also takes [[1, 3, 224, 224]] for a single unnamed input
        document = {f"input{index}": shape for index, shape in enumerate(document)}
    if not isinstance(document, dict) or not document:
        raise errors.Invalid(DATA_INPUT_FIELD, 'must be a JSON object such as {"input": [1, 64]}')
    for name, shape in document.items():
        if not isinstance(shape, list) or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise errors.Invalid(
                DATA_INPUT_FIELD, f"input {name!r}: the shape must be a list of whole numbers"
            )
    return {str(name): list(shape) for name, shape in document.items()}


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def artifact_name(input_uri: str, target: Target) -> str:
    """`<model>-<target>.tar.gz`, as Neo names its output: `model.tar.gz` -> `model-ml_c5.tar.gz`."""
    base = input_uri.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".tar.gz", ".tgz", ".tar"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    stem = _UNSAFE.sub("_", base).lstrip(".") or "model"
    return f"{stem[:100]}-{target.label}.tar.gz"
