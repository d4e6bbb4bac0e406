"""The top-N plan: "the first N groups by a metric" answered without reading every group.

A breakdown by one stored field (no time dimension), ordered by ``count``, ``visitors``,
``sessions`` or ``sum:F`` descending (the default order is the first metric descending), whose
``page`` x ``limit`` is at most ``TOP_N_CAP``, is asked as one ``terms`` aggregation ordered by
that metric (ties: the dimension's value ascending, the exact path's order too), with a
generous ``shard_size``; documents without the field form one row of their own (a ``missing``
aggregation, as the exact path's null group), and ``total_rows`` comes from a ``cardinality``
aggregation of the field (exact below ``PRECISION_THRESHOLD`` groups, an estimate above).

Each daily index is a shard that sends its own first ``shard_size`` groups, so a group that is
never among any shard's first could be missed or under-counted. Elasticsearch reports bounds of
that error; ``read_top`` turns them into ``order_exact``: true only when no group left out could
rank among the rows answered and every answered count is complete. Ordered by another metric
than ``count`` there is no such bound, so the order is exact only when every shard sent every
group (the field has at most ``shard_size`` values).

The comparison range of a top-N answer is asked for exactly those rows (``restrict``), so its
values are exact. Files, time series and ``"exact": true`` keep the exact plan. Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from metronome.query import builder
from metronome.query.model import Metric, Query, TimeRange

TOP_N_CAP = 1000  # page x limit above this: the exact plan
MIN_SHARD_SIZE = 500
SHARD_SIZE_FACTOR = 5
ORDERABLE = frozenset({"count", "visitors", "sessions", "sum"})
ORDER_AGG = "order"  # a copy of the ordering metric under a name the order path can hold


@dataclass(frozen=True)
class TopAnswer:
    keys: list[Any]  # the groups' values, ordered as the exact plan orders them; None: missing
    buckets: list[tuple[Any, Mapping[str, Any], int]]  # (key, aggregations, doc_count)
    total_rows: int
    total_exact: bool
    order_exact: bool


def order_metric(query: Query) -> Metric | None:
    """The metric a top-N plan would order by, or None when the query is not such a question."""
    if query.exact or len(query.dimensions) != 1 or query.dimensions[0].is_time:
        return None
    if query.page * query.limit > TOP_N_CAP:
        return None
    metric: Metric | None
    if not query.order_by:
        metric = query.metrics[0]
    elif len(query.order_by) == 1 and query.order_by[0].descending:
        metric = next((m for m in query.metrics if m.name == query.order_by[0].name), None)
        if metric is None:
            return None  # ordered by the dimension
    else:
        return None
    return metric if metric is not None and metric.kind in ORDERABLE else None


def uses_top_n(query: Query) -> bool:
    return order_metric(query) is not None


def wanted(query: Query) -> int:
    """How many rows the answer needs: every row up to the end of the asked page."""
    return query.page * query.limit


def shard_size(query: Query) -> int:
    return max(MIN_SHARD_SIZE, SHARD_SIZE_FACTOR * (wanted(query) + 1))


def top_body(query: Query, time_range: TimeRange) -> dict[str, Any]:
    metric = order_metric(query)
    assert metric is not None
    field = query.dimensions[0].field
    metrics = builder.metric_aggs(query.metrics)
    terms: dict[str, Any] = {
        "field": field,
        "size": wanted(query) + 1,  # one more: how close the first one left out comes
        "shard_size": shard_size(query),
    }
    if metric.kind == "count":
        terms["order"] = [{"_count": "desc"}, {"_key": "asc"}]
        terms["show_term_doc_count_error"] = True
        # Sub-aggregations (visitors...) only for the groups each shard sends.
        terms["collect_mode"] = "breadth_first"
        top_aggs = metrics
    else:
        name = _agg_name(metric)
        top_aggs = dict(metrics)
        if any(mark in name for mark in ".[]>"):  # not a path Elasticsearch can read: a copy
            top_aggs[ORDER_AGG] = metrics[name]
            name = ORDER_AGG
        terms["order"] = [{name: "desc"}, {"_key": "asc"}]
    return {
        "size": 0,
        "track_total_hits": False,
        "query": builder.filter_query(query, time_range),
        "aggs": {
            "top": {"terms": terms, "aggs": top_aggs},
            "missing": {"missing": {"field": field}, "aggs": metrics},
            "groups": {
                "cardinality": {
                    "field": field,
                    "precision_threshold": builder.PRECISION_THRESHOLD,
                }
            },
        },
    }


def _agg_name(metric: Metric) -> str:
    return metric.kind if metric.kind in ("visitors", "sessions") else metric.name


def read_top(query: Query, response: Mapping[str, Any]) -> TopAnswer:
    """The groups of one answer to ``top_body``: at most ``wanted`` of them, the missing group
    included where it ranks, ordered by the ordering metric, ties by value (missing first)."""
    metric = order_metric(query)
    assert metric is not None
    aggs = response.get("aggregations", {})
    top = aggs.get("top", {})
    found = list(top.get("buckets", []))
    missing = aggs.get("missing", {"doc_count": 0})
    has_missing = int(missing.get("doc_count", 0)) > 0
    buckets: list[tuple[Any, Mapping[str, Any], int]] = [
        (_key(bucket), bucket, int(bucket["doc_count"])) for bucket in found
    ]
    if has_missing:
        buckets.insert(0, (None, missing, int(missing["doc_count"])))
    position = query.metrics.index(metric)

    def value(item: tuple[Any, Mapping[str, Any], int]) -> float:
        number = builder.read_metrics(query.metrics, item[1], item[2])[position]
        return float(number) if number is not None else float("-inf")

    # Stable: equal values keep Elasticsearch's order (the value ascending), missing first.
    kept = sorted(buckets, key=value, reverse=True)[: wanted(query)]
    complete = len(found) <= wanted(query)  # every group came back: nothing left out
    distinct = int(aggs.get("groups", {}).get("value", 0))
    if complete:
        total, total_exact = len(buckets), True
    else:
        total = max(distinct + int(has_missing), len(kept) + 1)
        total_exact = distinct < builder.PRECISION_THRESHOLD
    return TopAnswer(
        keys=[item[0] for item in kept],
        buckets=kept,
        total_rows=total,
        total_exact=total_exact,
        order_exact=complete
        or _order_exact(query, metric, top=top, found=found, kept=kept, distinct=distinct),
    )


def _key(bucket: Mapping[str, Any]) -> Any:
    """A terms bucket's value as the exact plan's composite aggregation gives it (a boolean
    field's groups are 0 and 1 here, false and true there)."""
    key = bucket["key"]
    text = bucket.get("key_as_string")
    if text in ("true", "false") and key in (0, 1):
        return text == "true"
    return key


def _order_exact(
    query: Query,
    metric: Metric,
    *,
    top: Mapping[str, Any],
    found: Sequence[Mapping[str, Any]],
    kept: Sequence[tuple[Any, Mapping[str, Any], int]],
    distinct: int,
) -> bool:
    if distinct < builder.PRECISION_THRESHOLD and distinct <= shard_size(query):
        return True  # no shard holds more groups than it sends: nothing was left out
    left_out_bound = int(top.get("doc_count_error_upper_bound", -1))
    if metric.kind != "count" or left_out_bound < 0:
        return False  # no bound on what a group left out could reach
    kept_keys = {item[0] for item in kept}
    answered = [b for b in found if _key(b) in kept_keys]
    if any(int(b.get("doc_count_error_upper_bound", 0)) != 0 for b in answered):
        return False  # a count answered may be incomplete
    if not answered or left_out_bound == 0:
        return True
    # A group not answered counts at most what it was seen with (no more than the first one
    # left out) plus what the shards that did not send it could hold.
    beyond = [b for b in found if _key(b) not in kept_keys]
    seen = int(beyond[0]["doc_count"]) if beyond else 0
    lowest = min(int(b["doc_count"]) for b in answered)
    return seen + left_out_bound < lowest


def restrict(body: dict[str, Any], query: Query, keys: Sequence[Any]) -> dict[str, Any]:
    """``body`` (a search of ``query``) limited to the groups ``keys`` (None: documents
    without the field): how the compared range of a top-N answer is asked."""
    field = query.dimensions[0].field
    assert field is not None
    values = [key for key in keys if key is not None]
    should: list[dict[str, Any]] = [{"terms": {field: values}}]
    if any(key is None for key in keys):
        should.append({"bool": {"must_not": [{"exists": {"field": field}}]}})
    clause = {"bool": {"should": should, "minimum_should_match": 1}}
    restricted = dict(body)
    restricted["query"] = {"bool": {"filter": [body["query"], clause]}}
    return restricted
