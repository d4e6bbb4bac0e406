"""How many documents an index holds of each UTC day (the archive and retention read an
index's days this way, whatever the index's period)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from elasticsearch import Elasticsearch


def day_counts(client: Elasticsearch, index: str) -> dict[date, int]:
    """The UTC days ``index`` holds documents of, with how many, oldest first."""
    response = client.search(
        index=index,
        size=0,
        aggs={
            "days": {
                "date_histogram": {
                    "field": "@timestamp",
                    "calendar_interval": "day",
                    "time_zone": "UTC",
                    "min_doc_count": 1,
                }
            }
        },
    ).body
    buckets = response.get("aggregations", {}).get("days", {}).get("buckets", [])
    return {
        datetime.fromtimestamp(b["key"] / 1000, UTC).date(): int(b["doc_count"]) for b in buckets
    }
