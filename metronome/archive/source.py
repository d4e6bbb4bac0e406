"""Reading a stream's days for the archive: which days have documents, how many, and every
document with its ``_id``, in constant memory.

The archive keeps one folder per UTC day whatever the stream's index period: a daily index is
read whole; a day of a monthly or yearly index is that index filtered to the day's range (and
while a migration moves a day, its daily index and the longer one are read together).

``Snapshot`` reads an index with the point-in-time scan of ``metronome.es.scan``, so a
document is read exactly once even while the index changes; it also yields each ``_id``, which
the raw export leaves out, and counts the documents the point-in-time holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from types import TracebackType
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.archive.errors import ArchiveError
from metronome.es.days import day_counts
from metronome.es.naming import IndexSpan, parse_index, stream_pattern
from metronome.es.scan import scan

PAGE_SIZE = 1000
# Covers the time between two pages, which includes uploading a finished part.
KEEP_ALIVE = "5m"


@contextlib.contextmanager
def es_errors(doing: str) -> Iterator[None]:
    """Elasticsearch failures as one-line ``ArchiveError``s."""
    try:
        yield
    except (TransportError, EsApiError) as error:
        raise ArchiveError(f"Elasticsearch failed while {doing}: {error}") from error


@dataclass(frozen=True)
class DaySource:
    """Where one day's documents are: ``index`` (one name, or several comma-separated) and
    ``query``, the day's range when an index holds more than the day (None: every document)."""

    index: str
    query: dict[str, Any] | None = None


def stream_indices(client: Elasticsearch, index_prefix: str, stream: str) -> list[IndexSpan]:
    """The open indices of a stream, of every period (names that are none are left out)."""
    with es_errors(f"listing the {stream} indices"):
        resolved = client.indices.resolve_index(
            name=stream_pattern(index_prefix, stream), expand_wildcards="open"
        ).body
    spans = [parse_index(index_prefix, stream, str(entry["name"])) for entry in resolved["indices"]]
    return sorted((span for span in spans if span is not None), key=lambda span: span.name)


def day_sources(client: Elasticsearch, index_prefix: str, stream: str) -> dict[date, DaySource]:
    """Every day of a stream with an index: a daily index's day, and each day a monthly or
    yearly index holds documents of."""
    daily: dict[date, list[str]] = {}
    longer: dict[date, list[str]] = {}
    for span in stream_indices(client, index_prefix, stream):
        if span.period == "day":
            daily.setdefault(span.first_day, []).append(span.name)
        else:
            for day in days_with_documents(client, span.name):
                longer.setdefault(day, []).append(span.name)
    sources: dict[date, DaySource] = {}
    for day in sorted(set(daily) | set(longer)):
        names = [*daily.get(day, []), *longer.get(day, [])]
        sources[day] = DaySource(",".join(names), day_query(day) if day in longer else None)
    return sources


def days_with_documents(client: Elasticsearch, index: str) -> list[date]:
    """The UTC days an index holds documents of."""
    with es_errors(f"reading the days of {index}"):
        return sorted(day_counts(client, index))


def day_query(day: date) -> dict[str, Any]:
    """The documents of one UTC day."""
    start = datetime.combine(day, time(), UTC)
    end = start + timedelta(days=1)
    return {
        "range": {
            "@timestamp": {
                "gte": start.isoformat(),
                "lt": end.isoformat(),
                "format": "strict_date_optional_time",
            }
        }
    }


def count_documents(client: Elasticsearch, index: str, query: dict[str, Any] | None = None) -> int:
    with es_errors(f"counting {index}"):
        if query is None:
            return int(client.count(index=index)["count"])
        return int(client.count(index=index, query=query)["count"])


class Snapshot:
    """One index read once, whole: ``documents()`` yields each document and sets ``total``, the
    number the point-in-time holds, before the first. ``close()`` (or leaving the ``with``
    block) ends a reading cut short, which closes its point-in-time."""

    def __init__(
        self,
        client: Elasticsearch,
        index: str,
        page_size: int = PAGE_SIZE,
        query: dict[str, Any] | None = None,
    ) -> None:
        self.client = client
        self.index = index
        self.query = query  # None: the whole index
        self.page_size = page_size
        self._total: int | None = None
        self._hits: Generator[dict[str, Any], None, None] | None = None

    def documents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, source)`` of every document, oldest first, one page held at a time."""
        with es_errors(f"reading {self.index}"):
            self.client.indices.refresh(index=self.index)
        self._hits = scan(
            self.client,
            self.index,
            self.query,
            page_size=self.page_size,
            keep_alive=KEEP_ALIVE,
            with_ids=True,
            on_total=self._counted,
        )
        with es_errors(f"reading {self.index}"):
            for hit in self._hits:
                yield str(hit["_id"]), hit.get("_source", {})

    def _counted(self, total: int) -> None:
        self._total = total

    @property
    def total(self) -> int:
        """How many documents the point-in-time holds; known once ``documents()`` has begun."""
        if self._total is None:
            raise RuntimeError("the total is known once documents() has begun")
        return self._total

    def close(self) -> None:
        if self._hits is not None:
            self._hits.close()

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
