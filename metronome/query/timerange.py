"""Parse ``from`` / ``to`` / ``tz`` parameters into aware datetimes. Pure functions only.

Accepted instants: ``2015-01-22`` (midnight in ``tz``), ``2015-01-22T13:05[:07[.123]]`` (in
``tz``), the same with ``Z`` or an offset ``+01:00``, epoch milliseconds (9 to 14 digits), and
relative expressions ``now``, ``now-30d``, ``now+1h``, ``now-1M/M`` (units s m h d w M y;
``/unit`` rounds down to the start of that unit in ``tz``, as in Elasticsearch date math).

Text outside that grammar is refused with 400 ``invalid_date``; text in it that names no
instant from year 1 to 9998 (``now-999999y``, ``9999-12-31T23:00:00-05:00``) with 422
``impossible_date``. ``INSTANT_SCHEMA`` and ``time_zone_schema()`` describe both parameters in
``/openapi.json``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from metronome.errors import ApiError
from metronome.query.calendar import Interval, add_months, floor

RELATIVE_PATTERN = r"now(?:([+-])([0-9]{1,6})([smhdwMy]))?(?:/([smhdwMy]))?"
EPOCH_MILLIS_PATTERN = r"[0-9]{9,14}"
DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:[Tt][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]+)?)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2})?)?"
)
RELATIVE = re.compile(RELATIVE_PATTERN)
EPOCH_MILLIS = re.compile(EPOCH_MILLIS_PATTERN)
# A date, a date-time, now-30d, or epoch milliseconds. The RFC 3339 formats stand for the
# absolute forms; the service also takes a date-time without seconds or offset (read in tz).
INSTANT_SCHEMA: dict[str, Any] = {
    "type": "string",
    "anyOf": [
        {"format": "date"},
        {"format": "date-time"},
        {"pattern": f"^{RELATIVE_PATTERN}$"},
        {"pattern": f"^{EPOCH_MILLIS_PATTERN}$"},
    ],
}
ROUNDING: dict[str, Interval | None] = {
    "s": None,
    "m": "minute",
    "h": "hour",
    "d": "day",
    "w": "week",
    "M": "month",
    "y": "year",
}


# Names in the IANA database that Elasticsearch (java.time) refuses in a date_histogram: the
# tz database's own placeholders and the legacy names Java's copy leaves out.
NOT_IN_JAVA = frozenset(
    {"Factory", "localtime", "posixrules", "EST", "MST", "HST", "ROC", "GMT+0", "GMT-0"}
)


@cache
def time_zone_names() -> tuple[str, ...]:
    """The IANA zone names this machine knows, less those Elasticsearch refuses: exactly what
    ``parse_tz`` accepts."""
    return tuple(sorted(available_timezones() - NOT_IN_JAVA))


def time_zone_schema() -> dict[str, Any]:
    return {"type": "string", "enum": list(time_zone_names()), "default": "UTC"}


def parse_tz(name: str | None) -> ZoneInfo:
    """The zone ``name`` (absent: UTC), one of ``time_zone_names()``; 400 otherwise."""
    if name is None:
        return ZoneInfo("UTC")
    if len(name) > 64 or ".." in name or name.startswith("/"):
        raise ApiError(400, "invalid_tz", f"{name[:64]!r} is not an IANA time zone.", field="tz")
    try:
        if name not in time_zone_names():
            raise ZoneInfoNotFoundError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ApiError(
            400, "invalid_tz", f"{name!r} is not an IANA time zone (e.g. Europe/Warsaw).", "tz"
        ) from None


def parse_instant(text: str, tz: ZoneInfo, now: datetime, field: str) -> datetime:
    """One instant, as an aware datetime in ``tz``; ``ApiError`` naming ``field`` otherwise."""
    try:
        moment = _instant(text, tz, now)
        representable = moment is None or 1 <= moment.year <= 9998
    except (OverflowError, OSError, ValueError):
        representable = False  # in the grammar, but before year 1 or after 9998
    if not representable:
        raise ApiError(
            422,
            "impossible_date",
            f"{field}={text[:64]!r} is not an instant between the years 1 and 9998.",
            field=field,
        )
    if moment is not None:
        return moment
    raise ApiError(
        400,
        "invalid_date",
        f"{field}={text[:64]!r} is not a date: use 2015-01-22, 2015-01-22T13:05, "
        "an ISO date-time with offset, epoch milliseconds, or now-30d.",
        field=field,
    )


def _instant(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    """The instant ``text`` names, None outside the grammar; raises when it names none."""
    match = RELATIVE.fullmatch(text)
    if match:
        return _relative(match, tz, now)
    if EPOCH_MILLIS.fullmatch(text):
        return datetime.fromtimestamp(int(text) / 1000, tz)
    if not DATE_TIME.fullmatch(text):
        return None
    try:
        moment = datetime.fromisoformat(text.upper())
    except ValueError:
        return None  # no such month, day, hour...: not a date at all
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(tz)


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
