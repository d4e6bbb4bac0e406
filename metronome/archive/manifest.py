"""The manifest of an archived day, and what a run does with a day (pure).

The manifest is the last object written for a day: while it is missing the day is incomplete
(a run was cut short) and the next run writes the day again over the same part names.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

FORMAT = "metronome-archive/1"
LINE_FORMAT = '{"_id": <Elasticsearch id>, "_source": <document>}'


class ManifestError(ValueError):
    """The manifest object is not one this version wrote."""


@dataclass(frozen=True)
class PartInfo:
    name: str  # part-N.ndjson.gz, in the day's folder
    docs: int
    bytes: int
    sha256: str  # of the object as stored (the gzip bytes)


@dataclass(frozen=True)
class Manifest:
    stream: str
    day: date
    index: str  # the daily index the documents were read from
    doc_count: int  # documents in the parts
    index_doc_count: int  # documents in the index when it was archived
    parts: tuple[PartInfo, ...]
    archived_at: str  # ISO-8601, UTC

    def to_json(self) -> bytes:
        body = {
            "format": FORMAT,
            "lines": LINE_FORMAT,
            "stream": self.stream,
            "day": self.day.isoformat(),
            "index": self.index,
            "doc_count": self.doc_count,
            "index_doc_count": self.index_doc_count,
            "archived_at": self.archived_at,
            "parts": [
                {"name": p.name, "docs": p.docs, "bytes": p.bytes, "sha256": p.sha256}
                for p in self.parts
            ],
        }
        return json.dumps(body, indent=2).encode() + b"\n"

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            body = json.loads(data)
            if not isinstance(body, dict) or body.get("format") != FORMAT:
                raise ManifestError(f"not a {FORMAT} manifest")
            return cls(
                stream=_text(body["stream"]),
                day=date.fromisoformat(_text(body["day"])),
                index=_text(body["index"]),
                doc_count=_count(body["doc_count"]),
                index_doc_count=_count(body["index_doc_count"]),
                parts=tuple(
                    PartInfo(
                        name=_text(p["name"]),
                        docs=_count(p["docs"]),
                        bytes=_count(p["bytes"]),
                        sha256=_text(p["sha256"]),
                    )
                    for p in body["parts"]
                ),
                archived_at=_text(body["archived_at"]),
            )
        except ManifestError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise ManifestError(f"unreadable manifest: {error!r}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {value!r}")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise TypeError(f"expected a count, got {value!r}")
    return value


class Decision(enum.Enum):
    ARCHIVE = "archive"  # write the day (again)
    CURRENT = "current"  # archived, and the index has not changed since: skip
    KEEP = "keep"  # the index holds less than the archive: never shrink the archive


@dataclass(frozen=True)
class Plan:
    decision: Decision
    reason: str


def plan_day(manifest: Manifest | None, index_docs: int, stored_parts: Mapping[str, int]) -> Plan:
    """Decide what a run does with a closed day.

    ``manifest`` is the day's manifest (None when missing or unreadable), ``index_docs`` what
    the daily index holds now, ``stored_parts`` the part objects in the bucket (name -> size).
    """
    if manifest is None:
        if stored_parts:
            return Plan(Decision.ARCHIVE, "incomplete (no manifest): written again")
        return Plan(Decision.ARCHIVE, "not archived yet")
    if index_docs < manifest.index_doc_count:
        return Plan(
            Decision.KEEP,
            f"the index holds {index_docs} documents, fewer than the {manifest.index_doc_count} "
            "archived: archive left as it is",
        )
    damaged = [p.name for p in manifest.parts if stored_parts.get(p.name) != p.bytes]
    if damaged:
        return Plan(Decision.ARCHIVE, f"parts missing or changed ({', '.join(damaged)}): repaired")
    if index_docs > manifest.index_doc_count:
        return Plan(
            Decision.ARCHIVE,
            f"{index_docs - manifest.index_doc_count} documents arrived since: archived again",
        )
    return Plan(Decision.CURRENT, "already archived")
