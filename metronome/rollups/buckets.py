"""Bucket arithmetic of the rollup job: UTC hours and days, the late-data window, and runs of
buckets merged into ranges. Pure functions: no I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Literal

Grain = Literal["hour", "day"]
GRAINS: tuple[Grain, ...] = ("hour", "day")
STEP: dict[Grain, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}

Span = tuple[datetime, datetime]  # [start, end), both on the grain's boundaries


def floor(moment: datetime, grain: Grain) -> datetime:
    """The start of the UTC ``grain`` bucket holding ``moment``."""
    if moment.tzinfo is None:
        raise ValueError("moment must be timezone-aware")
    utc = moment.astimezone(UTC)
    if grain == "hour":
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil(moment: datetime, grain: Grain) -> datetime:
    """The first bucket boundary at or after ``moment``."""
    start = floor(moment, grain)
    return start if start == moment.astimezone(UTC) else start + STEP[grain]


def window_start(now: datetime, late_window: timedelta) -> datetime:
    """The first bucket the job still recomputes: the UTC day that ``late_window`` before
    ``now`` falls in (so a day bucket and its hours are in the window or out of it together)."""
    return floor(now - late_window, "day")


def merge(starts: Iterable[datetime], grain: Grain) -> list[Span]:
    """Bucket starts (any order, repeats allowed) as the fewest ``[start, end)`` ranges."""
    step = STEP[grain]
    spans: list[Span] = []
    for start in sorted({floor(s, grain) for s in starts}):
        if spans and spans[-1][1] == start:
            spans[-1] = (spans[-1][0], start + step)
        else:
            spans.append((start, start + step))
    return spans


def buckets(span: Span, grain: Grain) -> list[datetime]:
    """Every bucket start of ``span``."""
    step = STEP[grain]
    found: list[datetime] = []
    moment = floor(span[0], grain)
    while moment < span[1]:
        found.append(moment)
        moment += step
    return found


def spans_of(hours: Iterable[datetime], grain: Grain) -> list[Span]:
    """The ``grain`` ranges that hold the hour buckets ``hours``."""
    return merge((floor(hour, grain) for hour in hours), grain)


def union(spans: Iterable[Span]) -> list[Span]:
    """Ranges merged where they touch or overlap, in order."""
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def clip(spans: Iterable[Span], start: datetime, end: datetime) -> list[Span]:
    """The parts of ``spans`` inside ``[start, end)``."""
    return [(max(s, start), min(e, end)) for s, e in spans if min(e, end) > max(s, start)]


def subtract(spans: Iterable[Span], cut: Span) -> list[Span]:
    """``spans`` without what ``cut`` covers."""
    left: list[Span] = []
    for start, end in spans:
        if end <= cut[0] or start >= cut[1]:
            left.append((start, end))
            continue
        if start < cut[0]:
            left.append((start, cut[0]))
        if end > cut[1]:
            left.append((cut[1], end))
    return left
