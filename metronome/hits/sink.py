"""Where accepted hits go: the durable spool. The /tick view only knows ``HitSink``.

``append`` returns once the documents are fsynced in the local spool; the shipper process
moves them to Elasticsearch. So ingest never waits on Elasticsearch, and a 2xx survives a
crash of any process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from metronome.hits.pipeline import Document
from metronome.spool.entry import Entry, encode_entry
from metronome.spool.writer import SpoolWriter


class HitSink(Protocol):
    def append(self, documents: Sequence[Document]) -> None:
        """Store the documents durably, all or none.

        Raises ``SpoolFull`` (try again later) or ``SpoolWriteError`` (the disk failed).
        """


class SpoolSink:
    def __init__(self, writer: SpoolWriter) -> None:
        self.writer = writer

    def append(self, documents: Sequence[Document]) -> None:
        self.writer.append(
            [
                encode_entry(Entry(stream=doc["type"], id=document_id(doc), doc=doc))
                for doc in documents
            ]
        )


def document_id(doc: Document) -> str:
    """The Elasticsearch ``_id``: the hit_id within its site, so sites cannot collide with or
    suppress each other's hits (a site name holds no ':')."""
    return f"{doc['site']}:{doc['hit_id']}"
