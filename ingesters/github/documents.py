"""GitHub records -> Metronome documents, and the version each snapshot is written with (pure).

Snapshots that legitimately change (a repository's counts, a day's traffic, the popular
referrers) are versioned documents: a higher version replaces what is stored. The version is the
fetch time in milliseconds, so the day's last reading wins, except when the figures are the same
as the ones last written (remembered in the cursor): then the document keeps its version and
Elasticsearch answers "already stored" instead of rewriting it. A re-read that changed nothing
therefore creates nothing, and a back-fill of stored days adds nothing.

Every record kept in the cursor is ``{"fields": {...}, "version": <int>}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from ingesters.github.wire import PopularPath, Referrer, RepoCounts, Star, TrafficDay
from metronome.sources.base import Document, Removal, Window

TRAFFIC_DAYS = 14  # GitHub keeps the traffic of the last 14 days, today included
Fields = dict[str, Any]
Recorded = Mapping[str, Any]


def choose_version(previous: Recorded | None, fields: Mapping[str, Any], now_ms: int) -> int:
    """The version to write ``fields`` with, given what was last written under the same key."""
    if previous is None:
        return now_ms
    version = int(previous["version"])
    if dict(previous["fields"]) == dict(fields):
        return version  # unchanged: an equal version is refused, nothing is rewritten
    return max(now_ms, version + 1)  # changed: newer, even if the clock went backwards


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def repo_fields(repo: str, counts: RepoCounts) -> Fields:
    fields: Fields = {
        "kind": "repo",
        "repo": repo,
        "stars": counts.stars,
        "forks": counts.forks,
        "open_issues": counts.open_issues,
    }
    optional = {
        "watchers": counts.watchers,
        "network_count": counts.network_count,
        "size_kb": counts.size_kb,
    }
    fields.update({name: value for name, value in optional.items() if value is not None})
    return fields


def traffic_fields(repo: str, series: str, day: TrafficDay) -> Fields:
    """``series`` is ``views`` or ``clones``."""
    return {"kind": f"traffic_{series}", "repo": repo, "count": day.count, "uniques": day.uniques}


def referrer_fields(repo: str, referrer: Referrer) -> Fields:
    return _popular_fields("referrer", repo, referrer, referrer=referrer.referrer)


def path_fields(repo: str, path: PopularPath) -> Fields:
    return _popular_fields("path", repo, path, path=path.path, title=path.title)


def _popular_fields(kind: str, repo: str, entry: Referrer | PopularPath, **names: str) -> Fields:
    """A popular referrer or path: what names it, then GitHub's totals over the last 14 days
    (``window_days``), which are not the day's own figures."""
    return {
        "kind": kind,
        "repo": repo,
        **names,
        "count": entry.count,
        "uniques": entry.uniques,
        "window_days": TRAFFIC_DAYS,
    }


def star_document(repo: str, star: Star) -> Document:
    """Create-once: a star is a fact that happened at ``starred_at``."""
    return Document(
        key=f"star:{repo.lower()}:{star.login.lower()}",
        timestamp=star.starred_at,
        fields={"kind": "star", "repo": repo, "user": star.login},
    )


def snapshot_key(kind: str, repo: str, day: date, item: str | None = None) -> str:
    """``repo:acme/app:2024-05-01``, ``referrer:acme/app:2024-05-01:Google``."""
    key = f"{kind}:{repo.lower()}:{day.isoformat()}"
    return key if item is None else f"{key}:{item}"


def daily_snapshot(
    items: Mapping[str, Fields],
    key: Callable[[str], str],
    day: date,
    previous: Mapping[str, Any] | None,
    now_ms: int,
) -> tuple[list[Document], dict[str, Any], list[Removal]]:
    """One versioned document per item for ``day`` (at its midnight), the cursor record
    ``{"day", "items": {item: recorded}}`` that replaces ``previous``, and the removal of the
    items an earlier reading of the same day wrote that this one no longer has (an entry that
    dropped out of the top 10): the day's snapshot is the day's last reading, nothing more."""
    earlier: Mapping[str, Recorded] = {}
    if previous is not None and previous.get("day") == day.isoformat():
        earlier = previous.get("items") or {}
    documents = []
    recorded: dict[str, Any] = {}
    for item, fields in items.items():
        version = choose_version(earlier.get(item), fields, now_ms)
        documents.append(Document(key(item), midnight(day), fields, version))
        recorded[item] = {"fields": dict(fields), "version": version}
    removed = [
        Removal(key(item), midnight(day), max(now_ms, int(kept["version"]) + 1))
        for item, kept in earlier.items()
        if item not in items
    ]
    return documents, {"day": day.isoformat(), "items": recorded}, removed


def daily_series(
    days: Mapping[date, Fields],
    key: Callable[[date], str],
    previous: Mapping[str, Recorded],
    now_ms: int,
    keep_from: date,
) -> tuple[list[Document], dict[str, Recorded]]:
    """One versioned document per day of a series (views, clones), and the cursor record
    ``{day: recorded}`` with the days before ``keep_from`` forgotten."""
    merged: dict[str, Recorded] = {
        day: record for day, record in previous.items() if day >= keep_from.isoformat()
    }
    documents = []
    for day, fields in sorted(days.items()):
        version = choose_version(previous.get(day.isoformat()), fields, now_ms)
        documents.append(Document(key(day), midnight(day), fields, version))
        merged[day.isoformat()] = {"fields": dict(fields), "version": version}
    return documents, merged


def offered_days(today: date) -> Window:
    """The days whose traffic GitHub still answers for."""
    return Window(today - timedelta(days=TRAFFIC_DAYS - 1), today)


def out_of_reach(window: Window, offered: Window) -> list[Window]:
    """The parts of a back-fill ``window`` outside what the API still ``offered``."""
    parts = []
    if window.first < offered.first:
        parts.append(Window(window.first, min(window.last, offered.first - timedelta(days=1))))
    if window.last > offered.last:
        parts.append(Window(max(window.first, offered.last + timedelta(days=1)), window.last))
    return parts


def describe(windows: list[Window]) -> str:
    return ", ".join(
        w.first.isoformat() if w.first == w.last else f"{w.first.isoformat()}..{w.last.isoformat()}"
        for w in windows
    )


def inside(window: Window | None, day: date) -> bool:
    return window is None or window.first <= day <= window.last
