"""Which fields a stream has, and of which kind, so a query names only real fields.

The catalog is the union of the stream's index mappings and its index template (so a field
the template declares is known before the first document arrives). It is cached briefly:
a field that appears with new data is queryable within ``TTL_SECONDS``. A name that is not a
stream name never reaches Elasticsearch (it has no fields), and at most ``MAX_STREAMS`` streams
are kept, so requests naming ever new streams cannot grow the cache without end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from metronome.es.naming import is_valid_stream, parse_index

FieldKind = Literal["keyword", "number", "date", "boolean", "text", "other"]
TTL_SECONDS = 30.0
MAX_STREAMS = 256
NUMERIC = frozenset(
    {"long", "integer", "short", "byte", "double", "float", "half_float", "scaled_float"}
)


def field_kinds(properties: Mapping[str, Any], prefix: str = "") -> dict[str, FieldKind]:
    """Leaf fields of a mapping as dotted names with their kind; sub-fields included."""
    kinds: dict[str, FieldKind] = {}
    for name, definition in properties.items():
        path = f"{prefix}{name}"
        if "properties" in definition:
            kinds.update(field_kinds(definition["properties"], f"{path}."))
            continue
        kinds[path] = _kind(str(definition.get("type", "object")))
        for sub, sub_definition in definition.get("fields", {}).items():
            kinds[f"{path}.{sub}"] = _kind(str(sub_definition.get("type", "")))
    return kinds


def _kind(es_type: str) -> FieldKind:
    if es_type in ("keyword", "constant_keyword", "wildcard"):
        return "keyword"
    if es_type in NUMERIC:
        return "number"
    if es_type in ("date", "date_nanos"):
        return "date"
    if es_type == "boolean":
        return "boolean"
    if es_type in ("text", "match_only_text"):
        return "text"
    return "other"


class FieldCatalog:
    def __init__(self, client: Elasticsearch, index_prefix: str) -> None:
        self.client = client
        self.index_prefix = index_prefix
        self._cache: dict[str, tuple[float, dict[str, FieldKind]]] = {}
        self._lock = threading.Lock()
        self._reload = threading.Lock()  # one reload at a time; the others wait for it

    def fields(self, stream: str) -> dict[str, FieldKind]:
        if not is_valid_stream(stream):
            return {}  # the query's own check refuses the name
        cached = self._fresh(stream)
        if cached is not None:
            return cached
        with self._reload:
            cached = self._fresh(stream)  # reloaded while this thread waited
            if cached is not None:
                return cached
            kinds = self._load(stream)
            with self._lock:
                if len(self._cache) >= MAX_STREAMS and stream not in self._cache:
                    oldest = min(self._cache, key=lambda name: self._cache[name][0])
                    del self._cache[oldest]
                self._cache[stream] = (time.monotonic(), kinds)
            return kinds

    def cached_streams(self) -> int:
        with self._lock:
            return len(self._cache)

    def _fresh(self, stream: str) -> dict[str, FieldKind] | None:
        with self._lock:
            cached = self._cache.get(stream)
        if cached and time.monotonic() - cached[0] < TTL_SECONDS:
            return cached[1]
        return None

    def _load(self, stream: str) -> dict[str, FieldKind]:
        kinds: dict[str, FieldKind] = {}
        try:
            simulated = self.client.indices.simulate_index_template(
                name=f"{self.index_prefix}-{stream}-2000.01.01"
            )
            template = simulated["template"].get("mappings", {}).get("properties", {})
            kinds.update(field_kinds(template))
        except NotFoundError:
            pass
        mappings = self.client.indices.get_mapping(
            index=f"{self.index_prefix}-{stream}-*", allow_no_indices=True
        ).body
        # Indices holding later data win where a field's type changed: a yearly index sorts
        # by its end, after the months and days it spans (indices of any period, the index
        # template's pattern covers them all).
        for index in sorted(mappings, key=lambda name: _by_end(self.index_prefix, stream, name)):
            kinds.update(field_kinds(mappings[index]["mappings"].get("properties", {})))
        return kinds


def _by_end(prefix: str, stream: str, index: str) -> tuple[str, str]:
    span = parse_index(prefix, stream, index)
    return (span.end.isoformat() if span is not None else "", index)
