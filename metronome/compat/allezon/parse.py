"""Query parameters of ``/user_profiles`` and ``/aggregates`` -> ``ProfileQuery`` /
``AggregatesQuery``, or an ``ApiError`` (400 / 422) naming the parameter."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from werkzeug.datastructures import MultiDict

from metronome.compat.allezon.model import (
    AGGREGATES,
    DEFAULT_LIMIT,
    FILTERS,
    MAX_AGGREGATE_RANGE,
    MAX_LIMIT,
    AggregatesQuery,
    ProfileQuery,
)
from metronome.compat.allezon.tag import ACTIONS, MAX_TEXT
from metronome.errors import ApiError

# A UTC time to the second or millisecond, Z optional, years 0001 to 9999. TIME_RANGE_PATTERN
# (in /openapi.json) names only days every year has; the service also takes February 29, which
# it refuses (400) in a year without one.
_YEAR = r"(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_CLOCK = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{3})?"
RANGE_TIME = rf"({_YEAR}-(?:{_MONTH_DAY}|02-29)T{_CLOCK})Z?"
TIME_RANGE_PATTERN = rf"{_YEAR}-{_MONTH_DAY}T{_CLOCK}Z?_{_YEAR}-{_MONTH_DAY}T{_CLOCK}Z?"
TIME_RANGE = re.compile(rf"{RANGE_TIME}_{RANGE_TIME}")
TIME_RANGE_EXAMPLE = "2022-03-22T12:15:00.000_2022-03-22T12:30:00.000"


def parse_profile(cookie: str, args: MultiDict[str, str]) -> ProfileQuery:
    start, end = parse_time_range(single(args, "time_range"))
    limit = parse_limit(single(args, "limit"))
    if len(cookie) > MAX_TEXT:
        raise ApiError(400, "invalid_cookie", f"A cookie has at most {MAX_TEXT} characters.")
    return ProfileQuery(cookie, start, end, limit)


def parse_time_range(text: str | None) -> tuple[datetime, datetime]:
    """``<from>_<to>``, UTC without ``Z`` (tolerated), milliseconds optional; from < to."""
    if not text:
        raise ApiError(
            400,
            "invalid_time_range",
            f"time_range is required: <from>_<to> in UTC, e.g. {TIME_RANGE_EXAMPLE}.",
            "time_range",
        )
    match = TIME_RANGE.fullmatch(text)
    try:
        if match is None:
            raise ValueError
        start, end = (datetime.fromisoformat(part).replace(tzinfo=UTC) for part in match.groups())
    except ValueError:
        raise ApiError(
            400,
            "invalid_time_range",
            f"time_range={text[:80]!r} is not <from>_<to> in UTC, e.g. {TIME_RANGE_EXAMPLE}.",
            "time_range",
        ) from None
    if start >= end:
        raise ApiError(
            422, "invalid_range", "time_range: from must be earlier than to.", "time_range"
        )
    return start, end


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    # Leading zeros are dropped before the length check, so neither a long number nor a short
    # one padded with zeros is converted whole.
    digits = text.lstrip("0")
    if (
        not text.isascii()
        or not text.isdigit()
        or len(digits) > len(str(MAX_LIMIT))
        or not 1 <= int(digits or "0") <= MAX_LIMIT
    ):
        raise ApiError(
            400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}.", "limit"
        )
    return int(digits)


def parse_aggregates(args: MultiDict[str, str]) -> AggregatesQuery:
    start, end = parse_time_range(single(args, "time_range"))
    if end - start > MAX_AGGREGATE_RANGE:
        raise ApiError(
            422,
            "range_too_long",
            "time_range: aggregates cover at most 10 minutes.",
            "time_range",
        )
    if start.second or start.microsecond or end.second or end.microsecond:
        raise ApiError(
            422,
            "invalid_range",
            "time_range: aggregates count whole minutes; start and end on a minute.",
            "time_range",
        )
    action = single(args, "action")
    if action not in ACTIONS:
        raise ApiError(400, "invalid_action", "action must be VIEW or BUY.", "action")
    aggregates = tuple(args.getlist("aggregates"))
    if not aggregates or any(name not in AGGREGATES for name in aggregates):
        raise ApiError(
            400,
            "invalid_aggregates",
            "aggregates must be given once or more, each COUNT or SUM_PRICE.",
            "aggregates",
        )
    filters: list[tuple[str, str]] = []
    for name in FILTERS:
        value = single(args, name)
        if value is None:
            continue
        if not 0 < len(value) <= MAX_TEXT:
            raise ApiError(
                400, f"invalid_{name}", f"{name} must be 1 to {MAX_TEXT} characters.", name
            )
        filters.append((name, value))
    return AggregatesQuery(start, end, action, tuple(filters), aggregates)


def single(args: MultiDict[str, str], name: str) -> str | None:
    """A parameter given at most once (the last of several would be a silent guess)."""
    values = args.getlist(name)
    if len(values) > 1:
        raise ApiError(
            400, "duplicate_parameter", f"The parameter {name!r} is sent more than once.", name
        )
    return values[0] if values else None
