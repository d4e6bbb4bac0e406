"""When digests are due and which period they cover: local calendars, DST changes, month ends,
and catching up after downtime without a burst."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from metronome.config import DigestSettings
from metronome.digests.schedule import (
    Period,
    due_at,
    due_period,
    last_full_period,
    period_so_far,
)

WARSAW = ZoneInfo("Europe/Warsaw")


def digest(**options: Any) -> DigestSettings:
    return DigestSettings(name="d", **{"to": ("a@example.org",), **options})


def local(text: str, tz: ZoneInfo = WARSAW) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=tz)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def walk(d: DigestSettings, start: datetime, end: datetime, every: timedelta) -> list[Any]:
    """Run the schedule every ``every`` from ``start`` to ``end``, up to date at ``start``:
    (sent at, period) pairs."""
    sent: list[tuple[datetime, Period]] = []
    before = due_period(start, d, None)
    assert before is not None
    last: datetime | None = before.start
    now = start + every
    while now <= end:
        period = due_period(now, d, last)
        if period is not None:
            sent.append((now, period))
            last = period.start
        now += every
    return sent


def test_a_weekly_digest_lands_on_monday_0800_local_across_the_october_dst_change() -> None:
    # 2026-10-25 03:00 CEST -> 02:00 CET: the week of Oct 19-25 is 169 hours long.
    weekly = digest(schedule="weekly", tz="Europe/Warsaw", time="08:00")
    sent = walk(weekly, utc("2026-10-13T00:00"), utc("2026-11-03T00:00"), timedelta(minutes=5))
    assert [at.astimezone(WARSAW) for at, _ in sent] == [
        local("2026-10-19T08:00"),
        local("2026-10-26T08:00"),
        local("2026-11-02T08:00"),
    ]
    assert [at for at, _ in sent] == [
        utc("2026-10-19T06:00"), utc("2026-10-26T07:00"), utc("2026-11-02T07:00"),
    ]  # fmt: skip
    _, across = sent[1]
    start, end = across.local(WARSAW)
    assert (start, end) == (local("2026-10-19T00:00"), local("2026-10-26T00:00"))
    assert across.end - across.start == timedelta(hours=169)
    assert start.weekday() == 0 and end.weekday() == 0


def test_a_weekly_digest_on_another_weekday_covers_the_previous_monday_to_sunday() -> None:
    friday = digest(schedule="weekly", weekday="friday", time="17:45", tz="America/New_York")
    new_york = ZoneInfo("America/New_York")
    sent = walk(friday, utc("2026-03-01T00:00"), utc("2026-03-22T00:00"), timedelta(minutes=15))
    # 2026-03-08: the US springs forward; Friday 17:45 local is 22:45 UTC, then 21:45 UTC.
    assert [at for at, _ in sent] == [
        utc("2026-03-06T22:45"), utc("2026-03-13T21:45"), utc("2026-03-20T21:45"),
    ]  # fmt: skip
    for at, period in sent:
        start, end = period.local(new_york)
        assert start.weekday() == 0 and (end - start).days == 7
        assert end.date() <= at.astimezone(new_york).date()
        assert (at.astimezone(new_york).date() - end.date()).days == 4  # Monday + 4


def test_a_daily_digest_at_0230_across_the_spring_forward_night() -> None:
    # 2026-03-29 02:00 CET -> 03:00 CEST: 02:30 does not exist that day; it moves forward.
    daily = digest(schedule="daily", time="02:30", tz="Europe/Warsaw")
    sent = walk(daily, utc("2026-03-27T00:00"), utc("2026-03-31T12:00"), timedelta(minutes=5))
    assert [at.astimezone(WARSAW).isoformat() for at, _ in sent] == [
        "2026-03-27T02:30:00+01:00",
        "2026-03-28T02:30:00+01:00",
        "2026-03-29T03:30:00+02:00",  # 02:30 read with the offset before the change
        "2026-03-30T02:30:00+02:00",
        "2026-03-31T02:30:00+02:00",
    ]
    days = {period.start.astimezone(WARSAW).date().isoformat(): period for _, period in sent}
    short = days["2026-03-29"]  # the day of the change has 23 hours
    assert short.end - short.start == timedelta(hours=23)
    assert sent[2][1].start.astimezone(WARSAW) == local("2026-03-28T00:00")


def test_a_repeated_local_time_is_its_first_occurrence() -> None:
    # 2026-10-25: 02:00-03:00 happens twice in Warsaw; the digest goes at the first 02:30.
    daily = digest(schedule="daily", time="02:30", tz="Europe/Warsaw")
    period = last_full_period(utc("2026-10-25T12:00"), "daily", WARSAW)
    assert due_at(period, daily) == utc("2026-10-25T00:30")  # 02:30+02:00, not +01:00


@pytest.mark.parametrize(
    ("day", "when"),
    [
        (1, ["2026-01-01T08:00", "2026-02-01T08:00", "2026-03-01T08:00", "2026-04-01T08:00"]),
        (28, ["2026-01-28T08:00", "2026-02-28T08:00", "2026-03-28T08:00", "2026-04-28T08:00"]),
        ("last", ["2026-01-31T08:00", "2026-02-28T08:00", "2026-03-31T08:00", "2026-04-30T08:00"]),
    ],
)
def test_monthly_digests_at_month_ends(day: Any, when: list[str]) -> None:
    monthly = digest(schedule="monthly", day=day, tz="Europe/Warsaw")
    sent = walk(monthly, utc("2025-12-31T12:00"), utc("2026-05-01T00:00"), timedelta(hours=1))
    assert [at.astimezone(WARSAW) for at, _ in sent] == [local(text) for text in when]
    for at, period in sent:
        start, end = period.local(WARSAW)
        assert start.day == 1 and end.day == 1 and start.hour == 0 and end.hour == 0
        assert (end.month - start.month) % 12 == 1
        assert end.month == at.astimezone(WARSAW).month  # the previous calendar month


def test_a_leap_february_and_its_last_day() -> None:
    monthly = digest(schedule="monthly", day="last", time="23:59")
    period = last_full_period(utc("2028-03-10T00:00"), "monthly", ZoneInfo("UTC"))
    assert (period.start, period.end) == (utc("2028-02-01T00:00"), utc("2028-03-01T00:00"))
    assert due_at(period, monthly) == utc("2028-03-31T23:59")
    assert due_period(utc("2028-03-31T23:58"), monthly, None) == Period(
        utc("2028-01-01T00:00"), utc("2028-02-01T00:00"), "monthly"
    )


def test_after_downtime_only_the_latest_missed_period_is_sent() -> None:
    daily = digest(schedule="daily", time="08:00")
    last_sent = utc("2026-05-01T00:00")  # the digest of May 1 went out on May 2
    # Down from May 2 09:00 to May 6 10:00: May 2, 3, 4 were missed; May 5 is the latest due.
    period = due_period(utc("2026-05-06T10:00"), daily, last_sent)
    assert period is not None and period.start == utc("2026-05-05T00:00")
    assert due_period(utc("2026-05-06T10:05"), daily, period.start) is None
    assert due_period(utc("2026-05-07T07:59"), daily, period.start) is None
    following = due_period(utc("2026-05-07T08:00"), daily, period.start)
    assert following is not None and following.start == utc("2026-05-06T00:00")


def test_before_its_time_the_previous_period_is_the_latest_due() -> None:
    weekly = digest(schedule="weekly", weekday="wednesday", time="09:00")
    # Tuesday: last week is over but its digest goes on Wednesday; the week before is due.
    period = due_period(utc("2026-06-09T12:00"), weekly, None)
    assert period is not None
    assert (period.start, period.end) == (utc("2026-05-25T00:00"), utc("2026-06-01T00:00"))
    assert due_period(utc("2026-06-09T12:00"), weekly, period.start) is None


def test_the_period_so_far() -> None:
    now = utc("2026-10-28T10:17")  # a Wednesday
    week = period_so_far(now, "weekly", WARSAW)
    assert week.start.astimezone(WARSAW) == local("2026-10-26T00:00")
    assert week.end == now and not week.complete
    month = period_so_far(now, "monthly", WARSAW)
    assert month.start.astimezone(WARSAW) == local("2026-10-01T00:00")
