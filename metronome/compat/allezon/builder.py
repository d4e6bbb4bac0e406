"""The Elasticsearch requests of the two queries: pure functions of the query and the site.

A profile is one search for the newest tags of both actions (``profile_search``; ``profiles``
adds a search of one action only when that page cannot tell), ``_source`` limited to the stored
tag; aggregates are one search with a 1-minute ``date_histogram`` (and a ``sum`` of the price).
Both name the indices of their range (``metronome.es.naming.indices_for_range``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from metronome.compat.allezon.model import FILTERS, MAX_LIMIT, AggregatesQuery, ProfileQuery, millis
from metronome.compat.allezon.tag import ACTIONS, TAG_FIELD
from metronome.es.naming import indices_for_range
from metronome.hits.pipeline import STREAM

# The parts of a search answer the endpoints read (``filter_path``): only these bytes are sent
# by Elasticsearch and decoded by Python.
ANSWER_PARTS = ["hits.hits._source", "aggregations", "_shards.failed"]
MAX_NAMED_INDICES = 31  # more single days than this search the stream's wildcard instead


def indices_for(prefix: str, start: datetime, end: datetime) -> str:
    """The indices that can hold ``[start, end)``, or the stream's wildcard."""
    return indices_for_range(prefix, STREAM, start, end, MAX_NAMED_INDICES)


def profile_search(
    site: str, query: ProfileQuery, actions: tuple[str, ...] = ACTIONS
) -> dict[str, Any]:
    """The newest tags of ``actions`` in the query's range: ``limit`` per action, together.

    One page of both actions, newest first, holds the ``limit`` newest of an action whenever it
    holds ``limit`` of them or is not full (``profiles.missing_actions`` says which are not).
    """
    action = (
        {"term": {"action": actions[0]}}
        if len(actions) == 1
        else {"terms": {"action": list(actions)}}
    )
    return {
        "size": profile_page_size(query.limit, actions),
        "track_total_hits": False,
        "_source": [TAG_FIELD],
        "sort": [{"@timestamp": "desc"}],
        "query": {
            "bool": {
                "filter": [
                    *_filters(site, query.start, query.end, {"cookie": query.cookie}),
                    action,
                ]
            }
        },
    }


def profile_page_size(limit: int, actions: tuple[str, ...]) -> int:
    """``limit`` per action, within Elasticsearch's ``index.max_result_window``."""
    return min(limit * len(actions), MAX_LIMIT)


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
