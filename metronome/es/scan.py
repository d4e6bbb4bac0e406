"""Every document matching a query, exactly once, in constant memory: a point-in-time scan.

A point-in-time (PIT) freezes the set of documents, so documents indexed meanwhile neither
appear twice nor shift pages; the sort on ``@timestamp`` then ``_shard_doc`` is total, so
documents sharing a timestamp are neither skipped nor repeated at page edges, which
``from``/``size`` or a timestamp-only cursor allow. Pages follow each other by ``search_after``
with the PIT id of the previous answer (Elasticsearch may hand out a new one). Only one page is
held at a time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Mapping, Sequence
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

log = logging.getLogger(__name__)

TIMESTAMP = "@timestamp"
SORT: list[dict[str, Any]] = [
    # unmapped_type: an index without the field sorts instead of failing the scan.
    {TIMESTAMP: {"order": "asc", "unmapped_type": "date"}},
    {"_shard_doc": "asc"},
]


def scan(
    client: Elasticsearch,
    index: str,
    query: Mapping[str, Any] | None = None,
    *,
    page_size: int = 1000,
    keep_alive: str = "1m",
    fields: Sequence[str] | None = None,
    with_ids: bool = False,
    with_versions: bool = False,
    on_total: Callable[[int], None] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Yield every hit matching ``query`` (all documents when None), oldest first.

    A hit holds ``_source`` (only the dotted ``fields`` when given), with ``with_ids`` its
    ``_id`` and with ``with_versions`` its ``_version``; nothing else is asked of
    Elasticsearch, as it would only add bytes to parse.
    ``on_total``, when given, is called once with the number of matching documents the
    point-in-time holds, before the first hit. Nothing is asked of Elasticsearch until the
    first ``next()``; the PIT is closed when the scan ends, fails, or is abandoned
    (``close()``). ``keep_alive`` only has to cover the time between two pages.
    """
    if page_size < 1:
        raise ValueError("page_size must be at least 1")
    filter_path = ["pit_id", "hits.hits._source", "hits.hits.sort"]
    if with_ids:
        filter_path.append("hits.hits._id")
    extra: dict[str, Any] = {}
    if with_versions:
        filter_path.append("hits.hits._version")
        extra["version"] = True
    if query is not None:
        extra["query"] = query
    if fields is not None:
        extra["source_includes"] = list(fields)
    pit_id: str = client.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    try:
        count = on_total is not None
        search_after: list[Any] | None = None
        while True:
            if search_after is not None:
                extra["search_after"] = search_after
            response = client.search(
                pit={"id": pit_id, "keep_alive": keep_alive},
                sort=SORT,
                size=page_size,
                track_total_hits=count,
                filter_path=[*filter_path, "hits.total"] if count else filter_path,
                **extra,
            )
            pit_id = response.body.get("pit_id", pit_id)
            found = response.body.get("hits", {})
            if count and on_total is not None:
                on_total(int(found["total"]["value"]))
                count = False
            hits: list[dict[str, Any]] = found.get("hits", [])
            yield from hits
            if len(hits) < page_size:
                return
            search_after = hits[-1]["sort"]
    finally:
        close_point_in_time(client, pit_id)


def close_point_in_time(client: Elasticsearch, pit_id: str) -> None:
    """Close a PIT; a failure is logged, never raised: it would mask the scan's own outcome,
    and an unclosed PIT expires after its keep-alive anyway."""
    try:
        client.close_point_in_time(id=pit_id)
    except (TransportError, EsApiError) as exc:
        log.warning("could not close point-in-time: %s", exc)
