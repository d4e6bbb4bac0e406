"""When an event happened, as a sender writes it: the one rule every ingest time is read by.

**Text** is ISO 8601: ``YYYY-MM-DD``, optionally followed by ``T`` (or a space) and ``hh:mm``,
``hh:mm:ss`` or ``hh:mm:ss.fff`` (1 to 9 digits of fraction, after a dot or a comma), then
optionally ``Z`` or an offset ``+hh:mm``, ``+hhmm`` or ``+hh`` (or ``-``). No offset means
UTC. The year is 1970 to 9999.

**Numbers** (JSON numbers, and the digits of a form or query value) are epoch times, and the
unit is told by the size, because the same instant is about 1.4e9 in seconds and 1.4e12 in
milliseconds:

- below 1e11 (which, in seconds, is the year 5138): epoch **seconds**;
- from 1e11 up to, not including, 1e14 (the year 5138 in milliseconds): epoch **milliseconds**;
- either way the instant must be in 2000 or later.

Every other number is refused (``EventTimeError("epoch")``, which names this rule): a
negative one, 1e14 and more (microseconds, nanoseconds), and one that lands before 2000. The
two readings overlap only there: a number below 1e11 read as milliseconds would be before
March 1973, and one from 1e11 read as seconds after the year 5138, so no plausible time is
read in the wrong unit, while a small number (42, a counter, a duration in ms) is refused
rather than stored in 1970. Times before 2000 can still be sent as text.

How far ahead of or behind the server clock a time may be is a site's limit
(``HitLimits``), checked by the payload that holds the time, not here. Hits (JSON, batches,
beacons, forms, the pixel) are read by this rule through their definition
(``metronome.hits.definition``), and the numeric times of log records by ``epoch_time``
(``metronome.logs.bodies``). Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SECONDS_BELOW = 100_000_000_000  # 1e11: smaller numbers are epoch seconds
MILLIS_BELOW = 100_000_000_000_000  # 1e14: from SECONDS_BELOW up to this, epoch milliseconds
FIRST_SECOND = 946_684_800  # 2000-01-01T00:00:00Z: no epoch number may be earlier
FIRST_MILLI = FIRST_SECOND * 1000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

EPOCH_RULE = (
    "a number is epoch seconds below 1e11 and epoch milliseconds from 1e11 to below 1e14, "
    "and must be a time in 2000 or later"
)
MESSAGES = {
    "invalid": "Use an ISO-8601 date-time, or epoch seconds or milliseconds.",
    "range": "The time is before 1970 or after 9999.",
    "epoch": f"Not an epoch time: {EPOCH_RULE}. Send ISO-8601 text when in doubt.",
}


class EventTimeError(ValueError):
    """``kind`` is a key of ``MESSAGES``."""

    def __init__(self, kind: str) -> None:
        super().__init__(MESSAGES[kind])
        self.kind = kind


# --- the text grammar, in pieces: the check and the OpenAPI pattern are built from them ----

HOUR = "(?:[01][0-9]|2[0-3])"
MINUTE = "[0-5][0-9]"
FROM_1970 = "(?:19[7-9][0-9]|[2-9][0-9]{3})"
# The leap years from 1970: every fourth, but of the centuries only every fourth.
LEAP_FROM_1970 = (
    "(?:19(?:7[26]|8[048]|9[26])|[2-9][0-9](?:0[48]|[2468][048]|[13579][26])"
    "|(?:[2468][048]|[3579][26])00)"
)
# A day of the calendar from 1970 on: every month has 1-28, all but February 29 and 30, seven
# months 31, and February 29 only in a leap year.
DATE = (
    f"(?:{FROM_1970}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    "|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    f"|{LEAP_FROM_1970}-02-29)"
)
# ``$`` is written ``(?![\s\S])`` ("nothing follows") in patterns: in Python's ``re``, which
# JSON Schema validators in Python use, ``$`` also matches before a final newline.
END = r"(?![\s\S])"


def iso_text(exact: bool) -> str:
    """The text grammar as a regular expression (ECMA and Python alike), without anchors.

    ``exact``: every part in its range (a real calendar day from 1970, an hour 00-23...), for
    the schema. Else the shape alone, for the check, which leaves the ranges and the calendar
    to ``datetime.fromisoformat`` and words a year before 1970 as out of range.
    """
    two = "[0-9]{2}"
    date, hour, minute = (DATE, HOUR, MINUTE) if exact else (f"[0-9]{{4}}-{two}-{two}", two, two)
    offset = f"(?:[Zz]|[+-]{hour}(?::?{minute})?)"
    clock = f"{hour}:{minute}(?::{minute}(?:[.,][0-9]{{1,9}})?)?"
    return f"{date}(?:[Tt ]{clock}{offset}?)?"


def anchored(expression: str) -> str:
    return f"^{expression}{END}"


_ISO_SHAPE = re.compile(iso_text(exact=False))  # fullmatch
EVENT_TEXT_PATTERN = anchored(iso_text(exact=True))


def parse_event_time(value: Any) -> datetime:
    """An event time in UTC, or ``EventTimeError``: ISO text or an epoch number, as above."""
    kind = type(value)
    if kind is str:
        if _ISO_SHAPE.fullmatch(value) is None:
            raise EventTimeError("invalid")
        try:  # the grammar holds the shape; this, the ranges and the calendar (no 30 February)
            moment = datetime.fromisoformat(value.replace("z", "Z"))
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            elif moment.tzinfo is not UTC:
                moment = moment.astimezone(UTC)
        except ValueError:
            raise EventTimeError("invalid") from None
        except OverflowError:  # 9999-12-31T23:59:59-01:00 is later than any UTC datetime
            raise EventTimeError("range") from None
        if moment.year < 1970:  # 1970-01-01T00:30:00+01:00 too
            raise EventTimeError("range")
        return moment
    if kind is int or kind is float:  # not a bool
        return epoch_time(value)
    raise EventTimeError("invalid")


def epoch_time(number: float) -> datetime:
    """The instant of an epoch number by the rule above, or ``EventTimeError("epoch")``."""
    if not math.isfinite(number):
        raise EventTimeError("invalid")
    # timedelta is exact to the microsecond: number / 1000 as a float is not, near 1e14.
    if FIRST_SECOND <= number < SECONDS_BELOW:
        return EPOCH + timedelta(seconds=number)
    if FIRST_MILLI <= number < MILLIS_BELOW:
        return EPOCH + timedelta(milliseconds=number)
    raise EventTimeError("epoch")


def epoch_schemas() -> list[dict[str, Any]]:
    """The numbers the rule reads, as JSON Schema (OpenAPI 3.1): seconds, then milliseconds."""
    return [
        {
            "type": "number",
            "minimum": low,
            "exclusiveMaximum": below,
            "description": f"epoch {unit} ({EPOCH_RULE})",
            "example": example,
        }
        for low, below, unit, example in (
            (FIRST_SECOND, SECONDS_BELOW, "seconds", 1445900000),
            (FIRST_MILLI, MILLIS_BELOW, "milliseconds", 1445900000123),
        )
    ]


@dataclass(frozen=True)
class TimeFormat:
    """How a payload's time field may be written: the check and the schema come from it."""

    parse: Callable[[Any], datetime]  # raises EventTimeError
    schema: dict[str, Any]


EVENT_TIME = TimeFormat(
    parse=parse_event_time,
    schema={
        "oneOf": [
            {
                "type": "string",
                "pattern": EVENT_TEXT_PATTERN,
                "description": "ISO 8601 from 1970 on; no offset means UTC",
                "example": "2015-10-26T22:53:20Z",
            },
            *epoch_schemas(),
        ]
    },
)
