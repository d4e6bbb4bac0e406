"""Which days a run reads, what the cursor remembers, and which version a day's rows get.

GA4 keeps revising the last days (processing runs 24-48 hours behind), so every run reads
again the ``lookback_days`` days up to its cursor, then every day after it up to yesterday.
Today is never read by a regular run: its figures are partial until the day is over.

Versions. A day still inside the revision window (``day >= today - lookback_days``) is written
with the fetch time in ms as its version, so a later read replaces it. Most re-reads find the
same figures, though, and rewriting them every run would report them all as updated: so the
cursor remembers a digest of each revisable day's rows and the version they were written with,
unchanged rows get the remembered version again, and Elasticsearch answers "already stored".
Only a day GA4 really revised is replaced (and counted as updated).
Once a day has left the window its figures are final and its version is fixed: the first
moment it counted as final (midnight UTC after ``day + lookback_days``). That is higher than
every version written while it was revisable, and the same for any later regular read.

A back-fill is a repair: it writes every day of its window with the fetch time as version, so
whatever GA4 says now replaces what is stored (reported as updated), final days included. Its
versions stay below any later regular read of a revisable day, and a final day is not read
again by regular runs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from metronome.sources.base import Cursor, SourceError

FIRST_RUN_DAYS = 30  # days read by a first run without start_date


@dataclass(frozen=True)
class Revision:
    digest: str
    version: int


@dataclass(frozen=True)
class CursorState:
    """``{"property": "123", "day": "2024-05-10", "revisions": {"2024-05-09": {...}}}``."""

    property_id: str
    day: date | None = None  # the last complete day read
    revisions: Mapping[date, Revision] = field(default_factory=dict)

    def to_cursor(self) -> Cursor:
        return {
            "property": self.property_id,
            "day": self.day.isoformat() if self.day else None,
            "revisions": {
                day.isoformat(): {"digest": revision.digest, "version": revision.version}
                for day, revision in sorted(self.revisions.items())
            },
        }

    def after_day(
        self, day: date, revision: Revision | None, oldest_revisable: date
    ) -> CursorState:
        """The state once ``day`` is stored: the cursor never moves back (a lookback re-read
        is older than it), and only revisions still inside the window are kept."""
        revisions = {d: r for d, r in self.revisions.items() if d >= oldest_revisable}
        if revision is not None:
            revisions[day] = revision
        latest = day if self.day is None else max(self.day, day)
        return CursorState(self.property_id, latest, revisions)


def parse_cursor(cursor: Mapping[str, Any], property_id: str) -> CursorState:
    """The stored cursor; empty (a first run) when it belongs to another property."""
    if not cursor or cursor.get("property") != property_id:
        return CursorState(property_id)
    try:
        day = date.fromisoformat(cursor["day"]) if cursor.get("day") else None
        revisions = {
            date.fromisoformat(key): Revision(str(value["digest"]), int(value["version"]))
            for key, value in (cursor.get("revisions") or {}).items()
        }
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise SourceError(f"the stored cursor is damaged ({error!r}): {dict(cursor)}") from None
    return CursorState(property_id, day, revisions)


def utc_today(now: datetime) -> date:
    return now.astimezone(UTC).date()


def days_between(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def plan_days(
    last_day: date | None, start_date: date | None, lookback_days: int, today: date
) -> list[date]:
    """The days a regular run reads, oldest first: from ``lookback_days`` before the day after
    the cursor up to yesterday, however long the source was down. A first run starts at
    ``start_date`` (default: 30 days ago)."""
    if last_day is None:
        first = start_date or today - timedelta(days=FIRST_RUN_DAYS)
    else:
        first = last_day - timedelta(days=lookback_days - 1)
    return days_between(first, today - timedelta(days=1))


def oldest_revisable(today: date, lookback_days: int) -> date:
    return today - timedelta(days=lookback_days)


def final_version(day: date, lookback_days: int) -> int:
    """Milliseconds at which ``day`` leaves the revision window."""
    final = datetime.combine(day + timedelta(days=lookback_days + 1), time(), UTC)
    return int(final.timestamp() * 1000)


def fetch_version(now: datetime) -> int:
    return int(now.timestamp() * 1000)


def version_for(
    day: date,
    digest: str,
    remembered: Revision | None,
    now: datetime,
    lookback_days: int,
) -> int:
    final = final_version(day, lookback_days)
    fetched = fetch_version(now)
    if fetched >= final:
        return final
    if remembered is not None and remembered.digest == digest:
        return remembered.version
    return fetched


def rows_digest(rows: Sequence[tuple[Sequence[str], Sequence[str]]]) -> str:
    """A short fingerprint of a day's rows (dimension and metric values, order-independent)."""
    canonical = sorted(json.dumps([list(d), list(m)], ensure_ascii=False) for d, m in rows)
    return hashlib.sha256("\n".join(canonical).encode()).hexdigest()[:32]
