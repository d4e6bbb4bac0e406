"""Index names. Each document goes to the index of its own ``@timestamp`` (UTC) at its stream's
index period (``storage.index_periods``): ``<prefix>-<stream>-YYYY.MM.DD`` (day),
``-YYYY.MM`` (month) or ``-YYYY`` (year).

Writers name an index with ``index_for`` (or ``index_for_day`` from a spooled day label), so
one function decides the layout. Reads name what can hold their range with
``indices_for_range``, which names the candidates of every period: while a migration moves a
stream from one period to another, both kinds of index exist, and a read stays right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from metronome.config.storage import PERIODS, Period

STREAM_PATTERN = "abcdefghijklmnopqrstuvwxyz0123456789_"
_LABEL = re.compile(r"(\d{4})(?:\.(\d{2})(?:\.(\d{2}))?)?\Z")


def period_label(timestamp: datetime, period: Period) -> str:
    """``YYYY.MM.DD``, ``YYYY.MM`` or ``YYYY`` of the UTC time ``timestamp`` falls in."""
    if timestamp.tzinfo is None:
        raise ValueError("timestamp must be timezone-aware")
    moment = timestamp.astimezone(UTC)
    if period == "day":
        return f"{moment:%Y.%m.%d}"
    if period == "month":
        return f"{moment:%Y.%m}"
    return f"{moment:%Y}"


def day_label_in(day: str, period: Period) -> str:
    """The label of the period a ``YYYY.MM.DD`` day label falls in (a slice: the shipper's
    hot path)."""
    if period == "day":
        return day
    return day[:7] if period == "month" else day[:4]


def index_for(prefix: str, stream: str, timestamp: datetime, period: Period = "day") -> str:
    """The index a document of ``stream`` stamped ``timestamp`` goes to at ``period``. Every
    writer passes its stream's period (``StorageSettings.period_of``); left out, it is the
    daily index (the layout before index periods, which reads still find)."""
    return f"{prefix}-{stream}-{period_label(timestamp, period)}"


def index_for_day(prefix: str, stream: str, day: str, period: Period) -> str:
    """The index of a document of the UTC day ``day`` (``YYYY.MM.DD``) at ``period``."""
    return f"{prefix}-{stream}-{day_label_in(day, period)}"


def stream_pattern(prefix: str, stream: str) -> str:
    """The wildcard that covers every index of one stream, whatever its period."""
    return f"{prefix}-{stream}-*"


def is_valid_stream(stream: str) -> bool:
    return 0 < len(stream) <= 32 and all(c in STREAM_PATTERN for c in stream)


@dataclass(frozen=True)
class IndexSpan:
    """What a stream index covers: its period and ``[start, end)`` in UTC."""

    name: str
    period: Period
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def period_start(moment: date, period: Period) -> date:
    if period == "day":
        return moment
    if period == "month":
        return moment.replace(day=1)
    return moment.replace(month=1, day=1)


def period_end(start: date, period: Period) -> date:
    """The first day after the period that begins on ``start``."""
    if period == "day":
        return start + timedelta(days=1)
    if period == "month":
        return date(start.year + start.month // 12, start.month % 12 + 1, 1)
    return date(start.year + 1, 1, 1)


def parse_index(prefix: str, stream: str, name: str) -> IndexSpan | None:
    """The span of an index of ``stream``, or None for a name that is none of its periods."""
    head = f"{prefix}-{stream}-"
    if not name.startswith(head):
        return None
    match = _LABEL.match(name[len(head) :])
    if match is None:
        return None
    year, month, day = match.groups()
    period: Period = "day" if day else "month" if month else "year"
    try:
        start = date(int(year), int(month or 1), int(day or 1))
    except ValueError:
        return None
    end = period_end(start, period)
    return IndexSpan(name, period, _midnight(start), _midnight(end))


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


# Index names travel in the URL of a search, and Elasticsearch refuses a request line over 4 KB
# (http.max_initial_line_length): a range of centuries reads the stream's wildcard instead.
MAX_NAMED_CHARS = 2000


def indices_for_range(
    prefix: str, stream: str, start: datetime, end: datetime, max_named: int = 62
) -> str:
    """What a read of ``[start, end)`` names, comma-separated: every index of any period that
    can hold part of the range. A whole year is one wildcard (``<stream>-YYYY*``: the year's
    index, its months' and its days'), a whole month too (``<stream>-YYYY.MM*``); a partial
    month names its own index, its year's and each of its days. More than ``max_named`` single
    days, names longer than ``MAX_NAMED_CHARS`` in all, or an empty range, read the stream's
    wildcard instead.

    Naming the range spares Elasticsearch a visit to every other index (search them with
    ``ignore_unavailable``: a quiet day has no index, and a stream kept by month has no daily
    ones)."""
    first = start.astimezone(UTC).date()
    last = (end.astimezone(UTC) - timedelta(milliseconds=1)).date()
    if last < first:
        return stream_pattern(prefix, stream)
    head = f"{prefix}-{stream}-"
    names: list[str] = []
    days = 0
    for year in range(first.year, last.year + 1):
        year_first = max(first, date(year, 1, 1))
        year_last = min(last, date(year, 12, 31))
        if (year_first, year_last) == (date(year, 1, 1), date(year, 12, 31)):
            names.append(f"{head}{year}*")
            continue
        names.append(f"{head}{year}")
        month = year_first.replace(day=1)
        while month <= year_last:
            month_last = period_end(month, "month") - timedelta(days=1)
            span_first, span_last = max(year_first, month), min(year_last, month_last)
            if (span_first, span_last) == (month, month_last):
                names.append(f"{head}{month:%Y.%m}*")
            else:
                names.append(f"{head}{month:%Y.%m}")
                count = (span_last - span_first).days + 1
                days += count
                names.extend(
                    f"{head}{span_first + timedelta(days=n):%Y.%m.%d}" for n in range(count)
                )
            month = period_end(month, "month")
    named = ",".join(names)
    if days > max_named or len(named) > MAX_NAMED_CHARS:
        return stream_pattern(prefix, stream)
    return named


__all__ = [
    "MAX_NAMED_CHARS",
    "PERIODS",
    "IndexSpan",
    "Period",
    "day_label_in",
    "index_for",
    "index_for_day",
    "indices_for_range",
    "is_valid_stream",
    "parse_index",
    "period_end",
    "period_label",
    "period_start",
    "stream_pattern",
]
