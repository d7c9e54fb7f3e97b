"""Cutting a job log into CloudWatch events, timing them from the supervisor's marks, and tokens."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from trainplane.api.cloudwatch_logs import streams
from trainplane.domain import errors
from trainplane.service.ports import LogMarks

NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_lines_are_events_timed_by_the_first_mark_covering_their_end() -> None:
    data = b"one\ntwo\nthree\n"
    marks = LogMarks(len(data), ((4, 100.0), (14, 101.5)), 101.5)
    got = list(streams.events(data, 0, marks, is_final=False, now=NOW))
    assert [(e.message, e.timestamp_ms, e.start, e.end) for e in got] == [
        ("one", 100_000, 0, 4),
        ("two", 101_500, 4, 8),
        ("three", 101_500, 8, 14),
    ]


def test_bytes_past_the_last_mark_take_the_files_last_write_time() -> None:
    marks = LogMarks(8, ((4, 100.0),), 107.0)
    assert [e.timestamp_ms for e in streams.events(b"one\ntwo\n", 0, marks, is_final=False, now=NOW)] == [
        100_000,
        107_000,
    ]


def test_an_unfinished_line_waits_for_its_newline_unless_the_log_is_final() -> None:
    marks = LogMarks(9, (), 100.0)
    assert [e.message for e in streams.events(b"done\npart", 0, marks, is_final=False, now=NOW)] == ["done"]
    assert [e.message for e in streams.events(b"done\npart", 0, marks, is_final=True, now=NOW)] == [
        "done",
        "part",
    ]


def test_a_line_longer_than_an_event_is_cut_into_several() -> None:
    line = b"x" * (streams.MAX_EVENT_BYTES + 10) + b"\n"
    got = list(streams.events(line, 0, LogMarks(len(line), (), 1.0), is_final=False, now=NOW))
    assert [len(e.message) for e in got] == [streams.MAX_EVENT_BYTES, 10]


def test_offsets_count_from_the_window_base_and_bad_bytes_are_replaced() -> None:
    (event,) = streams.events(b"\xffok\r\n", 100, LogMarks(105, (), 1.0), is_final=False, now=NOW)
    assert (event.start, event.end, event.message) == (100, 105, "\ufffdok")


def test_the_first_offset_at_a_time_skips_only_what_was_written_before_it() -> None:
    marks = LogMarks(30, ((10, 100.0), (20, 200.0), (30, 300.0)), 300.0)
    assert streams.first_offset_at(marks, 150_000) == 10
    assert streams.first_offset_at(marks, 50_000) == 0
    assert streams.first_offset_at(marks, 999_000) == 30


@pytest.mark.parametrize(
    "token", ["", "f/", "x/1", "f/-1", "f/1e3", "f/\u0661", "f/" + "9" * 19, "b/" + "1" * 20]
)
def test_bad_tokens_are_invalid(token: str) -> None:
    with pytest.raises(errors.Invalid, match="nextToken"):
        streams.parse_token(token)


def test_stream_names_name_their_job() -> None:
    assert streams.job_name_of("my-job/algo-1-1796090000") == "my-job"
    for bad in ("my-job", "/algo-1-1", "my-job/algo-2-1"):
        with pytest.raises(errors.NotFound):
            streams.job_name_of(bad)
