"""Where accepted hits go. The /tick view only knows the ``HitSink`` interface.

``DirectSink`` writes each request's hits to Elasticsearch with one ``_bulk`` call and answers
once Elasticsearch has confirmed them (its translog is fsynced per request, so a 2xx is
durable). The ingestion issue puts a local durable spool and a shipper behind the same
interface, so ingest no longer waits on Elasticsearch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from elasticsearch import Elasticsearch

from metronome.errors import error_object
from metronome.es.bulk import BulkAction, bulk_create
from metronome.es.naming import index_for
from metronome.hits.pipeline import STREAM, Document


class HitSink(Protocol):
    def write(self, documents: Sequence[Document]) -> list[dict[str, Any] | None]:
        """Store the documents durably; per document ``None`` (stored) or an error object.

        Raises ``StoreUnavailable`` when nothing could be stored now.
        """


class DirectSink:
    def __init__(self, client: Elasticsearch, index_prefix: str, refresh: bool = True) -> None:
        self.client = client
        self.index_prefix = index_prefix
        self.refresh = refresh

    def write(self, documents: Sequence[Document]) -> list[dict[str, Any] | None]:
        actions = [
            BulkAction(
                index=index_for(
                    self.index_prefix, STREAM, datetime.fromisoformat(doc["@timestamp"])
                ),
                id=doc["hit_id"],
                document=doc,
            )
            for doc in documents
        ]
        results = bulk_create(self.client, actions, refresh="wait_for" if self.refresh else False)
        return [
            None
            if result.stored
            else error_object(
                "rejected_by_store",
                "Elasticsearch refused this hit: "
                + str((result.error or {}).get("reason", "unknown reason"))[:300],
            )
            for result in results
        ]
