"""The instance-type table: every entry is a real SageMaker training type; only unverified ones miss."""

from __future__ import annotations

import botocore.session

from trainplane.domain.instance_types import PUBLISHED, InstanceResources, resources_of

UNVERIFIED_PREFIXES = ("ml.g7.", "ml.g7e.", "ml.p6-b300.", "ml.p6e-gb200.")


def _training_enum() -> set[str]:
    model = botocore.session.get_session().get_service_model("sagemaker")
    return set(model.shape_for("TrainingInstanceType").enum)


def test_every_entry_is_in_botocores_training_instance_type_enum() -> None:
    assert set(PUBLISHED) - _training_enum() == set()


def test_only_the_types_without_checked_figures_are_missing() -> None:
    missing = _training_enum() - set(PUBLISHED)
    assert missing and all(name.startswith(UNVERIFIED_PREFIXES) for name in missing), sorted(missing)


def test_known_figures() -> None:
    assert PUBLISHED["ml.m5.large"] == InstanceResources(2, 8 * 1024)
    assert PUBLISHED["ml.c5.9xlarge"] == InstanceResources(36, 72 * 1024)
    assert PUBLISHED["ml.c4.8xlarge"] == InstanceResources(32, 60 * 1024)
    assert PUBLISHED["ml.p3.2xlarge"] == InstanceResources(8, 61 * 1024, 1, "NVIDIA V100")
    assert PUBLISHED["ml.g5.12xlarge"].gpus == 4 and PUBLISHED["ml.g5.16xlarge"].gpus == 1
    assert PUBLISHED["ml.trn1.32xlarge"].gpus == 0 and PUBLISHED["ml.trn1.32xlarge"].accelerators == 16


def test_an_operators_definition_comes_first() -> None:
    mine = {"ml.m5.large": InstanceResources(1, 512), "local.gpu1": InstanceResources(4, 16384, 1, "any")}
    assert resources_of("ml.m5.large", mine) == InstanceResources(1, 512)
    assert resources_of("local.gpu1", mine) == mine["local.gpu1"]
    assert resources_of("ml.m5.large") == PUBLISHED["ml.m5.large"]
    assert resources_of("ml.g7.2xlarge") is None
