"""What one run of the rollup job recomputes, decided from what it read. Pure functions.

Two ways find the buckets whose raw documents changed:

- **closing** (every run): a bucket is computed once it has ended (and the time documents take
  to become searchable has passed): the watermark never passes a bucket still open, so an
  open bucket's rollup would never be read;
- **changes** (every run): the UTC hours of the documents written to the raw indices since the
  last run (by sequence number, metronome.rollups.detect: whenever they were received, so a
  spool that ships a week late is seen at once). Their ended hour buckets, and the ended
  days that hold them, are recomputed;
- the **sweep** (every ``sweep_every``): deleted raw documents leave nothing to find, so the
  sweep compares, for every bucket of the late-data window, the raw document count with the
  rollups' own count and recomputes the buckets that differ.

Buckets before the window are never recomputed by the job: a change there is recorded as a
stale range (a back-fill recomputes it), and the watermark stays before it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from metronome.rollups.buckets import (
    GRAINS,
    STEP,
    Grain,
    Span,
    floor,
    merge,
    spans_of,
    union,
)
from metronome.rollups.state import Pending


def closing(
    groups: Iterable[str], since: Mapping[Grain, datetime], until: Mapping[Grain, datetime]
) -> list[Pending]:
    """The buckets that ended since the last run (``[since, until)`` per grain), of each group:
    a bucket is computed once it has ended (its rollup is not read before: the watermark does
    not pass it), then again only when its raw documents change."""
    return [
        Pending(group, grain, since[grain], until[grain])
        for group in groups
        for grain in GRAINS
        if until[grain] > since[grain]
    ]


def split_window(
    hours: Iterable[datetime], window_start: datetime
) -> tuple[list[datetime], list[Span]]:
    """Hours of changed documents: those in the window, and the hour ranges before it."""
    inside = [hour for hour in hours if hour >= window_start]
    before = merge((hour for hour in hours if hour < window_start), "hour")
    return inside, before


def changed_work(
    groups: Iterable[str], hours: Sequence[datetime], closed: Mapping[Grain, datetime]
) -> list[Pending]:
    """Recompute the ended hour buckets of ``hours`` and the ended day buckets holding them
    (a bucket that has not ended before ``closed`` is computed when it does)."""
    return [
        Pending(group, grain, start, min(end, closed[grain]))
        for group in groups
        for grain in GRAINS
        for start, end in spans_of(hours, grain)
        if start < closed[grain]
    ]


def day_counts(hour_counts: Mapping[datetime, int]) -> dict[datetime, int]:
    days: dict[datetime, int] = defaultdict(int)
    for hour, count in hour_counts.items():
        days[floor(hour, "day")] += count
    return dict(days)


def differing(
    raw: Mapping[datetime, int],
    rolled: Mapping[datetime, int],
    grain: Grain,
    start: datetime,
    end: datetime,
) -> list[datetime]:
    """Buckets of ``[start, end)`` whose raw and rollup counts differ (a missing bucket counts
    zero: raw documents without a rollup, or a rollup whose documents are gone)."""
    step = STEP[grain]
    found = [
        bucket
        for bucket in set(raw) | set(rolled)
        if start <= bucket and bucket + step <= end and raw.get(bucket, 0) != rolled.get(bucket, 0)
    ]
    return sorted(found)


def sweep_work(
    group: str,
    raw_hours: Mapping[datetime, int],
    rolled: Mapping[Grain, Mapping[datetime, int]],
    start: datetime,
    end: Mapping[Grain, datetime],
) -> list[Pending]:
    """The buckets of one group from ``start`` to ``end`` (per grain: the buckets computed so
    far) whose counts differ from raw."""
    raw: dict[Grain, Mapping[datetime, int]] = {"hour": raw_hours, "day": day_counts(raw_hours)}
    work: list[Pending] = []
    for grain in GRAINS:
        bad = differing(raw[grain], rolled.get(grain, {}), grain, start, end[grain])
        work += [Pending(group, grain, s, e) for s, e in merge(bad, grain)]
    return work


def merged(work: Iterable[Pending]) -> tuple[Pending, ...]:
    """The same buckets as the fewest ranges per group and grain, in a stable order: by group,
    its hours before its days (days are summed from the hours, which must be current)."""
    by_key: dict[tuple[str, Grain], list[Span]] = defaultdict(list)
    for item in work:
        by_key[(item.group, item.grain)].append((item.start, item.end))
    order = sorted(by_key.items(), key=lambda entry: (entry[0][0], GRAINS.index(entry[0][1])))
    return tuple(
        Pending(group, grain, start, end)
        for (group, grain), spans in order
        for start, end in union(spans)
    )


def watermark(frontier: datetime, grain: Grain, stale: Iterable[Span]) -> datetime:
    """Up to where the ``grain`` rollups are complete: every bucket that ended by the frontier
    (the run's start less the time documents take to become searchable), and never past the
    first stale range."""
    through = floor(frontier, grain)
    for start, _ in stale:
        through = min(through, floor(start, grain))
    return through


def sweep_due(last: datetime | None, now: datetime, every: float) -> bool:
    return last is None or (now - last).total_seconds() >= every
