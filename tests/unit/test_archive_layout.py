"""Archive object keys, index names and closed days: pure functions."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from metronome.archive import layout

DAY = date(2024, 3, 1)


def test_keys_are_deterministic_per_stream_and_day() -> None:
    assert layout.object_key("metronome", "hits", DAY, layout.part_name(0)) == (
        "metronome/hits/2024/03/01/part-0.ndjson.gz"
    )
    assert layout.object_key("a/b", "logs", date(2024, 12, 9), layout.MANIFEST_NAME) == (
        "a/b/logs/2024/12/09/manifest.json"
    )


def test_an_empty_key_prefix_puts_streams_at_the_bucket_root() -> None:
    assert layout.object_key("", "hits", DAY, layout.part_name(12)) == (
        "hits/2024/03/01/part-12.ndjson.gz"
    )
    assert layout.parse_key("", "hits", "hits/2024/03/01/part-12.ndjson.gz") == (
        DAY,
        "part-12.ndjson.gz",
    )


@pytest.mark.parametrize("name", ["part-0.ndjson.gz", "part-17.ndjson.gz", "manifest.json"])
def test_parse_key_reads_back_day_and_name(name: str) -> None:
    key = layout.object_key("metronome", "hits", DAY, name)
    assert layout.parse_key("metronome", "hits", key) == (DAY, name)


@pytest.mark.parametrize(
    "key",
    [
        "metronome/logs/2024/03/01/part-0.ndjson.gz",  # another stream
        "metronome/hitsx/2024/03/01/part-0.ndjson.gz",  # a stream that starts the same
        "other/hits/2024/03/01/part-0.ndjson.gz",  # another prefix
        "metronome/hits/2024/02/30/part-0.ndjson.gz",  # no such day
        "metronome/hits/2024/03/01/part-x.ndjson.gz",
        "metronome/hits/2024/03/01/part-0.ndjson",
        "metronome/hits/2024/03/01/notes.txt",
        "metronome/hits/2024/03/01/sub/part-0.ndjson.gz",
        "metronome/hits/2024/3/1/part-0.ndjson.gz",
    ],
)
def test_parse_key_ignores_everything_else(key: str) -> None:
    assert layout.parse_key("metronome", "hits", key) is None


def test_catalog_groups_parts_and_manifests_by_day() -> None:
    objects = [
        ("m/hits/2024/03/01/part-0.ndjson.gz", 10),
        ("m/hits/2024/03/01/part-1.ndjson.gz", 20),
        ("m/hits/2024/03/01/manifest.json", 5),
        ("m/hits/2024/03/02/part-0.ndjson.gz", 30),
        ("m/hits/2024/03/02/README", 1),
        ("m/logs/2024/03/02/manifest.json", 1),
    ]
    days = layout.catalog("m", "hits", objects)
    assert set(days) == {DAY, date(2024, 3, 2)}
    assert days[DAY].has_manifest
    assert days[DAY].parts == {"part-0.ndjson.gz": 10, "part-1.ndjson.gz": 20}
    assert not days[date(2024, 3, 2)].has_manifest
    assert days[date(2024, 3, 2)].parts == {"part-0.ndjson.gz": 30}


def test_index_names_are_the_shippers_zero_padded_daily_names() -> None:
    assert layout.index_name("metronome", "hits", date(2024, 3, 1)) == "metronome-hits-2024.03.01"
    assert layout.day_of_index("metronome", "hits", "metronome-hits-2024.03.01") == DAY


@pytest.mark.parametrize(
    "index",
    [
        "metronome-logs-2024.03.01",
        "other-hits-2024.03.01",
        "metronome-hits-2024.13.01",
        "metronome-hits-2024.03.01-restored",
        "metronome-hits-2024.3.1",
        "metronome-hits-latest",
    ],
)
def test_other_index_names_have_no_day(index: str) -> None:
    assert layout.day_of_index("metronome", "hits", index) is None


@pytest.mark.parametrize(
    ("now", "grace", "closed"),
    [
        (datetime(2024, 3, 1, 23, 59, 59, tzinfo=UTC), 0, False),  # the day itself
        (datetime(2024, 3, 2, 0, 0, 0, tzinfo=UTC), 0, True),  # ended, no grace
        (datetime(2024, 3, 2, 0, 59, 59, tzinfo=UTC), 3600, False),  # within the grace
        (datetime(2024, 3, 2, 1, 0, 0, tzinfo=UTC), 3600, True),
        (datetime(2024, 3, 3, 0, 30, tzinfo=UTC), 3600, True),
        (datetime.fromisoformat("2024-03-02T01:30:00+02:00"), 0, False),  # 23:30 UTC on the 1st
    ],
)
def test_a_day_is_closed_once_it_ended_in_utc_and_the_grace_passed(
    now: datetime, grace: float, closed: bool
) -> None:
    assert layout.is_closed(DAY, now, grace) is closed


def test_closed_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        layout.is_closed(DAY, datetime(2024, 3, 5), 0)


def test_days_between_includes_both_ends() -> None:
    assert layout.days_between(date(2024, 2, 28), date(2024, 3, 1)) == [
        date(2024, 2, 28),
        date(2024, 2, 29),
        date(2024, 3, 1),
    ]
    assert layout.days_between(DAY, DAY) == [DAY]
    assert layout.days_between(DAY, date(2024, 2, 1)) == []
