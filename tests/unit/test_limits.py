"""The body limit sits well above the largest request SageMaker accepts, however it is encoded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.unit.test_sagemaker_shapes import create_body
from trainplane.api import limits
from trainplane.api.sagemaker import shapes

# A letter (tag patterns want \p{L}) sent as `\u00e9`: 6 bytes per UTF-16 unit, the most any
# character costs in ensure_ascii JSON (one outside the BMP is two units and 12 bytes).
WIDE = "\u00e9"


def _text(length: int) -> str:
    return WIDE * length


def largest_create_request() -> dict[str, Any]:
    """Every list and map at its maximum count, every string at its maximum length (botocore's model)."""
    channel = {
        "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://b/" + "d" * 1000}},
    }
    return create_body(
        HyperParameters={f"{i:03d}" + _text(253): _text(2500) for i in range(100)},
        Tags=[{"Key": f"{i:02d}" + _text(126), "Value": _text(256)} for i in range(50)],
        Environment={f"E{i:03d}" + "_" * 508: _text(512) for i in range(100)},
        InputDataConfig=[{"ChannelName": f"channel{i}", **channel} for i in range(20)],
        AlgorithmSpecification={
            "TrainingImage": "local/python",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": [_text(256)] * 100,
            "ContainerArguments": [_text(256)] * 100,
            "MetricDefinitions": [{"Name": _text(255), "Regex": _text(500)} for _ in range(40)],
        },
    )


def test_the_largest_valid_create_request_fits_well_under_the_limit() -> None:
    request = largest_create_request()
    shapes.validate("CreateTrainingJob", request)  # it really is valid
    # botocore sends ensure_ascii JSON.
    size = len(json.dumps(request, separators=(",", ":")).encode())
    assert size < limits.MAX_BODY_BYTES * 0.8, size


def test_the_largest_valid_create_request_passes_the_value_count() -> None:
    raw = json.dumps(largest_create_request(), separators=(",", ":")).encode()
    shapes.check_value_count(raw)


def test_millions_of_tiny_values_are_refused_before_decoding() -> None:
    """Issue 6: decoding 8 MB of `[],[],...` holds the GIL for half a second."""
    raw = b'{"TrainingJobName":"a","X":[' + b",".join([b"[]"] * 2_000_000) + b"]}"
    with pytest.raises(shapes.ShapeSerializationError, match="more than 50000 JSON values"):
        shapes.check_value_count(raw)


def test_separators_inside_strings_are_not_values() -> None:
    raw = json.dumps({"HyperParameters": {"a": '[{,"\\' * 200_000}}).encode()
    shapes.check_value_count(raw)
