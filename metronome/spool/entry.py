"""What one spool record holds: a document, its stream and its deterministic id."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Entry:
    stream: str  # hits, logs, ... : the index family <prefix>-<stream>-YYYY.MM.DD
    id: str  # the Elasticsearch _id: a resend of the same event gets the same id
    doc: dict[str, Any]


def encode_entry(entry: Entry) -> bytes:
    return json.dumps(
        {"stream": entry.stream, "id": entry.id, "doc": entry.doc},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def decode_entry(payload: bytes) -> Entry:
    data = json.loads(payload)
    return Entry(stream=str(data["stream"]), id=str(data["id"]), doc=dict(data["doc"]))
