"""``Query`` -> Elasticsearch search bodies. Pure functions, unit-tested without a server.

Breakdowns use a composite aggregation, so every bucket can be paged through (no silent
top-N truncation); a query without dimensions is one filtered set of metric aggregations.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metronome.query.model import (
    COMPOUND_OPS,
    PERCENTILES,
    RANGE_OPS,
    Filter,
    Metric,
    Query,
    TimeRange,
)

COMPOSITE_PAGE = 2000
VISITOR_FIELD = "visitor"
SESSION_FIELD = "session"
# Counts below this are exact in Elasticsearch's cardinality aggregation (its maximum).
PRECISION_THRESHOLD = 40_000
ES_INTERVALS = {"minute": "minute", "hour": "hour", "day": "day", "week": "week",
                "month": "month", "quarter": "quarter", "year": "year"}  # fmt: skip


def filter_query(query: Query, time_range: TimeRange) -> dict[str, Any]:
    must: list[dict[str, Any]] = [
        {"term": {"site": query.site}},
        {
            "range": {
                "@timestamp": {
                    "gte": time_range.start.isoformat(),
                    "lt": time_range.end.isoformat(),
                }
            }
        },
    ]
    must_not: list[dict[str, Any]] = []
    for item in query.filters:
        clause = filter_clause(item)
        (must_not if item.op == "is_not" else must).append(clause)
    return {"bool": {"filter": must, "must_not": must_not}}


def filter_clause(item: Filter) -> dict[str, Any]:
    """The clause of one filter; ``is_not``'s is the clause of the values it excludes."""
    if item.op in ("is", "is_not"):
        return {"terms": {item.field: list(item.values)}}
    if item.op in COMPOUND_OPS or item.op in RANGE_OPS or item.op in ("like", "ilike", "exists"):
        return _condition_clause(item)
    if item.op == "contains":
        should = [
            {
                "wildcard": {
                    item.field: {"value": f"*{escape_wildcard(str(v))}*", "case_insensitive": True}
                }
            }
            for v in item.values
        ]
    else:  # matches: Lucene regular expressions, optional operators off (no ~ & < > @)
        should = [{"regexp": {item.field: {"value": str(v), "flags": "NONE"}}} for v in item.values]
    return {"bool": {"should": should, "minimum_should_match": 1}}


def _condition_clause(item: Filter) -> dict[str, Any]:
    """The SQL operators (model.py): a clause that matches exactly the documents that pass."""
    if item.op in RANGE_OPS:
        return {"range": {item.field: {item.op: item.values[0]}}}
    if item.op == "exists":
        return {"exists": {"field": item.field}}
    if item.op in ("like", "ilike"):
        ignore_case = item.op == "ilike"
        should = [
            {"wildcard": {item.field: {"value": str(v), "case_insensitive": ignore_case}}}
            for v in item.values
        ]
        return {"bool": {"should": should, "minimum_should_match": 1}}
    clauses = [_child_clause(child) for child in item.children]
    if item.op == "all":
        return {"bool": {"filter": clauses}}
    if item.op == "any":
        return {"bool": {"should": clauses, "minimum_should_match": 1}}
    return {"bool": {"must_not": clauses}}  # not: its one child


def _child_clause(item: Filter) -> dict[str, Any]:
    clause = filter_clause(item)
    return {"bool": {"must_not": [clause]}} if item.op == "is_not" else clause


def escape_wildcard(text: str) -> str:
    return text.replace("\\", "\\\\").replace("*", "\\*").replace("?", "\\?")


def metric_aggs(metrics: tuple[Metric, ...]) -> dict[str, Any]:
    aggs: dict[str, Any] = {}
    for metric in metrics:
        if metric.kind == "visitors":
            aggs["visitors"] = _cardinality(VISITOR_FIELD)
        elif metric.kind == "sessions":
            aggs["sessions"] = _cardinality(SESSION_FIELD)
        elif metric.kind == "distinct":
            aggs[metric.name] = _cardinality(str(metric.field))
        elif metric.kind in PERCENTILES:
            name = f"percentiles:{metric.field}"
            percents = aggs.setdefault(
                name, {"percentiles": {"field": metric.field, "percents": [], "keyed": True}}
            )["percentiles"]["percents"]
            percents.append(PERCENTILES[metric.kind])
        elif metric.kind != "count":
            aggs[metric.name] = {metric.kind: {"field": metric.field}}
    return aggs


def _cardinality(field: str) -> dict[str, Any]:
    return {"cardinality": {"field": field, "precision_threshold": PRECISION_THRESHOLD}}


def read_metrics(
    metrics: tuple[Metric, ...], buckets: Mapping[str, Any], doc_count: int
) -> list[float | int | None]:
    """Metric values, in query order, from one bucket (or the top-level aggregations)."""
    values: list[float | int | None] = []
    for metric in metrics:
        if metric.kind == "count":
            values.append(doc_count)
        elif metric.kind in ("visitors", "sessions"):
            values.append(int(buckets[metric.kind]["value"]))
        elif metric.kind == "distinct":
            values.append(int(buckets[metric.name]["value"]))
        elif metric.kind in PERCENTILES:
            keyed = buckets[f"percentiles:{metric.field}"]["values"]
            values.append(_number(keyed.get(f"{PERCENTILES[metric.kind]:.1f}")))
        else:
            values.append(_number(buckets[metric.name]["value"]))
    return values


def _number(value: Any) -> float | int | None:
    if value is None:
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def totals_body(query: Query, time_range: TimeRange) -> dict[str, Any]:
    return {
        "size": 0,
        "track_total_hits": True,
        "query": filter_query(query, time_range),
        "aggs": metric_aggs(query.metrics),
    }


def composite_body(
    query: Query, time_range: TimeRange, after: dict[str, Any] | None = None
) -> dict[str, Any]:
    sources = []
    for index, dimension in enumerate(query.dimensions):
        source: dict[str, Any]
        if dimension.interval is not None:
            source = {
                "date_histogram": {
                    "field": "@timestamp",
                    "calendar_interval": ES_INTERVALS[dimension.interval],
                    "time_zone": query.tz.key,
                }
            }
        else:
            source = {"terms": {"field": dimension.field, "missing_bucket": True}}
        sources.append({f"d{index}": source})
    composite: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": sources}
    if after is not None:
        composite["after"] = after
    return {
        "size": 0,
        "track_total_hits": False,
        "query": filter_query(query, time_range),
        "aggs": {"rows": {"composite": composite, "aggs": metric_aggs(query.metrics)}},
    }


def freshness_body(site: str) -> dict[str, Any]:
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"term": {"site": site}},
        "aggs": {"latest_received": {"max": {"field": "received_at"}}},
    }
