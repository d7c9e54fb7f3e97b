"""The supervisor's log marks, with real inotify on a real file: timely, throttled, carried on."""

from __future__ import annotations

import itertools
import selectors
import time
from pathlib import Path

from tests.support.waiting import wait_until
from trainplane.executors.supervisor import log_index


def _append(path: Path, text: str) -> None:
    with path.open("a") as log:
        log.write(text)


def _wait_and_handle(
    writer: log_index.LogIndexWriter, selector: selectors.BaseSelector, seconds: float
) -> None:
    for key, _ in selector.select(seconds):
        if key.fd == writer.fileno():
            writer.on_modified()
    writer.on_timer()


def test_a_write_is_marked_with_its_size_and_time(tmp_path: Path) -> None:
    log, index = tmp_path / "job.log", tmp_path / "job.log.index"
    selector = selectors.DefaultSelector()
    writer = log_index.watched(log, index, selector)
    assert writer.fileno() is not None, "inotify is available on Linux"
    before = time.time()
    _append(log, "first\n")
    _wait_and_handle(writer, selector, 5)
    marks = log_index.read_marks(log, index)
    assert marks.size == 6 and len(marks.marks) == 1
    size, at = marks.marks[0]
    assert size == 6 and before - 0.001 <= at <= time.time() + 0.001  # stored to the millisecond
    assert marks.written_at(6) == at
    writer.close()


def test_a_burst_is_marked_at_most_every_interval_and_its_end_is_not_lost(tmp_path: Path) -> None:
    log, index = tmp_path / "job.log", tmp_path / "job.log.index"
    selector = selectors.DefaultSelector()
    writer = log_index.watched(log, index, selector)
    for number in range(50):  # faster than the interval: most wake-ups are throttled
        _append(log, f"line {number}\n")
        _wait_and_handle(writer, selector, 0)
    # The last writes fell inside the interval: the timer marks them once it has passed.
    wait_until(
        lambda: (
            _wait_and_handle(writer, selector, 0.05)
            or log_index.read_marks(log, index).marks[-1][0] == log.stat().st_size
        ),
        5,
        message="the burst's end is marked",
    )
    marks = log_index.read_marks(log, index).marks
    times = [at for _, at in marks]
    assert all(
        later - earlier >= log_index.MIN_INTERVAL_SECONDS * 0.9
        for earlier, later in itertools.pairwise(times)
    )
    writer.close()


def test_a_successor_carries_on_the_same_index(tmp_path: Path) -> None:
    log, index = tmp_path / "job.log", tmp_path / "job.log.index"
    log.write_text("a\n")
    index.write_text("2 100.0\n")
    successor = log_index.LogIndexWriter(log, index)
    successor.mark()  # nothing grew since the lost supervisor's last mark
    assert log_index.read_marks(log, index).marks == ((2, 100.0),)
    _append(log, "b\n")
    successor.mark()
    assert [size for size, _ in log_index.read_marks(log, index).marks] == [2, 4]
    successor.close()


def test_a_torn_last_line_of_the_index_is_ignored(tmp_path: Path) -> None:
    log, index = tmp_path / "job.log", tmp_path / "job.log.index"
    log.write_text("abc\n")
    index.write_text("2 100.0\n4 1796090000.\n3")  # a crash cut the last append short
    assert log_index.read_marks(log, index).marks == ((2, 100.0), (4, 1796090000.0))
    index.write_text("2 100.0\n4 x\n")
    assert log_index.read_marks(log, index).marks == ((2, 100.0),)
