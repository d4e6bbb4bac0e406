"""Raw documents written straight into a stream's indices, and the rollups they should give,
for the rollup job's tests: a plain-Python count per (bucket, site, dimensions) to compare
with what the rollup documents hold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.es.naming import index_for, stream_pattern
from metronome.query.rollup_schema import DOC_COUNT, GROUP_FIELD, rollup_pattern
from metronome.rollups.buckets import Grain, floor

Key = tuple[str, str, str | None, str | None]  # bucket start, site, event, id


def hit(moment: datetime, received: datetime | None = None, **fields: Any) -> dict[str, Any]:
    """A raw hit document as stored (the fields a rollup of event and id reads)."""
    return {
        "@timestamp": moment.astimezone(UTC).isoformat(),
        "received_at": (received or moment).astimezone(UTC).isoformat(),
        "site": fields.pop("site", "default"),
        "event": fields.pop("event", "view"),
        "id": fields.pop("id", "a"),
        **fields,
    }


def store(es: Elasticsearch, prefix: str, documents: Iterable[Mapping[str, Any]]) -> None:
    """Index ``documents`` into the daily hits indices of their own time; searchable at once."""
    operations: list[dict[str, Any]] = []
    for document in documents:
        moment = datetime.fromisoformat(str(document["@timestamp"]))
        operations += [{"index": {"_index": index_for(prefix, "hits", moment)}}, dict(document)]
    if operations:
        answer = es.bulk(operations=operations, refresh=True)
        assert not answer["errors"], answer


def model(documents: Iterable[Mapping[str, Any]], grain: Grain, before: datetime) -> Counter[Key]:
    """What the rollups of the group (event, id) hold for the buckets that end by ``before``."""
    counts: Counter[Key] = Counter()
    for document in documents:
        moment = datetime.fromisoformat(str(document["@timestamp"]))
        bucket = floor(moment, grain)
        if bucket < floor(before, grain):
            key = (bucket.isoformat(), document["site"], document.get("event"), document.get("id"))
            counts[key] += 1
    return counts


def rolled(
    es: Elasticsearch, prefix: str, group: str, grain: Grain, before: datetime
) -> Counter[Key]:
    """What the stored rollup documents of ``group`` hold for the buckets that end by
    ``before`` (a back-fill may have written the open ones too: nothing reads them)."""
    pattern = rollup_pattern(prefix, "hits", grain)
    es.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    found = es.search(
        index=pattern,
        query={"term": {GROUP_FIELD: group}},
        size=10_000,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    counts: Counter[Key] = Counter()
    for item in found["hits"]["hits"]:
        source = item["_source"]
        moment = datetime.fromisoformat(source["@timestamp"]).astimezone(UTC)
        if moment >= floor(before, grain):
            continue
        key = (moment.isoformat(), source["site"], source.get("event"), source.get("id"))
        counts[key] += int(source[DOC_COUNT])
    return counts


def rollup_versions(es: Elasticsearch, prefix: str) -> dict[str, int]:
    """Every rollup document's id and sequence number: any write changes it."""
    pattern = f"{prefix}-rollup.*"
    es.indices.refresh(index=pattern, ignore_unavailable=True, allow_no_indices=True)
    found = es.search(
        index=pattern,
        size=10_000,
        seq_no_primary_term=True,
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    return {item["_id"]: int(item["_seq_no"]) for item in found["hits"]["hits"]}


def raw_counts(
    es: Elasticsearch, prefix: str, grain: Grain, before: datetime, dimensions: Sequence[str]
) -> Counter[Key]:
    """The same counts read from the raw indices by Elasticsearch (for data written by
    processes the test does not model)."""
    sources: list[dict[str, Any]] = [
        {"t": {"date_histogram": {"field": "@timestamp",
                                  "fixed_interval": "1h" if grain == "hour" else "1d"}}},
        {"site": {"terms": {"field": "site"}}},
    ]  # fmt: skip
    sources += [{name: {"terms": {"field": name, "missing_bucket": True}}} for name in dimensions]
    counts: Counter[Key] = Counter()
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {"size": 1000, "sources": sources}
        if after:
            composite["after"] = after
        answer = es.search(
            index=stream_pattern(prefix, "hits"),
            size=0,
            query={"range": {"@timestamp": {"lt": floor(before, grain).isoformat()}}},
            aggs={"c": {"composite": composite}},
        )
        found = answer["aggregations"]["c"]
        for bucket in found["buckets"]:
            key = bucket["key"]
            moment = datetime.fromtimestamp(key["t"] / 1000, UTC).isoformat()
            values = [key[name] for name in dimensions]
            counts[(moment, key["site"], *values)] += int(bucket["doc_count"])
        after = found.get("after_key")
        if not after or len(found["buckets"]) < 1000:
            return counts
