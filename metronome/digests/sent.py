"""Which periods of each digest were sent: index ``<prefix>-digests``
(es_templates/index/digests.json), one document per digest and period, created once
(``op_type=create``: a second record of the same period is refused, not doubled).

The latest record is what the schedule compares with (``due_period(now, digest, last_sent)``).
Writes wait for the refresh, so the next run sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from elasticsearch import ConflictError, Elasticsearch

from metronome.digests.schedule import Period
from metronome.es.templates import create_templated_index


@dataclass(frozen=True)
class Sent:
    digest: str
    period_start: datetime
    period_end: datetime
    sent_at: datetime
    key: str


class SentLog:
    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}-digests"
        self._ready = False

    def last(self, digest: str) -> Sent | None:
        """The record of the latest period of ``digest`` sent, if any."""
        found = self.history(digest, 1)
        return found[0] if found else None

    def history(self, digest: str, size: int = 10) -> list[Sent]:
        """The latest records of ``digest``, the latest period first."""
        response = self.client.search(
            index=self.index,
            query={"term": {"digest": digest}},
            sort=[{"period_start": "desc"}],
            size=size,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return [_sent(hit["_source"]) for hit in response["hits"]["hits"]]

    def record(
        self,
        digest: str,
        period: Period,
        *,
        key: str,
        at: datetime,
        extra: dict[str, Any] | None = None,
    ) -> bool:
        """Record ``period`` of ``digest`` as sent; False when it already was."""
        self._ensure_index()
        document = {
            "digest": digest,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "schedule": period.schedule,
            "key": key,
            "sent_at": at.isoformat(),
            **(extra or {}),
        }
        try:
            self.client.index(
                index=self.index,
                id=f"{digest}:{period.start.isoformat()}",
                document=document,
                op_type="create",
                refresh="wait_for",
            )
        except ConflictError:
            return False
        return True

    def _ensure_index(self) -> None:
        """The index with its mapping, even where the templates were not installed."""
        if not self._ready:
            create_templated_index(self.client, self.prefix, self.index)
            self._ready = True


def _sent(source: dict[str, Any]) -> Sent:
    return Sent(
        digest=str(source["digest"]),
        period_start=datetime.fromisoformat(source["period_start"]),
        period_end=datetime.fromisoformat(source["period_end"]),
        sent_at=datetime.fromisoformat(source["sent_at"]),
        key=str(source["key"]),
    )
