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

import orjson


@dataclass(frozen=True)
class Entry:
    stream: str  # hits, logs, ... : the index family <prefix>-<stream>-<period>
    id: str  # the Elasticsearch _id: a resend of the same event gets the same id
    doc: dict[str, Any]


@dataclass(frozen=True)
class SpooledEntry:
    stream: str
    id: str
    # YYYY.MM.DD, the UTC day of the document's @timestamp: the shipper names the index of the
    # stream's period from it (metronome.es.naming.index_for_day)
    day: str
    doc_json: bytes

    def to_entry(self) -> Entry:
        return Entry(stream=self.stream, id=self.id, doc=json.loads(self.doc_json))


def encode_entry(entry: Entry) -> bytes:
    header = {"stream": entry.stream, "id": entry.id, "day": utc_day(entry.doc["@timestamp"])}
    return _HEADER_JSON.encode(header).encode() + b"\n" + _doc_bytes(entry)


def _doc_bytes(entry: Entry) -> bytes:
    """The document as compact UTF-8 JSON. Hits, on the hottest path, are encoded by orjson
    (several times faster): they come from JSON that had no NaN or Infinity, which orjson
    would write as null. What orjson refuses (an integer beyond 64 bits) and every other
    stream (a msgpack log record may hold NaN) are encoded by the standard library."""
    if entry.stream == "hits":
        try:
            return orjson.dumps(entry.doc)
        except TypeError:
            pass
    return _DOC_JSON.encode(entry.doc).encode("utf-8")


def utc_day(timestamp: str) -> str:
    """``YYYY.MM.DD`` of an ISO timestamp in UTC; read off directly when it ends in ``Z``
    (every document Metronome builds), converted otherwise."""
    if (
        len(timestamp) >= 11
        and timestamp[-1] == "Z"
        and timestamp[4] == "-"
        and timestamp[10] == "T"
    ):
        return f"{timestamp[0:4]}.{timestamp[5:7]}.{timestamp[8:10]}"
    return f"{datetime.fromisoformat(timestamp).astimezone(UTC):%Y.%m.%d}"


# Built once: json.dumps with options builds a new encoder on every call.
_HEADER_JSON = json.JSONEncoder(separators=(",", ":"))
_DOC_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


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
