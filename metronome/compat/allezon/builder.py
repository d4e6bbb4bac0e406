"""The Elasticsearch requests of the two queries: pure functions of the query and the site.

Profiles are one ``_msearch`` of two searches (VIEW, BUY), newest first, ``_source`` limited to
the stored tag; aggregates are one search with a 1-minute ``date_histogram`` (and a ``sum`` of
the price). Both name the daily indices of their range.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from metronome.compat.allezon.model import FILTERS, AggregatesQuery, millis
from metronome.compat.allezon.tag import ACTIONS, TAG_FIELD
from metronome.es.naming import indices_for_range
from metronome.hits.pipeline import STREAM

MAX_NAMED_INDICES = 31  # longer ranges search the stream's wildcard instead of each day


def indices_for(prefix: str, start: datetime, end: datetime) -> str:
    """The daily indices that can hold ``[start, end)``, or the stream's wildcard."""
    return indices_for_range(prefix, STREAM, start, end, MAX_NAMED_INDICES)


def profile_searches(
    index: str, site: str, cookie: str, *, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """The ``_msearch`` lines: the newest VIEWs, then the newest BUYs of one cookie."""
    searches: list[dict[str, Any]] = []
    for action in ACTIONS:
        searches.append({"index": index, "ignore_unavailable": True, "allow_no_indices": True})
        searches.append(
            {
                "size": limit,
                "track_total_hits": False,
                "_source": [TAG_FIELD],
                "sort": [{"@timestamp": "desc"}],
                "query": {
                    "bool": {
                        "filter": _filters(site, start, end, {"cookie": cookie, "action": action})
                    }
                },
            }
        )
    return searches


def aggregates_body(site: str, query: AggregatesQuery) -> dict[str, Any]:
    terms = {"action": query.action, **{FILTERS[name]: value for name, value in query.filters}}
    histogram: dict[str, Any] = {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m"}}
    if "SUM_PRICE" in query.aggregates:
        histogram["aggs"] = {"sum_price": {"sum": {"field": "product_info.price"}}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": _filters(site, query.start, query.end, terms)}},
        "aggs": {"minutes": histogram},
    }


def _filters(
    site: str, start: datetime, end: datetime, terms: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {"term": {"site": site}},
        *({"term": {field: value}} for field, value in terms.items()),
        {
            "range": {
                "@timestamp": {"gte": millis(start), "lt": millis(end), "format": "epoch_millis"}
            }
        },
    ]
