"""The grace tag takes a plain number of seconds, nothing Python's float() would also read."""

from __future__ import annotations

import pytest

from trainplane.domain import errors
from trainplane.service.admission import GRACE_TAG, MAX_GRACE_SECONDS, parse_grace_tag


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("300", 300.0), ("2.5", 2.5), ("007", 7.0)])
def test_plain_decimals_are_seconds(value: str, seconds: float) -> None:
    assert parse_grace_tag(value) == seconds


@pytest.mark.parametrize(
    "value",
    [
        "1_0",
        " 5",
        "5 ",
        "1e2",
        "inf",
        "nan",
        "-1",
        "+3",
        "",
        "0x10",
        "٣",
        "1.",
        ".5",
        str(MAX_GRACE_SECONDS + 1),
    ],
)
def test_anything_else_is_refused_naming_the_tag(value: str) -> None:
    with pytest.raises(errors.Invalid, match=GRACE_TAG):
        parse_grace_tag(value)
