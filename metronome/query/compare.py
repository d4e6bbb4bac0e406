"""Period-over-period comparison: which range to compare with, and which bucket matches which.

- ``previous``: the range of the same length just before (a calendar month before a calendar
  month, N days before N days), buckets matched by position (the 1st with the 1st);
- ``week`` / ``month`` / ``year``: the range shifted by that calendar unit, each bucket
  matched with the bucket holding the same wall-clock moment a week / month / year earlier
  (Mar 31 -> Feb 28: months of different lengths clamp to the last day);
- ``custom``: any range, buckets matched by position.

Pure functions; ``tz`` is the query's zone, so a "day" is a local day.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from metronome.query.calendar import Interval, add_months, floor
from metronome.query.model import CompareMode, TimeRange

SHIFT_MONTHS = {"month": 1, "year": 12}


def shift(moment: datetime, mode: CompareMode, tz: ZoneInfo) -> datetime:
    """The same wall-clock moment one week / month / year earlier."""
    local = moment.astimezone(tz)
    if mode == "week":
        wall = local.replace(tzinfo=None) - timedelta(days=7)
        return wall.replace(tzinfo=tz)
    months = SHIFT_MONTHS[mode]
    day = add_months(local.date(), -months)
    return local.replace(year=day.year, month=day.month, day=day.day)


def compare_range(main: TimeRange, mode: CompareMode, tz: ZoneInfo) -> TimeRange:
    if mode in ("week", "month", "year"):
        return TimeRange(shift(main.start, mode, tz), shift(main.end, mode, tz))
    if mode == "previous":
        return TimeRange(_previous_start(main, tz), main.start)
    raise ValueError("a custom comparison names its own range")


def _previous_start(main: TimeRange, tz: ZoneInfo) -> datetime:
    start, end = main.start.astimezone(tz), main.end.astimezone(tz)
    if _is_month_start(start) and _is_month_start(end):
        months = (end.year - start.year) * 12 + end.month - start.month
        day = add_months(start.date(), -months)
        return start.replace(year=day.year, month=day.month, day=day.day)
    if _is_midnight(start) and _is_midnight(end):
        days = (end.date() - start.date()).days
        wall = start.replace(tzinfo=None) - timedelta(days=days)
        return wall.replace(tzinfo=tz)
    return (start.astimezone(UTC) - (end.astimezone(UTC) - start.astimezone(UTC))).astimezone(tz)


def bucket_pairs(
    main_buckets: Sequence[datetime],
    compare_buckets: Sequence[datetime],
    mode: CompareMode,
    interval: Interval,
    tz: ZoneInfo,
) -> dict[datetime, datetime | None]:
    """For each main bucket start, the compare bucket start it is matched with."""
    if mode in ("previous", "custom"):
        return {
            bucket: compare_buckets[i] if i < len(compare_buckets) else None
            for i, bucket in enumerate(main_buckets)
        }
    return {
        bucket: floor(shift(bucket, mode, tz), interval, tz).astimezone(UTC)
        for bucket in main_buckets
    }


def change_percent(current: float | None, previous: float | None) -> float | None:
    """Relative change in percent, rounded to 0.1; None when there is nothing to compare."""
    if current is None or previous is None or previous == 0:
        return None
    return round((current - previous) / abs(previous) * 100, 1)


def _is_midnight(moment: datetime) -> bool:
    return (moment.hour, moment.minute, moment.second, moment.microsecond) == (0, 0, 0, 0)


def _is_month_start(moment: datetime) -> bool:
    return moment.day == 1 and _is_midnight(moment)
