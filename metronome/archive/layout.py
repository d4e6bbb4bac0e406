"""Where things are: object keys of archived days, index names, and which days are closed.

Pure functions; the keys are deterministic, so archiving a day again writes over the same
names instead of adding objects.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from metronome.config import Period
from metronome.es.naming import index_for

MANIFEST_NAME = "manifest.json"
PART_NAME = re.compile(r"part-(\d+)\.ndjson\.gz\Z")
_DAY_PATH = re.compile(r"(\d{4})/(\d{2})/(\d{2})/([^/]+)\Z")
_INDEX_DAY = re.compile(r"(\d{4})\.(\d{2})\.(\d{2})\Z")


def stream_prefix(key_prefix: str, stream: str) -> str:
    """``<key_prefix>/<stream>/`` (just ``<stream>/`` with an empty key prefix)."""
    return f"{key_prefix}/{stream}/" if key_prefix else f"{stream}/"


def day_prefix(key_prefix: str, stream: str, day: date) -> str:
    return f"{stream_prefix(key_prefix, stream)}{day:%Y/%m/%d}/"


def part_name(number: int) -> str:
    return f"part-{number}.ndjson.gz"


def part_number(name: str) -> int | None:
    match = PART_NAME.match(name)
    return int(match.group(1)) if match else None


def object_key(key_prefix: str, stream: str, day: date, name: str) -> str:
    """The key of ``name`` (a part or the manifest) in the folder of ``day``."""
    return day_prefix(key_prefix, stream, day) + name


def parse_key(key_prefix: str, stream: str, key: str) -> tuple[date, str] | None:
    """``(day, name)`` of an archive object of the stream, or None for any other key."""
    prefix = stream_prefix(key_prefix, stream)
    if not key.startswith(prefix):
        return None
    match = _DAY_PATH.match(key[len(prefix) :])
    if match is None:
        return None
    name = match.group(4)
    if name != MANIFEST_NAME and part_number(name) is None:
        return None
    try:
        day = date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None
    return day, name


@dataclass
class DayObjects:
    """What the bucket holds for one day: its manifest or not, and its part objects' sizes."""

    has_manifest: bool = False
    parts: dict[str, int] = field(default_factory=dict)  # part name -> size in bytes


def catalog(
    key_prefix: str, stream: str, objects: Iterable[tuple[str, int]]
) -> dict[date, DayObjects]:
    """The archive objects of a listing ``(key, size)`` grouped by day; other keys ignored."""
    days: dict[date, DayObjects] = {}
    for key, size in objects:
        parsed = parse_key(key_prefix, stream, key)
        if parsed is None:
            continue
        day, name = parsed
        entry = days.setdefault(day, DayObjects())
        if name == MANIFEST_NAME:
            entry.has_manifest = True
        else:
            entry.parts[name] = size
    return days


def index_name(index_prefix: str, stream: str, day: date, period: Period = "day") -> str:
    """The index ``day`` goes to at the stream's index ``period``, named as the shipper names
    it."""
    return index_for(index_prefix, stream, datetime.combine(day, time(), UTC), period)


def day_of_index(index_prefix: str, stream: str, index: str) -> date | None:
    """The day of a daily index name of the stream, or None for any other name."""
    head = f"{index_prefix}-{stream}-"
    if not index.startswith(head):
        return None
    match = _INDEX_DAY.match(index[len(head) :])
    if match is None:
        return None
    try:
        return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        return None


def is_closed(day: date, now: datetime, grace_seconds: float) -> bool:
    """True once the UTC day has ended and ``grace_seconds`` more have passed.

    The grace leaves time for what was sent before midnight to be shipped (a spool backlog)
    before the day is copied; what still arrives later makes the next run archive it again.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    end = datetime.combine(day + timedelta(days=1), time(), UTC)
    return now >= end + timedelta(seconds=grace_seconds)


def days_between(first: date, last: date) -> list[date]:
    """Every day from ``first`` to ``last``, both included."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]
