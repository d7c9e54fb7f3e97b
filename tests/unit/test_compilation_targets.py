"""What compiles for which target, Neo's status words, and the artifact's name (pure code)."""

from __future__ import annotations

import botocore.session
import pytest

from trainplane.api.sagemaker import compilation
from trainplane.compilation import targets
from trainplane.domain import errors
from trainplane.domain.status import Secondary


def _enum(shape: str) -> list[str]:
    return list(botocore.session.get_session().get_service_model("sagemaker").shape_for(shape).enum)


def test_every_status_maps_to_a_wire_word_and_every_wire_word_back() -> None:
    assert set(compilation.STATUS) == set(Secondary)
    assert set(compilation.STATUS.values()) == set(_enum("CompilationJobStatus"))
    for word in _enum("CompilationJobStatus"):
        assert {compilation.STATUS[status] for status in compilation.statuses_of(word)} == {word}


def test_supported_frameworks_and_devices_are_botocore_values() -> None:
    assert set(targets.FRAMEWORKS) <= set(_enum("Framework"))
    assert set(targets.DEVICES) <= set(_enum("TargetDevice"))


@pytest.mark.parametrize(
    ("output", "label", "mcpu"),
    [
        ({"TargetDevice": "ml_c5"}, "ml_c5", "skylake-avx512"),
        ({"TargetDevice": "ml_m4"}, "ml_m4", "haswell"),
        ({"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}}, "LINUX_X86_64", "x86-64"),
    ],
)
def test_targets_name_the_cpu_to_build_for(output: dict[str, object], label: str, mcpu: str) -> None:
    target = targets.target_for(output)
    assert (target.label, target.mcpu) == (label, mcpu)


@pytest.mark.parametrize(
    "output",
    [
        {},
        {"TargetDevice": "ml_c5", "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"}},
        {"TargetDevice": "jetson_nano"},
        {"TargetPlatform": {"Os": "LINUX", "Arch": "X86_64", "Accelerator": "NVIDIA"}},
        {"TargetPlatform": {"Os": "ANDROID", "Arch": "ARM64"}},
    ],
)
def test_other_targets_are_refused_naming_the_supported_ones(output: dict[str, object]) -> None:
    with pytest.raises(errors.Invalid) as refused:
        targets.target_for(output)
    assert "ml_c5" in refused.value.reason and "X86_64" in refused.value.reason


def test_data_input_config_is_shapes_by_input_name() -> None:
    assert targets.input_shapes('{"x": [1, 64]}') == {"x": [1, 64]}
    assert targets.input_shapes("[[1, 3, 224, 224]]") == {"input0": [1, 3, 224, 224]}
    assert targets.input_shapes(None) is None
    for bad in ("[1, 64", '{"x": "1,64"}', '{"x": [-1]}', "{}", "3"):
        with pytest.raises(errors.Invalid):
            targets.input_shapes(bad)


def test_the_artifact_is_named_after_the_input_archive_and_target() -> None:
    c5 = targets.DEVICES["ml_c5"]
    assert targets.artifact_name("file:///tmp/a/model.tar.gz", c5) == "model-ml_c5.tar.gz"
    assert targets.artifact_name("/tmp/a/digits.tgz", c5) == "digits-ml_c5.tar.gz"
    assert targets.artifact_name("file:///tmp/models/", c5) == "models-ml_c5.tar.gz"
    assert targets.artifact_name("file:///tmp/..tar.gz", c5) == "model-ml_c5.tar.gz"
    assert targets.artifact_name("file:///tmp/we%20ird name!.tar.gz", c5) == "we_20ird_name_-ml_c5.tar.gz"
