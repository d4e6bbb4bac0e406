"""Parse ``from`` / ``to`` / ``tz`` parameters into aware datetimes. Pure functions only.

Accepted instants: ``2015-01-22`` (midnight in ``tz``), ``2015-01-22T13:05[:07]`` (in
``tz``), the same with ``Z`` or an offset, epoch milliseconds, and relative expressions
``now``, ``now-30d``, ``now+1h``, ``now-1M/M`` (units s m h d w M y; ``/unit`` rounds down
to the start of that unit in ``tz``, as in Elasticsearch date math).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metronome.errors import ApiError
from metronome.query.calendar import Interval, add_months, floor

RELATIVE = re.compile(r"^now(?:([+-])(\d{1,6})([smhdwMy]))?(?:/([smhdwMy]))?$")
ROUNDING: dict[str, Interval | None] = {
    "s": None,
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "M": "month",
    "y": "year",
}


def parse_tz(name: str | None) -> ZoneInfo:
    if not name:
        return ZoneInfo("UTC")
    if len(name) > 64 or ".." in name or name.startswith("/"):
        raise ApiError(400, "invalid_tz", f"{name[:64]!r} is not an IANA time zone.", field="tz")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            400, "invalid_tz", f"{name!r} is not an IANA time zone (e.g. Europe/Warsaw).", "tz"
        ) from None


def parse_instant(text: str, tz: ZoneInfo, now: datetime, field: str) -> datetime:
    """One instant, as an aware datetime in ``tz``; ``ApiError`` naming ``field`` otherwise."""
    text = text.strip()
    match = RELATIVE.match(text)
    if match:
        return _relative(match, tz, now)
    if text.isdigit() and len(text) >= 9:
        try:
            return datetime.fromtimestamp(int(text) / 1000, tz)
        except (OverflowError, OSError, ValueError):
            pass
    else:
        try:
            moment = datetime.fromisoformat(text.replace("z", "Z"))
        except ValueError:
            moment = None
        if moment is not None and 1 <= moment.year <= 9998:
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=tz)
            return moment.astimezone(tz)
    raise ApiError(
        400,
        "invalid_date",
        f"{field}={text[:64]!r} is not a date: use 2015-01-22, 2015-01-22T13:05, "
        "an ISO date-time with offset, epoch milliseconds, or now-30d.",
        field=field,
    )


def _relative(match: re.Match[str], tz: ZoneInfo, now: datetime) -> datetime:
    sign, amount, unit, rounding = match.groups()
    moment = now.astimezone(tz)
    if unit:
        count = int(amount) * (-1 if sign == "-" else 1)
        if unit in "My":
            months = count * (12 if unit == "y" else 1)
            shifted = add_months(moment.date(), months)
            moment = moment.replace(year=shifted.year, month=shifted.month, day=shifted.day)
        elif unit in "dw":  # calendar days: wall-clock time is kept across a DST change
            days = count * (7 if unit == "w" else 1)
            wall = moment.replace(tzinfo=None) + timedelta(days=days)
            moment = wall.replace(tzinfo=tz)
        else:
            seconds = {"s": 1, "m": 60, "h": 3600}[unit]
            moment = (moment.astimezone(UTC) + timedelta(seconds=seconds * count)).astimezone(tz)
    if rounding:
        interval = ROUNDING[rounding]
        moment = floor(moment, interval, tz) if interval else moment.replace(microsecond=0)
    return moment
