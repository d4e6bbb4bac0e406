"""S3 log object keys (both layouts), listing bounds and the read cursor of the s3 source."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from ingesters.s3_access_logs.bucket import split_lines
from ingesters.s3_access_logs.keys import BadCursor, LogObject, ReadState, parse_key, start_after

PARTITION = "logs/123456789012/eu-west-1/shop-assets/"


def log(day: str, unique: str = "0A1B", prefix: str = "logs/") -> LogObject:
    found = parse_key(f"{prefix}{day}-00-00-00-{unique}", prefix, "simple")
    assert found is not None
    return found


def test_a_simple_key_names_its_delivery_time() -> None:
    found = parse_key("logs/2019-02-06-00-12-34-0A1B2C3D4E5F6789", "logs/", "simple")
    assert found == LogObject(
        date(2019, 2, 6),
        "logs/2019-02-06-00-12-34-0A1B2C3D4E5F6789",
        datetime(2019, 2, 6, 0, 12, 34, tzinfo=UTC),
    )
    assert found is not None and found.time == datetime(2019, 2, 6, 0, 12, 34, tzinfo=UTC)


def test_a_partitioned_key_names_its_day_from_the_path() -> None:
    key = f"{PARTITION}2024/05/01/2024-05-01-00-00-00-E1F2A3B4C5D6"
    found = parse_key(key, "logs/", "partitioned")
    assert found is not None
    assert (found.day, found.key, found.time) == (
        date(2024, 5, 1),
        key,
        datetime(2024, 5, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("key", "key_format"),
    [
        ("other/2019-02-06-00-12-34-0A1B", "simple"),  # another prefix
        ("logs/README.txt", "simple"),
        ("logs/2019-02-30-00-12-34-0A1B", "simple"),  # no such day
        ("logs/2019-02-06-00-12-34-0A1B/nested", "simple"),
        (f"{PARTITION}2024/05/01/2024-05-01-00-00-00-E1F2", "simple"),
        ("logs/2019-02-06-00-12-34-0A1B", "partitioned"),
        (f"{PARTITION}2024/13/01/2024-13-01-00-00-00-E1F2", "partitioned"),
        ("logs/123/eu-west-1/2024/05/01/2024-05-01-00-00-00-E1F2", "partitioned"),
    ],
)
def test_keys_that_are_not_log_objects_of_the_layout_are_skipped(key: str, key_format: str) -> None:
    assert parse_key(key, "logs/", key_format) is None  # type: ignore[arg-type]


def test_start_after_lists_the_day_and_later_in_both_layouts() -> None:
    after = start_after("logs/", date(2019, 2, 6), "simple")
    assert "logs/2019-02-05-23-59-59-FFFF" < after < "logs/2019-02-06-00-00-00-0000"
    after = start_after(PARTITION, date(2024, 5, 1), "partitioned")
    assert f"{PARTITION}2024/04/30/2024-04-30-00-00-00-ZZZZ" < after
    assert after < f"{PARTITION}2024/05/01/2024-05-01-00-00-00-0000"


def test_log_objects_sort_by_day_then_key() -> None:
    assert sorted([log("2024-05-02", "A"), log("2024-05-01", "B"), log("2024-05-01", "A")]) == [
        log("2024-05-01", "A"),
        log("2024-05-01", "B"),
        log("2024-05-02", "A"),
    ]


def test_an_empty_cursor_has_read_nothing() -> None:
    state = ReadState.from_cursor({}, "logs/")
    assert state.since is None and not state.has_read(log("2001-01-01"))


def test_reading_moves_the_window_to_trail_the_newest_day() -> None:
    state = ReadState("logs/")
    for day in ("2024-05-01", "2024-05-02", "2024-05-06"):
        state = state.with_read(log(day), lookback_days=3)
    assert state.since == date(2024, 5, 3)
    assert set(state.read) == {date(2024, 5, 6)}
    assert state.has_read(log("2024-05-01", "never-seen"))  # before the window: finished
    assert state.has_read(log("2024-05-06"))
    assert not state.has_read(log("2024-05-06", "late"))  # within the window: still awaited
    assert not state.has_read(log("2024-05-04", "late"))


def test_a_late_object_for_an_earlier_day_is_read_once() -> None:
    state = ReadState("logs/").with_read(log("2024-05-05"), 3)
    late = log("2024-05-03", "LATE")
    assert not state.has_read(late)
    state = state.with_read(late, 3)
    assert state.has_read(late) and state.since == date(2024, 5, 2)


def test_the_window_never_moves_back() -> None:
    state = ReadState("logs/").with_read(log("2024-05-10"), 1).with_read(log("2024-05-09"), 1)
    assert state.since == date(2024, 5, 9)
    state = state.with_read(log("2024-05-10", "B"), 5)
    assert state.since == date(2024, 5, 9)


def test_the_cursor_round_trips_through_json_and_keeps_a_partial_object() -> None:
    state = ReadState("logs/").with_read(log("2024-05-01"), 3).with_partial(log("2024-05-02"), 500)
    cursor = state.to_cursor()
    assert cursor == {
        "version": 1,
        "prefix": "logs/",
        "since": "2024-04-28",
        "read": {"2024-05-01": ["2024-05-01-00-00-00-0A1B"]},
        "partial": {"key": "logs/2024-05-02-00-00-00-0A1B", "lines": 500},
    }
    again = ReadState.from_cursor(cursor, "logs/")
    assert again == state
    assert again.lines_done(log("2024-05-02")) == 500 and again.lines_done(log("2024-05-01")) == 0
    assert again.with_read(log("2024-05-02"), 3).partial is None


def test_a_cursor_for_another_prefix_starts_over() -> None:
    cursor = ReadState("logs/").with_read(log("2024-05-01"), 3).to_cursor()
    assert ReadState.from_cursor(cursor, "other/") == ReadState("other/")


@pytest.mark.parametrize(
    "cursor",
    [
        {"version": 99},
        {"version": 1, "prefix": "logs/", "since": "yesterday"},
        {"version": 1, "prefix": "logs/", "read": ["2024-05-01"]},
        {"version": 1, "prefix": "logs/", "partial": {"key": "k"}},
    ],
)
def test_a_cursor_this_source_did_not_write_is_refused(cursor: dict[str, object]) -> None:
    with pytest.raises(BadCursor):
        ReadState.from_cursor(cursor, "logs/")


def test_lines_are_split_on_newlines_across_chunks() -> None:
    chunks = [b"first line\r\nsec", b"ond \xff line\n", b"", b"last without newline"]
    assert list(split_lines(chunks)) == [
        "first line",
        "second \\xff line",
        "last without newline",
    ]
    assert list(split_lines([b"a\n\nb\n"])) == ["a", "", "b"]
