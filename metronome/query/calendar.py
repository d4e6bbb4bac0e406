"""Calendar arithmetic for time buckets, in any IANA time zone. Pure functions only.

Bucket keys (docs/api.md section 4.1): minute ``2015-01-22T13:05+01:00``, hour
``2015-01-22T13:00+01:00``, day ``2015-01-22``, ISO week ``2015-W04`` (weeks start on Monday),
month ``2015-01``, quarter ``2015-Q1``, year ``2015``.

Days and longer step through the local calendar (a day across a DST change is 23 or 25
hours); minutes and hours step through absolute time, labelled in local time with the UTC
offset: the hour a zone repeats when it falls back is two buckets with two labels
(``01:00-04:00`` then ``01:00-05:00``), and the hour it skips in spring is no bucket at all.

Bucket starts are handed out in UTC. Two aware datetimes in the same zone compare by their
wall-clock time, fold ignored, so the two starts of a repeated hour would be one dict key;
in UTC they are two.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Interval = Literal["minute", "hour", "day", "week", "month", "quarter", "year"]
INTERVALS: tuple[Interval, ...] = ("minute", "hour", "day", "week", "month", "quarter", "year")
FIXED = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1)}


def floor(moment: datetime, interval: Interval, tz: ZoneInfo) -> datetime:
    """The start of the bucket holding ``moment``, as an aware datetime in ``tz``."""
    local = moment.astimezone(tz)
    if interval == "minute":
        return local.replace(second=0, microsecond=0)
    if interval == "hour":
        return local.replace(minute=0, second=0, microsecond=0)
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())
    elif interval == "month":
        day = day.replace(day=1)
    elif interval == "quarter":
        day = day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    elif interval == "year":
        day = day.replace(month=1, day=1)
    return _local_midnight(day, tz)


def step(start: datetime, interval: Interval, tz: ZoneInfo, count: int = 1) -> datetime:
    """The bucket start ``count`` buckets after ``start`` (itself a bucket start)."""
    if interval in FIXED:
        # Aware arithmetic in one zone is wall-clock arithmetic in Python; go through UTC.
        return (start.astimezone(UTC) + FIXED[interval] * count).astimezone(tz)
    day = start.astimezone(tz).date()
    if interval == "day":
        day += timedelta(days=count)
    elif interval == "week":
        day += timedelta(weeks=count)
    else:
        months = {"month": 1, "quarter": 3, "year": 12}[interval] * count
        day = add_months(day, months)
    return _local_midnight(day, tz)


def add_months(day: date, months: int) -> date:
    """Same day of month ``months`` later, clamped to the month's last day (Jan 31 + 1 = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = _days_in_month(year, month + 1)
    return date(year, month + 1, min(day.day, last))


def bucket_starts(
    start: datetime, end: datetime, interval: Interval, tz: ZoneInfo, limit: int
) -> list[datetime]:
    """Every bucket start from the bucket holding ``start`` up to (not including) ``end``.

    Raises ``ValueError`` when there would be more than ``limit`` buckets.
    """
    buckets: list[datetime] = []
    for bucket in iter_buckets(start, end, interval, tz):
        if len(buckets) == limit:
            raise ValueError(f"more than {limit} {interval} buckets")
        buckets.append(bucket)
    return buckets


def iter_buckets(
    start: datetime, end: datetime, interval: Interval, tz: ZoneInfo
) -> Iterator[datetime]:
    current = floor(start, interval, tz)
    end_utc = end.astimezone(UTC)
    while current.astimezone(UTC) < end_utc:
        yield current.astimezone(UTC)
        current = step(current, interval, tz)


# names of the zone that is UTC all year (the tz database's aliases of Etc/UTC)
UTC_NAMES = frozenset(
    {"UTC", "Etc/UTC", "UCT", "Etc/UCT", "Universal", "Etc/Universal", "Zulu", "Etc/Zulu",
     "GMT", "Etc/GMT", "GMT0", "Etc/GMT0", "GMT+0", "Etc/GMT+0", "GMT-0", "Etc/GMT-0",
     "Greenwich", "Etc/Greenwich"}
)  # fmt: skip


def is_utc(tz: ZoneInfo) -> bool:
    """Whether ``tz`` is UTC all year: every local midnight is a UTC midnight."""
    return getattr(tz, "key", None) in UTC_NAMES


def bucket_key(start: datetime, interval: Interval, tz: ZoneInfo) -> str:
    local = start.astimezone(tz)
    if interval in FIXED:
        return local.isoformat(timespec="minutes")
    if interval == "day":
        return local.strftime("%Y-%m-%d")
    if interval == "week":
        year, week, _ = local.isocalendar()
        return f"{year:04d}-W{week:02d}"
    if interval == "month":
        return local.strftime("%Y-%m")
    if interval == "quarter":
        return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"
    return f"{local.year:04d}"


def _local_midnight(day: date, tz: ZoneInfo) -> datetime:
    # A zone whose clocks jump at midnight has no 00:00 that day; zoneinfo then resolves
    # to the instant after the gap, as Elasticsearch's rounding does.
    naive = datetime.combine(day, time.min)
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(tz) if _exists(naive, tz) else _after_gap(naive, tz)


def _exists(naive: datetime, tz: ZoneInfo) -> bool:
    aware = naive.replace(tzinfo=tz)
    return aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None) == naive


def _after_gap(naive: datetime, tz: ZoneInfo) -> datetime:
    probe = naive
    for _ in range(4 * 24):
        probe += timedelta(minutes=15)
        if _exists(probe, tz):
            return probe.replace(tzinfo=tz)
    return naive.replace(tzinfo=tz)


def _days_in_month(year: int, month: int) -> int:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (following - timedelta(days=1)).day
