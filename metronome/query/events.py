"""Raw documents out of Elasticsearch: every match exactly once, in constant memory.

``iter_events`` reads them with the point-in-time scan of ``metronome.es.scan`` (a frozen set
of documents, a total sort, ``search_after``): nothing is collected, one page is held at a time.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Mapping, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.es.scan import TIMESTAMP, scan

_MISSING = object()


def events_query(
    site: str,
    start: datetime,
    end: datetime,
    item_id: str | None = None,
    event: str | None = None,
) -> dict[str, Any]:
    """Documents of ``site`` in ``[start, end)``, optionally of one item and one event name."""
    filters: list[dict[str, Any]] = [
        {"term": {"site": site}},
        {"range": {TIMESTAMP: {"gte": start.isoformat(), "lt": end.isoformat()}}},
    ]
    if item_id is not None:
        filters.append({"term": {"id": item_id}})
    if event is not None:
        filters.append({"term": {"event": event}})
    return {"bool": {"filter": filters}}


def iter_events(
    client: Elasticsearch,
    index_pattern: str,
    query: dict[str, Any],
    page_size: int = 1000,
    keep_alive: str = "1m",
    *,
    fields: Sequence[str] | None = None,
) -> Generator[dict[str, Any], None, None]:
    """Yield the ``_source`` of every document matching ``query``, oldest first.

    ``fields`` limits each ``_source`` to those (dotted) fields. Nothing is asked of
    Elasticsearch until the first ``next()``; the PIT is closed when the iteration ends,
    fails, or is abandoned (``close()``, as a WSGI server does when the client disconnects).
    ``keep_alive`` only has to cover the time between two pages, not the whole export.
    """
    hits = scan(
        client, index_pattern, query, page_size=page_size, keep_alive=keep_alive, fields=fields
    )
    with contextlib.closing(hits):
        for hit in hits:
            yield hit.get("_source", {})


def flatten(doc: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested objects as dotted keys (``{"url": {"host": h}}`` -> ``{"url.host": h}``).

    Lists stay values (a CSV writer renders them as JSON), and an empty object stays ``{}``
    so the field is not lost. Nested objects are ``dict``s, as JSON decoding makes them.
    """
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = prefix + key
        if type(value) is dict and value:
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def pick(doc: Mapping[str, Any], flat: Mapping[str, Any], field: str) -> Any:
    """The value of dotted ``field``: a leaf from ``flat``, or a whole object (``url``)."""
    value = flat.get(field, _MISSING)
    if value is not _MISSING:
        return value
    node: Any = doc
    for part in field.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def leaf_fields(properties: Mapping[str, Any], prefix: str = "") -> list[str]:
    """The dotted names of a mapping's leaves, as they appear in ``_source`` once flattened.

    Multi-fields (``message.keyword``) and aliases are not in ``_source`` and are left out;
    a ``nested`` field is one column, since its value is a list of objects.
    """
    names: list[str] = []
    for name, definition in properties.items():
        dotted = f"{prefix}{name}"
        kind = definition.get("type")
        if kind == "alias":
            continue
        if kind != "nested" and "properties" in definition:
            names.extend(leaf_fields(definition["properties"], dotted + "."))
        elif kind not in (None, "object"):
            names.append(dotted)
    return names


def mapped_fields(client: Elasticsearch, index_pattern: str) -> list[str]:
    """The union of the leaf fields of every index of the pattern, sorted, ``@timestamp`` first.

    Fields kept in documents but not mapped (past the field limit) are not listed.
    """
    mappings = client.indices.get_mapping(index=index_pattern, allow_no_indices=True).body
    names: set[str] = set()
    for index in mappings.values():
        names.update(leaf_fields(index.get("mappings", {}).get("properties", {})))
    names.discard(TIMESTAMP)
    return [TIMESTAMP, *sorted(names)]
