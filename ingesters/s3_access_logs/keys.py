"""Log object keys and the read cursor, without I/O.

Key layouts S3 delivers log objects under, after the configured prefix (S3's ``TargetPrefix``):

- ``simple``:      ``2019-02-06-00-12-34-0A1B2C3D4E5F6789``
- ``partitioned``: ``<account>/<region>/<bucket>/2019/02/06/2019-02-06-00-00-00-0A1B2C3D4E5F6789``

Both carry a day: the delivery day (simple, partitioned by DeliveryTime) or the day of the
events (partitioned by EventTime, whose file names all say ``00-00-00``). Within one listing
prefix, keys sort by that day, which is what lets a run list from a day on (``StartAfter``).

The cursor (``ReadState``) cannot be a single "last key": with EventTime partitions the file
names of one day differ only by a random string, so a file delivered later can sort before one
already read, and S3 delivers late anyway (hours, best-effort). Instead:

- ``since``: the first day still watched; days before it are finished and never listed again;
- ``read``: per watched day, the keys already read (relative to the prefix);
- ``partial``: a big object cut into several pages: its key and how many lines are stored.

``since`` trails the newest day read by ``lookback_days``: a file that turns up for a day
inside that window is still read, once; one later than that is missed (a back-fill of its days
picks it up). The window follows the logs' own days, not the clock, so a pause in logging does
not close it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

KeyFormat = Literal["simple", "partitioned"]
CURSOR_VERSION = 1

_STAMP = r"(?P<stamp>\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2})-(?P<unique>[^/]+)"
_SIMPLE = re.compile(_STAMP)
_PARTITIONED = re.compile(
    r"(?P<partition>[^/]+/[^/]+/[^/]+/)(?P<year>\d{4})/(?P<month>\d{2})/(?P<day>\d{2})/" + _STAMP
)
PARTITION_DEPTH = 3  # account / region / source bucket


class BadCursor(ValueError):
    """The stored cursor is not one this source wrote."""


@dataclass(frozen=True, order=True)
class LogObject:
    """A log object: ordered by its day, then key (the order a run reads them in)."""

    day: date
    key: str
    time: datetime = field(compare=False)  # from the key; the timestamp of unparsable lines


def parse_key(key: str, prefix: str, key_format: KeyFormat) -> LogObject | None:
    """The log object a key names, or None when the key is not a log object of this layout."""
    if not key.startswith(prefix):
        return None
    rest = key[len(prefix) :]
    if key_format == "simple":
        match = _SIMPLE.fullmatch(rest)
        if match is None:
            return None
        moment = _stamp_time(match["stamp"])
        return None if moment is None else LogObject(moment.date(), key, moment)
    match = _PARTITIONED.fullmatch(rest)
    if match is None:
        return None
    moment = _stamp_time(match["stamp"])
    try:
        day = date(int(match["year"]), int(match["month"]), int(match["day"]))
    except ValueError:
        return None
    if moment is None:
        return None
    return LogObject(day, key, moment)


def start_after(listing_prefix: str, day: date, key_format: KeyFormat) -> str:
    """A ``StartAfter`` that lists the keys of ``day`` and later under ``listing_prefix`` (the
    prefix, or one partition): it sorts after every earlier day and before ``day``'s keys."""
    if key_format == "simple":
        return f"{listing_prefix}{day:%Y-%m-%d}"
    return f"{listing_prefix}{day:%Y/%m/%d}"


def _stamp_time(stamp: str) -> datetime | None:
    try:
        return datetime.strptime(stamp, "%Y-%m-%d-%H-%M-%S").replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class Partial:
    key: str
    lines: int  # lines 1..lines are stored


@dataclass(frozen=True)
class ReadState:
    """What regular runs have read (see the module docstring); immutable, JSON round-trip."""

    prefix: str
    since: date | None = None  # None: nothing read yet, every day is listed
    read: Mapping[date, frozenset[str]] = field(default_factory=dict)
    partial: Partial | None = None

    @classmethod
    def from_cursor(cls, cursor: Mapping[str, Any], prefix: str) -> ReadState:
        if not cursor:
            return cls(prefix)
        try:
            if cursor.get("version") != CURSOR_VERSION:
                raise BadCursor(f"cursor version {cursor.get('version')!r}")
            if cursor.get("prefix") != prefix:
                # Names are stored relative to the prefix; another prefix means other logs.
                return cls(prefix)
            since = cursor.get("since")
            read = {
                date.fromisoformat(day): frozenset(str(name) for name in names)
                for day, names in dict(cursor.get("read") or {}).items()
            }
            partial = cursor.get("partial")
            return cls(
                prefix=prefix,
                since=date.fromisoformat(since) if since else None,
                read=read,
                partial=Partial(str(partial["key"]), int(partial["lines"])) if partial else None,
            )
        except (TypeError, ValueError, KeyError, AttributeError) as error:
            raise BadCursor(f"unreadable cursor ({type(error).__name__}: {error})") from None

    def to_cursor(self) -> dict[str, Any]:
        cursor: dict[str, Any] = {
            "version": CURSOR_VERSION,
            "prefix": self.prefix,
            "since": self.since.isoformat() if self.since else None,
            "read": {day.isoformat(): sorted(names) for day, names in sorted(self.read.items())},
        }
        if self.partial is not None:
            cursor["partial"] = {"key": self.partial.key, "lines": self.partial.lines}
        return cursor

    def has_read(self, log: LogObject) -> bool:
        if self.since is not None and log.day < self.since:
            return True
        return self._name(log) in self.read.get(log.day, frozenset())

    def lines_done(self, log: LogObject) -> int:
        """Lines of ``log`` already stored by a page of an unfinished object."""
        return self.partial.lines if self.partial and self.partial.key == log.key else 0

    def with_partial(self, log: LogObject, lines: int) -> ReadState:
        return replace(self, partial=Partial(log.key, lines))

    def with_read(self, log: LogObject, lookback_days: int) -> ReadState:
        """``log`` read to its end; the window moves on to trail the newest day read."""
        read = dict(self.read)
        read[log.day] = read.get(log.day, frozenset()) | {self._name(log)}
        newest = max(read)
        since = newest - timedelta(days=lookback_days)
        if self.since is not None:
            since = max(since, self.since)
        kept = {day: names for day, names in read.items() if day >= since}
        return replace(self, since=since, read=kept, partial=None)

    def _name(self, log: LogObject) -> str:
        return log.key[len(self.prefix) :] if log.key.startswith(self.prefix) else log.key
