"""Reading daily indices for the archive: which exist, how many documents, and every document
with its ``_id``, in constant memory.

``Snapshot`` reads an index with the point-in-time scan of ``metronome.es.scan``, so a
document is read exactly once even while the index changes; it also yields each ``_id``, which
the raw export leaves out, and counts the documents the point-in-time holds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from datetime import date
from types import TracebackType
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.archive.errors import ArchiveError
from metronome.archive.layout import day_of_index
from metronome.es.naming import stream_pattern
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


def daily_indices(client: Elasticsearch, index_prefix: str, stream: str) -> dict[date, str]:
    """The open daily indices of a stream by day (names that are not a day are left out)."""
    with es_errors(f"listing the {stream} indices"):
        resolved = client.indices.resolve_index(
            name=stream_pattern(index_prefix, stream), expand_wildcards="open"
        ).body
    days: dict[date, str] = {}
    for entry in resolved.get("indices", []):
        name = str(entry["name"])
        day = day_of_index(index_prefix, stream, name)
        if day is not None:
            days[day] = name
    return days


def count_documents(client: Elasticsearch, index: str) -> int:
    with es_errors(f"counting {index}"):
        return int(client.count(index=index)["count"])


class Snapshot:
    """One index read once, whole: ``documents()`` yields each document and sets ``total``, the
    number the point-in-time holds, before the first. ``close()`` (or leaving the ``with``
    block) ends a reading cut short, which closes its point-in-time."""

    def __init__(self, client: Elasticsearch, index: str, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.index = index
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
