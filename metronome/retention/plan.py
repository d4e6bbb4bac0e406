"""Which indices are past their limit (pure): a raw index once every document it can hold is
older than its stream's ``retention.raw_days``, a rollup index once its year is older than
``retention.rollup_days``."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from metronome.config import RetentionSettings
from metronome.es.naming import IndexSpan, period_end

# Rollup indices are <prefix>-rollup.<grain>.<stream>-YYYY (one per stream, grain and year).
_ROLLUP = r"rollup\.(hour|day)\.([a-z0-9_]{1,32})-(\d{4})\Z"


@dataclass(frozen=True)
class Candidate:
    index: str
    stream: str
    kind: Literal["raw", "rollup"]
    start: datetime
    end: datetime  # the index holds nothing from this instant on
    days: int  # the limit it is past

    @property
    def first_day(self) -> date:
        return self.start.date()

    @property
    def last_day(self) -> date:
        return (self.end - timedelta(days=1)).date()


def cutoff(now: datetime, days: int) -> datetime:
    """Documents before this instant are older than ``days`` days (whole UTC days)."""
    return datetime.combine(now.astimezone(UTC).date() - timedelta(days=days), time(), UTC)


def rollup_span(prefix: str, name: str) -> tuple[str, IndexSpan] | None:
    """``(stream, span)`` of a rollup index name, or None for any other name."""
    match = re.match(re.escape(f"{prefix}-") + _ROLLUP, name)
    if match is None:
        return None
    start = date(int(match.group(3)), 1, 1)
    span = IndexSpan(
        name,
        "year",
        datetime.combine(start, time(), UTC),
        datetime.combine(period_end(start, "year"), time(), UTC),
    )
    return match.group(2), span


def past_limit(
    raw: Mapping[str, Iterable[IndexSpan]],
    rollups: Iterable[tuple[str, IndexSpan]],
    settings: RetentionSettings,
    now: datetime,
) -> list[Candidate]:
    """Every index whose whole span is older than its limit, oldest first."""
    found: list[Candidate] = []
    for stream, spans in raw.items():
        days = settings.raw_days.get(stream)
        if days is None:
            continue
        limit = cutoff(now, days)
        found.extend(
            Candidate(span.name, stream, "raw", span.start, span.end, days)
            for span in spans
            if span.end <= limit
        )
    if settings.rollup_days is not None:
        limit = cutoff(now, settings.rollup_days)
        found.extend(
            Candidate(span.name, stream, "rollup", span.start, span.end, settings.rollup_days)
            for stream, span in rollups
            if span.end <= limit
        )
    return sorted(found, key=lambda c: (c.end, c.index))
