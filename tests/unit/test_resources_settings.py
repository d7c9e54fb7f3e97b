"""Issue 10 settings: operator instance types, declared GPUs, and the resource tags checked at create."""

from __future__ import annotations

import pytest

from trainplane import config
from trainplane.domain import errors
from trainplane.domain.instance_types import Allocation, InstanceResources
from trainplane.service import capacity


def test_operator_instance_types_parse_and_bad_ones_name_the_setting() -> None:
    settings = config.Settings(instance_types='{"local.gpu1": {"vcpus": 4, "memory_gib": 16, "gpus": 1}}')
    assert settings.defined_instance_types() == {"local.gpu1": InstanceResources(4, 16384, 1)}
    for bad in ('{"x": {"vcpus": 4}}', '{"x": 3}', "[1]", "{", '{"x": {"vcpus": 0, "memory_mib": 1}}'):
        with pytest.raises(errors.Invalid) as refused:
            config.validate(config.Settings(instance_types=bad, allow_root_jobs=True))
        assert "--instance-types" in refused.value.field


def test_declared_gpus() -> None:
    assert config.Settings(gpus="0, 1").declared_gpus() == ("0", "1")
    assert config.Settings(gpus="none").declared_gpus() == ()
    assert config.Settings().declared_gpus() is None
    for bad in ("0,0", "a b", "0,,1"):
        with pytest.raises(errors.Invalid, match="--gpus"):
            config.Settings(gpus=bad).declared_gpus()


def test_resource_tags_are_checked_at_create() -> None:
    assert capacity.parse_priority("7") == 7 and capacity.parse_priority(None) == 0
    assert capacity.parse_warning_seconds("30") == 30.0
    for bad_priority in ("high", "1e9", "10000000"):
        with pytest.raises(errors.Invalid, match="trainplane:priority"):
            capacity.parse_priority(bad_priority)
    for bad_seconds in ("0", "-1", "nan", "soon"):
        with pytest.raises(errors.Invalid, match="trainplane:max-runtime-warning-seconds"):
            capacity.parse_warning_seconds(bad_seconds)


def test_an_allocation_round_trips_through_an_executor_handle() -> None:
    for allocation in (Allocation(2.0, 512, ("0", "3")), Allocation(1.5, 64, ()), Allocation(4.0, 1024)):
        assert Allocation.from_ref({"run_dir": "/x", **allocation.to_ref()}) == allocation
    assert Allocation.from_ref({"run_dir": "/x"}) is None
