"""Raw documents for the rollup tests, stored straight into the stream's indices (as the shipper
would store them), and the rollup documents read back."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from metronome.es.naming import index_for


def store(es: Elasticsearch, prefix: str, stream: str, documents: Sequence[dict[str, Any]]) -> None:
    """Index ``documents`` (each with an ``_id`` and an aware ``@timestamp``) and refresh."""
    operations: list[dict[str, Any]] = []
    for document in documents:
        moment = datetime.fromisoformat(document["@timestamp"])
        body = {key: value for key, value in document.items() if key != "_id"}
        operations.append({"index": {"_index": index_for(prefix, stream, moment),
                                     "_id": document["_id"]}})  # fmt: skip
        operations.append(body)
    response = es.bulk(operations=operations, refresh=True)
    assert not response["errors"], response


def remove(es: Elasticsearch, prefix: str, stream: str, document: dict[str, Any]) -> None:
    moment = datetime.fromisoformat(document["@timestamp"])
    es.delete(index=index_for(prefix, stream, moment), id=document["_id"], refresh=True)


def stored_rollups(es: Elasticsearch, prefix: str) -> dict[str, dict[str, Any]]:
    """Every rollup document: id -> {"_source", "_seq_no", "_index"}."""
    response = es.search(
        index=f"{prefix}-rollup.*",
        size=10_000,
        seq_no_primary_term=True,
        allow_no_indices=True,
        ignore_unavailable=True,
    )
    return {
        hit["_id"]: {"_source": hit["_source"], "_seq_no": hit["_seq_no"], "_index": hit["_index"]}
        for hit in response["hits"]["hits"]
    }


def hits(count: int, start: datetime, span: timedelta, seed: int) -> list[dict[str, Any]]:
    """``count`` hits spread at random over ``[start, start + span)``: two sites, events with
    and without a format, items, referrers, bots, prices (quarters, so sums are exact) and
    documents lacking some of those fields."""
    rng = random.Random(seed)
    documents = []
    seconds = int(span.total_seconds())
    for number in range(count):
        moment = start + timedelta(seconds=rng.randrange(seconds), milliseconds=rng.randrange(1000))
        event = rng.choice(["view", "view", "view", "download", None])
        document: dict[str, Any] = {
            "_id": f"h{seed}-{number}",
            "@timestamp": moment.astimezone(UTC).isoformat(),
            "site": rng.choice(["shop", "shop", "shop", "other"]),
            "id": rng.choice(["a", "b", "c", "/pricing"]),
            "bot": rng.random() < 0.2,
        }
        if event is not None:
            document["event"] = event
        if event == "download":
            document["format"] = rng.choice(["pdf", "csv"])
        if rng.random() < 0.7:
            document["referrer"] = {"host": rng.choice(["a.org", "b.org", "Ünï.example"])}
        if rng.random() < 0.6:
            document["product_info"] = {"price": rng.randrange(0, 4000) / 4}
        documents.append(document)
    return documents
