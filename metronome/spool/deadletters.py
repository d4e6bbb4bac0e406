"""Dead letters: documents Elasticsearch refused as invalid (mapping conflicts and the like).

They are kept whole in ``<prefix>-deadletters`` (the document as an unindexed object), so
nothing acknowledged is ever lost. ``metronome dead-letters list`` shows them and
``replay`` indexes them again (after the cause is fixed, e.g. the next day's index or a
corrected template); a replayed letter that is stored is removed. A replay meets the same
transient refusals as shipping (429 while Elasticsearch is busy or its disk is nearly full,
5xx, no connection): those are retried with the shared backoff (``REPLAY_RETRY``), so only a
lasting refusal counts as still failing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.config import StorageSettings
from metronome.es.bulk import BulkAction, bulk_create, bulk_until_settled
from metronome.es.naming import index_for
from metronome.es.retry import Retry
from metronome.spool.entry import Entry


@dataclass(frozen=True)
class DeadLetter:
    letter_id: str
    failed_at: str
    stream: str
    target_index: str
    doc_id: str
    error_type: str
    error_reason: str
    document: dict[str, Any]


# What a dead letter document holds: every field of DeadLetter but its id (the document's _id).
STORED_FIELDS = tuple(item.name for item in fields(DeadLetter) if item.name != "letter_id")


@dataclass(frozen=True)
class ReplayReport:
    stored: int
    still_failing: int


# A replay is run by hand: a few tries within about a minute, then the command says so.
REPLAY_RETRY = Retry(cap=15.0, tries=6)


class DeadLetterStore:
    def __init__(
        self, client: Elasticsearch, index_prefix: str, storage: StorageSettings | None = None
    ) -> None:
        self.client = client
        self.index_prefix = index_prefix
        self.storage = storage or StorageSettings()  # where a replayed letter goes
        self.index = f"{index_prefix}-deadletters"

    def actions(self, failures: Sequence[tuple[Entry, str, dict[str, Any]]]) -> list[BulkAction]:
        """Bulk actions that store each (entry, target index, error) as a dead letter."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        return [
            BulkAction(
                index=self.index,
                id=letter_id(target, entry.id),
                document={
                    "failed_at": now,
                    "stream": entry.stream,
                    "target_index": target,
                    "doc_id": entry.id,
                    "error_type": str(error.get("type", "unknown")),
                    "error_reason": str(error.get("reason", ""))[:2000],
                    "attempts": 1,
                    "document": entry.doc,
                },
            )
            for entry, target, error in failures
        ]

    def list(self, limit: int = 100) -> list[DeadLetter]:
        return list(self._iter(limit))

    def count(self) -> int:
        if not self.client.indices.exists(index=self.index):
            return 0
        return int(self.client.count(index=self.index)["count"])

    def replay(self, limit: int = 10_000, retry: Retry = REPLAY_RETRY) -> ReplayReport:
        """Index up to ``limit`` letters again. Raises ``metronome.es.bulk.GaveUp`` when
        Elasticsearch still refuses some for a transient cause after ``retry``'s tries."""
        letters = self.list(limit)
        actions = [
            BulkAction(
                index=index_for(
                    self.index_prefix,
                    letter.stream,
                    datetime.fromisoformat(letter.document["@timestamp"]),
                    self.storage.period_of(letter.stream),
                ),
                id=letter.doc_id,
                document=letter.document,
            )
            for letter in letters
        ]
        results = bulk_until_settled(
            actions, lambda batch: bulk_create(self.client, batch, refresh="wait_for"), retry
        )
        stored = [letter for letter, result in zip(letters, results, strict=True) if result.stored]
        for letter in stored:
            self.client.delete(index=self.index, id=letter.letter_id, refresh="wait_for")
        return ReplayReport(stored=len(stored), still_failing=len(letters) - len(stored))

    def _iter(self, limit: int) -> Iterator[DeadLetter]:
        if not self.client.indices.exists(index=self.index):
            return
        response = self.client.search(
            index=self.index, size=limit, sort=[{"failed_at": "asc"}], seq_no_primary_term=False
        )
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            yield DeadLetter(hit["_id"], **{name: source[name] for name in STORED_FIELDS})


def letter_id(target_index: str, doc_id: str) -> str:
    digest = hashlib.sha256(f"{target_index}\0{doc_id}".encode()).hexdigest()
    return digest[:40]
