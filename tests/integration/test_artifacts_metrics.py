"""Final metrics from a real log file, and FailureReason from output/failure."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from trainplane.artifacts import metrics
from trainplane.artifacts.layout import JobLayout
from trainplane.artifacts.metrics import final_metrics, read_failure_reason
from trainplane.domain.job import Metric, MetricDefinition

AT = datetime(2026, 5, 1, tzinfo=UTC)
LOSS = MetricDefinition("train_loss", r"train_loss=([0-9.]+)")
ACCURACY = MetricDefinition("val_accuracy", r"val_accuracy=([0-9.]+)")


def test_the_last_match_wins(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("".join(f"epoch={i} train_loss={1 / i:.4f} val_accuracy=0.{i}000\n" for i in range(1, 10)))
    assert final_metrics(log, [LOSS, ACCURACY], AT) == (
        Metric("train_loss", 0.1111, AT),
        Metric("val_accuracy", 0.9, AT),
    )


def test_a_definition_that_never_matches_is_omitted(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("epoch=1 train_loss=0.5\n")
    assert final_metrics(log, [ACCURACY, LOSS], AT) == (Metric("train_loss", 0.5, AT),)


def test_malformed_numbers_are_skipped_for_the_last_good_one(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("val_accuracy=0.5\nval_accuracy=0.7\nval_accuracy=1.2.3\nval_accuracy=.\n")
    assert final_metrics(log, [ACCURACY], AT) == (Metric("val_accuracy", 0.7, AT),)


def test_a_regex_without_a_group_uses_the_whole_match_and_a_bad_regex_is_ignored(tmp_path: Path) -> None:
    log = tmp_path / "log"
    log.write_text("loss 3.5e-2 here\n")
    definitions = [MetricDefinition("loss", r"[0-9.]+e-[0-9]+"), MetricDefinition("bad", r"(unclosed")]
    assert final_metrics(log, definitions, AT) == (Metric("loss", 0.035, AT),)


def test_no_log_gives_no_metrics(tmp_path: Path) -> None:
    assert final_metrics(tmp_path / "missing", [LOSS], AT) == ()


def test_matches_across_chunk_boundaries_and_long_lines_are_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "CHUNK_BYTES", 64)
    log = tmp_path / "log"
    lines = ["x" * 200 + " train_loss=0.25\n", "noise " * 40 + "\n", "val_accuracy=0.75 " + "y" * 150 + "\n"]
    log.write_text("".join(lines) + "tail without newline")
    assert final_metrics(log, [LOSS, ACCURACY], AT) == (
        Metric("train_loss", 0.25, AT),
        Metric("val_accuracy", 0.75, AT),
    )


def test_a_100_mb_log_is_read_fast(tmp_path: Path) -> None:
    log = tmp_path / "big.log"
    line = b"step=123456 some framework chatter that is not a metric at all, padded out......\n"
    block = line * (1 << 14)
    with log.open("wb") as sink:
        sink.write(b"epoch=0 train_loss=9.9 val_accuracy=0.1\n")
        while sink.tell() < 100 << 20:
            sink.write(block)
        sink.write(b"epoch=99 train_loss=0.0123 val_accuracy=0.9876\n")
    started = time.monotonic()
    found = final_metrics(log, [LOSS, ACCURACY], AT)
    elapsed_seconds = time.monotonic() - started
    assert found == (Metric("train_loss", 0.0123, AT), Metric("val_accuracy", 0.9876, AT))
    assert elapsed_seconds < 1.0
    # The worst case, a metric found only at the very start, still streams the whole file.
    started = time.monotonic()
    assert final_metrics(log, [MetricDefinition("first", r"epoch=0 train_loss=([0-9.]+)")], AT) == (
        Metric("first", 9.9, AT),
    )
    assert time.monotonic() - started < 10.0


def test_failure_reason_is_the_first_1024_characters_stripped(tmp_path: Path) -> None:
    layout = JobLayout(tmp_path / "base")
    layout.create()
    assert read_failure_reason(layout) is None
    layout.failure_file.write_text("   \n")
    assert read_failure_reason(layout) is None
    layout.failure_file.write_text("\n  ValueError: epochs must be positive " + "x" * 2000)
    reason = read_failure_reason(layout)
    assert reason is not None and reason.startswith("ValueError: epochs must be positive")
    assert len(reason) == 1024 - 3
