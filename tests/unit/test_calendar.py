from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from metronome.query.calendar import add_months, bucket_key, bucket_starts, floor, step

UTC_ZONE = ZoneInfo("UTC")
WARSAW = ZoneInfo("Europe/Warsaw")


@pytest.mark.parametrize(
    ("interval", "key"),
    [
        ("minute", "2015-01-22T13:05+00:00"),
        ("hour", "2015-01-22T13:00+00:00"),
        ("day", "2015-01-22"),
        ("week", "2015-W04"),
        ("month", "2015-01"),
        ("quarter", "2015-Q1"),
        ("year", "2015"),
    ],
)
def test_bucket_keys_follow_the_api(interval: str, key: str) -> None:
    moment = datetime(2015, 1, 22, 13, 5, 7, tzinfo=UTC)
    start = floor(moment, interval, UTC_ZONE)  # type: ignore[arg-type]
    assert bucket_key(start, interval, UTC_ZONE) == key  # type: ignore[arg-type]


def test_iso_week_of_early_january_belongs_to_the_previous_year() -> None:
    start = floor(datetime(2021, 1, 2, tzinfo=UTC), "week", UTC_ZONE)
    assert start.date() == date(2020, 12, 28)  # a Monday
    assert bucket_key(start, "week", UTC_ZONE) == "2020-W53"


def test_quarter_floor_and_step() -> None:
    start = floor(datetime(2015, 8, 17, tzinfo=UTC), "quarter", UTC_ZONE)
    assert start.date() == date(2015, 7, 1)
    assert step(start, "quarter", UTC_ZONE).date() == date(2015, 10, 1)


def test_day_buckets_follow_local_midnight_across_dst() -> None:
    # Warsaw moves clocks forward on 2015-03-29: that day is 23 hours long.
    start = datetime(2015, 3, 28, tzinfo=WARSAW)
    end = datetime(2015, 3, 31, tzinfo=WARSAW)
    buckets = bucket_starts(start, end, "day", WARSAW, limit=10)
    assert [bucket_key(b, "day", WARSAW) for b in buckets] == [
        "2015-03-28",
        "2015-03-29",
        "2015-03-30",
    ]
    length = buckets[2].astimezone(UTC) - buckets[1].astimezone(UTC)
    assert length.total_seconds() == 23 * 3600


def test_the_repeated_autumn_hour_is_two_buckets_with_two_labels() -> None:
    # 2015-10-25 03:00 CEST becomes 02:00 CET: local 02:xx happens twice.
    start = datetime(2015, 10, 25, 0, tzinfo=UTC)  # 02:00 CEST
    end = datetime(2015, 10, 25, 3, tzinfo=UTC)  # 04:00 CET
    buckets = bucket_starts(start, end, "hour", WARSAW, limit=10)
    assert [bucket_key(b, "hour", WARSAW) for b in buckets] == [
        "2015-10-25T02:00+02:00",
        "2015-10-25T02:00+01:00",
        "2015-10-25T03:00+01:00",
    ]
    # Distinct dict keys, as every caller uses them (in the zone they would compare equal).
    assert len(set(buckets)) == 3


def test_the_skipped_spring_hour_is_no_bucket() -> None:
    start = datetime(2015, 3, 29, 0, tzinfo=UTC)  # 01:00 CET
    end = datetime(2015, 3, 29, 2, tzinfo=UTC)  # 04:00 CEST
    keys = [bucket_key(b, "hour", WARSAW) for b in bucket_starts(start, end, "hour", WARSAW, 10)]
    assert keys == ["2015-03-29T01:00+01:00", "2015-03-29T03:00+02:00"]


def test_month_steps_keep_calendar_months() -> None:
    start = floor(datetime(2015, 1, 31, 12, tzinfo=UTC), "month", UTC_ZONE)
    months = [start]
    for _ in range(3):
        months.append(step(months[-1], "month", UTC_ZONE))
    assert [bucket_key(m, "month", UTC_ZONE) for m in months] == [
        "2015-01",
        "2015-02",
        "2015-03",
        "2015-04",
    ]


def test_add_months_clamps_to_the_last_day() -> None:
    assert add_months(date(2015, 1, 31), 1) == date(2015, 2, 28)
    assert add_months(date(2016, 1, 31), 1) == date(2016, 2, 29)
    assert add_months(date(2015, 3, 15), -3) == date(2014, 12, 15)


def test_bucket_starts_include_the_partial_first_bucket_and_exclude_the_end() -> None:
    start = datetime(2015, 1, 1, 12, tzinfo=UTC)
    end = datetime(2015, 1, 4, tzinfo=UTC)
    keys = [bucket_key(b, "day", UTC_ZONE) for b in bucket_starts(start, end, "day", UTC_ZONE, 10)]
    assert keys == ["2015-01-01", "2015-01-02", "2015-01-03"]


def test_bucket_limit_is_enforced() -> None:
    start = datetime(2015, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="more than 5"):
        bucket_starts(start, datetime(2015, 1, 10, tzinfo=UTC), "day", UTC_ZONE, limit=5)
