"""When a digest is sent and which period it covers (pure).

Periods are local to the digest's zone: a daily digest covers yesterday (midnight to midnight,
23 or 25 hours across a DST change), a weekly one the previous Monday-to-Sunday week, a
monthly one the previous calendar month. A period is sent once it is over, at the digest's
local ``time`` on the first day it may be sent: the next day (daily), the first ``weekday`` of
the following week (weekly), the ``day`` of the following month (monthly; "last" is that
month's last day).

Local times that a DST change skips or repeats: a time the clocks skip (02:30 on the night
they spring forward from 02:00 to 03:00) is read with the offset before the change, so it
moves forward by the gap (03:30); a time they repeat (02:30 on the night they fall back) is
its first occurrence.

``due_period`` decides what to send now: the latest period whose time has come, unless it was
already sent. After downtime only that latest period is sent, never the ones missed before it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from metronome.config.digests import LAST_DAY, WEEKDAYS, DigestSettings, Schedule
from metronome.query.calendar import Interval, add_months, floor, step

INTERVAL: dict[Schedule, Interval] = {"daily": "day", "weekly": "week", "monthly": "month"}


@dataclass(frozen=True)
class Period:
    """``[start, end)`` as aware UTC instants; ``complete`` is false for a period so far
    (``metronome digest send --now``)."""

    start: datetime
    end: datetime
    schedule: Schedule
    complete: bool = True

    def local(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        return self.start.astimezone(tz), self.end.astimezone(tz)


def period_containing(moment: datetime, schedule: Schedule, tz: ZoneInfo) -> Period:
    """The (whole) period that holds ``moment``."""
    interval = INTERVAL[schedule]
    start = floor(moment, interval, tz)
    end = step(start, interval, tz)
    return Period(start.astimezone(UTC), end.astimezone(UTC), schedule)


def previous_period(period: Period, tz: ZoneInfo) -> Period:
    """The whole period just before ``period``."""
    interval = INTERVAL[period.schedule]
    start = step(period.start.astimezone(tz), interval, tz, -1)
    return Period(start.astimezone(UTC), period.start, period.schedule)


def last_full_period(now: datetime, schedule: Schedule, tz: ZoneInfo) -> Period:
    """The latest period that is over at ``now`` (yesterday, last week, last month)."""
    return previous_period(period_containing(now, schedule, tz), tz)


def period_so_far(now: datetime, schedule: Schedule, tz: ZoneInfo) -> Period:
    """From the start of the current period up to ``now`` (today, this week, this month so
    far); it is compared with as long a stretch just before it."""
    current = period_containing(now, schedule, tz)
    return Period(current.start, now.astimezone(UTC), schedule, complete=False)


def send_day(period: Period, digest: DigestSettings) -> date:
    """The local day on which ``period`` is sent."""
    tz = digest.zone
    first = period.end.astimezone(tz).date()  # the day after the period (a period ends at 00:00)
    if digest.schedule == "daily":
        return first
    if digest.schedule == "weekly":
        return first + timedelta(days=WEEKDAYS.index(digest.weekday))
    if digest.day == LAST_DAY:
        return add_months(first.replace(day=1), 1) - timedelta(days=1)
    return first.replace(day=int(digest.day))


def local_instant(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """``day`` at ``hour:minute`` local, as an aware UTC instant. A skipped local time is read
    with the offset before the change (it moves forward by the gap); a repeated one is its
    first occurrence (``fold=0`` in both cases)."""
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def due_at(period: Period, digest: DigestSettings) -> datetime:
    """The instant (UTC) at which ``period`` is sent."""
    hour, minute = digest.hour_minute
    return local_instant(send_day(period, digest), hour, minute, digest.zone)


def latest_due(now: datetime, digest: DigestSettings) -> Period:
    """The latest period whose send time is not after ``now``."""
    tz = digest.zone
    candidate = last_full_period(now, digest.schedule, tz)
    # A period is sent after it ends, and at the latest within the following period, so the
    # one before the last full period is always due.
    while due_at(candidate, digest) > now:
        candidate = previous_period(candidate, tz)
    return candidate


def due_period(now: datetime, digest: DigestSettings, last_sent: datetime | None) -> Period | None:
    """The period to send at ``now``: the latest due one, unless a period starting at or after
    it was already sent (``last_sent``: the start of the latest period sent, None: none yet).
    Periods missed before the latest one are not sent."""
    period = latest_due(now, digest)
    if last_sent is not None and last_sent >= period.start:
        return None
    return period
