"""How close each index is to its field limit, and what Elasticsearch did not map.

The mapping explosion guard (es_templates/README.md) keeps documents whose extra fields or
wrongly typed values cannot be mapped; Elasticsearch names those fields in ``_ignored``.
This report makes them visible per index, so a site that floods parameter names is noticed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

SAMPLE_SIZE = 500


@dataclass(frozen=True)
class IndexReport:
    index: str
    mapped_fields: int
    field_limit: int
    documents: int
    documents_with_ignored: int
    ignored_fields: dict[str, int]  # field -> documents in the sample that had it ignored


def count_fields(properties: Mapping[str, Any]) -> int:
    """Mapped fields as Elasticsearch counts them for the limit: objects, leaves, sub-fields."""
    total = 0
    for definition in properties.values():
        total += 1
        total += count_fields(definition.get("properties", {}))
        total += count_fields(definition.get("fields", {}))
    return total


def mapping_report(client: Elasticsearch, pattern: str) -> list[IndexReport]:
    mappings = client.indices.get_mapping(index=pattern, allow_no_indices=True).body
    if not mappings:
        return []
    settings = client.indices.get_settings(
        index=pattern, name="index.mapping.total_fields.limit", include_defaults=True
    ).body
    reports = []
    for index in sorted(mappings):
        properties = mappings[index]["mappings"].get("properties", {})
        reports.append(
            IndexReport(
                index=index,
                mapped_fields=count_fields(properties),
                field_limit=_field_limit(settings.get(index, {})),
                documents=int(client.count(index=index)["count"]),
                documents_with_ignored=int(
                    client.count(index=index, query={"exists": {"field": "_ignored"}})["count"]
                ),
                ignored_fields=_ignored_sample(client, index),
            )
        )
    return reports


def _field_limit(index_settings: Mapping[str, Any]) -> int:
    for source in ("settings", "defaults"):
        value = (
            index_settings.get(source, {})
            .get("index", {})
            .get("mapping", {})
            .get("total_fields", {})
            .get("limit")
        )
        if value is not None:
            return int(value)
    return 1000


def _ignored_sample(client: Elasticsearch, index: str) -> dict[str, int]:
    # _ignored cannot be aggregated in Elasticsearch 8.14; a sample of documents tells which.
    response = client.search(
        index=index,
        size=SAMPLE_SIZE,
        query={"exists": {"field": "_ignored"}},
        source=False,  # each hit carries its _ignored names as metadata
    )
    counts: Counter[str] = Counter()
    for hit in response["hits"]["hits"]:
        counts.update(hit.get("_ignored", []))
    return dict(counts.most_common(50))
