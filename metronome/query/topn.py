"""The top-N plan: "the first N groups by a metric" answered without reading every group.

A breakdown by one stored field (no time dimension), ordered by ``count``, ``visitors``,
``sessions`` or ``sum:F`` descending (the default order is the first metric descending), whose
``page`` x ``limit`` is at most ``TOP_N_CAP``, is answered in two searches:

1. a ``terms`` aggregation ordered by that metric (ties: the value ascending), with a generous
   ``shard_size`` and the query's metrics, names the candidates: the first ``page`` x
   ``limit`` + 1 groups, and the documents without the field (the exact plan's null group)
   if there are any; a
   ``cardinality`` aggregation of the field gives ``total_rows`` (a distinct count: off by a
   few in 10,000 below ``PRECISION_THRESHOLD`` groups, an estimate above), unless every group
   came back;
2. when no shard cut its list (few groups), the first search's values are whole and final;
   otherwise the exact plan's own search, restricted to the candidates (``restrict``), gives
   their values, so every value answered is exact. Rows are ordered as the exact plan orders
   them. The comparison range is asked the same way (restricted), in the second round.

Each daily index is a shard that sends only its own first ``shard_size`` groups, so a group
that is never among a shard's first could be left out of the candidates. Ordered by count,
Elasticsearch bounds what such a group can count (``doc_count_error_upper_bound``): the order
is exact (``order_exact``) when that bound is below the lowest count answered. Ordered by
another metric there is no bound, so it is exact only when every group was a candidate or no
shard holds more groups than it sends. Files, time series and ``"exact": true`` keep the exact
plan. Pure functions.
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
    """The first search's answer: which groups to read exactly, and what it says of the rest."""

    keys: list[Any]  # the candidate groups (None: documents without the field)
    total_rows: int
    total_exact: bool
    complete: bool  # no group left out of ``keys`` could rank among the rows asked
    left_out_bound: int | None  # ordered by count: the most a group left out can count
    # Every candidate's (value, aggregations, doc_count) when the first search's values are
    # whole (no shard cut its list): no second search for the main range. None otherwise.
    values: list[tuple[Any, Mapping[str, Any], int]] | None = None


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
    """The first search: the candidate groups (one more than asked), the documents without the
    field, and how many groups there are. The rows' values come from a second search over the
    candidates alone (``restrict``), so they are exact whatever a shard left out."""
    metric = order_metric(query)
    assert metric is not None
    field = query.dimensions[0].field
    terms: dict[str, Any] = {
        "field": field,
        "size": wanted(query) + 1,  # one more: how close the first one left out comes
        "shard_size": shard_size(query),
    }
    metrics = builder.metric_aggs(query.metrics) if carries_values(query) else {}
    top: dict[str, Any] = {"terms": terms, "aggs": dict(metrics)}
    if metric.kind == "count":
        terms["order"] = [{"_count": "desc"}, {"_key": "asc"}]
        # The other metrics only for the groups each shard sends, not for every group.
        terms["collect_mode"] = "breadth_first"
    else:
        name = _agg_name(metric)
        if any(mark in name for mark in ".[]>"):  # not a path Elasticsearch reads: a copy
            top["aggs"][ORDER_AGG] = metrics[name]
            name = ORDER_AGG
        terms["order"] = [{name: "desc"}, {"_key": "asc"}]
    return {
        "size": 0,
        "track_total_hits": False,
        "query": builder.filter_query(query, time_range),
        "aggs": {
            "top": top,
            "missing": {"missing": {"field": field}, "aggs": metrics},
            "groups": {
                "cardinality": {
                    "field": field,
                    "precision_threshold": builder.PRECISION_THRESHOLD,
                }
            },
        },
    }


def carries_values(query: Query) -> bool:
    """Whether the first search computes every metric of its groups, so that its values can
    be final when no shard cut its list. Ordered by count, a distinct count (``visitors``,
    ``sessions``) of the hundreds of groups each daily index sends costs more than a second
    search over the candidates alone, so it is left to that search."""
    metric = order_metric(query)
    return metric is not None and (
        metric.kind != "count" or not any(m.kind in ("visitors", "sessions") for m in query.metrics)
    )


def _agg_name(metric: Metric) -> str:
    return metric.kind if metric.kind in ("visitors", "sessions") else metric.name


def read_top(query: Query, response: Mapping[str, Any]) -> TopAnswer:
    """The candidate groups of one answer to ``top_body`` and what is known of the others."""
    metric = order_metric(query)
    assert metric is not None
    aggs = response.get("aggregations", {})
    top = aggs.get("top", {})
    found = list(top.get("buckets", []))
    has_missing = int(aggs.get("missing", {}).get("doc_count", 0)) > 0
    keys = [_key(bucket) for bucket in found] + ([None] if has_missing else [])
    distinct = int(aggs.get("groups", {}).get("value", 0))
    every_group = len(found) <= wanted(query)  # fewer groups than asked: all came back
    if every_group:
        total, total_exact = len(keys), True
    else:  # a distinct count: within a few in 10,000 below the threshold, an estimate above
        total, total_exact = max(distinct + int(has_missing), wanted(query) + 1), False
    error = int(top.get("doc_count_error_upper_bound", -1))
    # No shard held more groups than it sent (Elasticsearch's bound is 0, or the distinct
    # count, an estimate, is well below what each shard sends): every value is whole.
    whole = every_group or (metric.kind == "count" and error == 0)
    whole = whole or distinct <= shard_size(query) // 2
    bound: int | None = None
    if metric.kind == "count" and error >= 0:
        # A group left out was seen with at most the last candidate's count, and the shards
        # that did not send it could hold at most ``error`` more.
        bound = (int(found[-1]["doc_count"]) if found else 0) + error
    values = None
    if whole and carries_values(query):
        values = [(_key(bucket), bucket, int(bucket["doc_count"])) for bucket in found]
        if has_missing:
            values.append((None, aggs["missing"], int(aggs["missing"]["doc_count"])))
        # In the exact plan's order before ordering by the metric, so that ties end alike:
        # the missing group first, then the values ascending.
        values.sort(key=lambda item: (item[0] is not None, item[0] if item[0] is not None else 0))
    return TopAnswer(
        keys=keys,
        total_rows=total,
        total_exact=total_exact,
        complete=whole,
        left_out_bound=bound,
        values=values,
    )


def _key(bucket: Mapping[str, Any]) -> Any:
    """A terms bucket's value as the exact plan's composite aggregation gives it (a boolean
    field's groups are 0 and 1 here, false and true there)."""
    key = bucket["key"]
    text = bucket.get("key_as_string")
    if text in ("true", "false") and key in (0, 1):
        return text == "true"
    return key


def order_exact(query: Query, answer: TopAnswer, kept: Sequence[Sequence[Any]]) -> bool:
    """Whether the rows answered (``kept``: their metric values, exact) are surely the first
    ones: every group was a candidate, or no group left out can reach the lowest count kept
    (ties included, since a tie is ordered by value)."""
    if answer.complete:
        return True
    metric = order_metric(query)
    if answer.left_out_bound is None or metric is None or not kept:
        return False
    position = query.metrics.index(metric)
    lowest = min(float(row[position] or 0) for row in kept)
    return answer.left_out_bound < lowest


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
