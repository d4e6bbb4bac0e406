"""Reading daily indices for the archive: which exist, how many documents, and every document
with its ``_id``, in constant memory.

``Snapshot`` pages like ``metronome.query.events.iter_events`` (a point-in-time, the same total
sort, ``search_after``), so a document is read exactly once even while the index changes; it
also yields each ``_id``, which the raw export leaves out, and counts the documents the
point-in-time holds.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import date
from types import TracebackType
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.archive.errors import ArchiveError
from metronome.archive.layout import day_of_index
from metronome.es.naming import stream_pattern
from metronome.query.events import SORT

log = logging.getLogger(__name__)

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
    """A point-in-time over one index: ``total`` documents, read once each by ``documents()``."""

    def __init__(self, client: Elasticsearch, index: str, page_size: int = PAGE_SIZE) -> None:
        self.client = client
        self.index = index
        self.page_size = page_size
        with es_errors(f"reading {index}"):
            client.indices.refresh(index=index)
            self.pit_id: str = client.open_point_in_time(index=index, keep_alive=KEEP_ALIVE)["id"]
        try:
            with es_errors(f"counting {index}"):
                response = client.search(
                    pit={"id": self.pit_id, "keep_alive": KEEP_ALIVE},
                    size=0,
                    track_total_hits=True,
                )
            self.pit_id = response.body.get("pit_id", self.pit_id)
            self.total = int(response.body["hits"]["total"]["value"])
        except BaseException:
            self.close()
            raise

    def documents(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(id, source)`` of every document, oldest first, one page held at a time."""
        search_after: list[Any] | None = None
        while True:
            extra: dict[str, Any] = {}
            if search_after is not None:
                extra["search_after"] = search_after
            with es_errors(f"reading {self.index}"):
                response = self.client.search(
                    pit={"id": self.pit_id, "keep_alive": KEEP_ALIVE},
                    sort=SORT,
                    size=self.page_size,
                    track_total_hits=False,
                    filter_path=["pit_id", "hits.hits._id", "hits.hits._source", "hits.hits.sort"],
                    **extra,
                )
            self.pit_id = response.body.get("pit_id", self.pit_id)
            hits = response.body.get("hits", {}).get("hits", [])
            for hit in hits:
                yield str(hit["_id"]), hit.get("_source", {})
            if len(hits) < self.page_size:
                return
            search_after = hits[-1]["sort"]

    def close(self) -> None:
        try:
            self.client.close_point_in_time(id=self.pit_id)
        except (TransportError, EsApiError) as error:
            # An unclosed point-in-time expires after KEEP_ALIVE; never mask the real outcome.
            log.warning("could not close point-in-time: %s", error)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
