"""What one spool record holds: a document, its stream, its day and its deterministic id.

A record is a small JSON header line and the document's JSON: the shipper routes and
bulk-indexes it from the header and passes the document's bytes through untouched (it parses
the document only to dead-letter it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class Entry:
    stream: str  # hits, logs, ... : the index family <prefix>-<stream>-YYYY.MM.DD
    id: str  # the Elasticsearch _id: a resend of the same event gets the same id
    doc: dict[str, Any]


@dataclass(frozen=True)
class SpooledEntry:
    stream: str
    id: str
    day: str  # YYYY.MM.DD, the UTC day of the document's @timestamp
    doc_json: bytes

    def to_entry(self) -> Entry:
        return Entry(stream=self.stream, id=self.id, doc=json.loads(self.doc_json))


def encode_entry(entry: Entry) -> bytes:
    moment = datetime.fromisoformat(entry.doc["@timestamp"]).astimezone(UTC)
    header = {"stream": entry.stream, "id": entry.id, "day": f"{moment:%Y.%m.%d}"}
    return (
        json.dumps(header, separators=(",", ":")).encode()
        + b"\n"
        + json.dumps(entry.doc, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    )


def decode_entry(payload: bytes) -> SpooledEntry:
    header_json, _, doc_json = payload.partition(b"\n")
    header = json.loads(header_json)
    if not doc_json:
        raise ValueError("a spool record without a document")
    return SpooledEntry(
        stream=str(header["stream"]),
        id=str(header["id"]),
        day=str(header["day"]),
        doc_json=doc_json,
    )
