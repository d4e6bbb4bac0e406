"""The alerts' history for other parts of Metronome (a digest lists "the alerts of the
period"): every firing and resolution, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from elasticsearch import Elasticsearch

from metronome.alerts.store import AlertStore

MAX_EVENTS = 1000


@dataclass(frozen=True)
class AlertEvent:
    rule: str
    site: str | None  # None: a pipeline-health rule
    state: str  # firing | resolved
    at: datetime
    value: float | None
    summary: str


def alert_events(
    client: Elasticsearch, prefix: str, *, site: str | None, start: datetime, end: datetime
) -> list[AlertEvent]:
    """The firings and resolutions in ``[start, end)`` of ``site``'s rules (None: of every
    site, the health rules included), oldest first; reminders are left out."""
    events, _ = AlertStore(client, prefix).events(
        site=site, start=start, end=end, size=MAX_EVENTS, newest_first=False
    )
    return [
        AlertEvent(
            rule=event.rule,
            site=event.site,
            state=event.kind,
            at=event.at,
            value=event.value,
            summary=event.summary,
        )
        for event in events
        if event.kind in ("firing", "resolved")
    ]
