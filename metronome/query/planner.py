"""The query planner: answer from rollups when that is exactly the raw answer.

A query can be answered from a rollup group (``metronome.config.rollups``) when

- every metric is additive: ``count``, ``sum``, ``min``, ``max`` or ``avg`` (unique counts and
  percentiles cannot be added up from buckets: they stay raw);
- every field it groups or filters by is a dimension of the group (or the site), and every
  field it sums, averages or takes the minimum or maximum of is a measure of the group;
- its time buckets are unions of rollup buckets: hourly rollups serve any time zone whose
  offset is a whole number of hours over the range (hour buckets and longer), daily rollups
  serve day buckets and longer whose boundaries are UTC midnights (UTC), and a query without
  a time dimension is served by either, in any zone.

The range is then cut in pieces: daily rollups for the whole UTC days inside it that the
day watermark says are complete, hourly rollups for the whole hours left that the hour
watermark says are complete, and raw events for the rest (unaligned ends, the time after the
watermark, or before rollups begin). Every piece gives partial rows (count, sum, min, max,
and sum and number of values for an average), which add up to the answer: ``rollup`` when
every piece is rollups, ``raw`` when none is, ``rollup+raw`` otherwise.

Rollup documents keep the raw field names and count as ``_doc_count`` documents, so a piece's
search is the raw search with the group named and the metrics read from the measures.
Planning is pure (``plan_range``); ``fetch`` runs a plan.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.config.rollups import RollupGroup, RollupSettings
from metronome.es.naming import indices_for_range
from metronome.query import builder
from metronome.query.calendar import Interval, is_utc, iter_buckets
from metronome.query.model import Metric, Query, TimeRange
from metronome.query.reads import check_shards
from metronome.query.rollup_schema import (
    GROUP_FIELD,
    Grain,
    Watermark,
    ceil_grain,
    floor_grain,
    is_aligned,
    measure_field,
    read_watermarks,
    rollup_indices,
)

log = logging.getLogger(__name__)
Source = Literal["rollup", "raw", "rollup+raw"]
ADDITIVE = frozenset({"count", "sum", "min", "max", "avg"})
ALWAYS_KEPT = frozenset({"site"})  # every rollup document has it
# Coarser first: whole UTC days from daily rollups, then whole hours from hourly ones.
GRAIN_ORDER: tuple[Grain, ...] = ("day", "hour")
# Intervals whose bucket boundaries can fall on each grain's boundaries.
SERVES: Mapping[Grain, frozenset[Interval]] = {
    "hour": frozenset({"hour", "day", "week", "month", "quarter", "year"}),
    "day": frozenset({"day", "week", "month", "quarter", "year"}),
}
COMPOSITE_PAGE = 2000
TOTALS = "all"


@dataclass(frozen=True)
class Piece:
    """A part of a range, read from rollups of ``grain`` or (grain None) from raw events."""

    start: datetime
    end: datetime
    grain: Grain | None = None


@dataclass(frozen=True)
class Plan:
    """How to read one range of a query: the group the rollup pieces come from, the pieces."""

    group: RollupGroup | None
    pieces: tuple[Piece, ...]

    @property
    def raw_only(self) -> bool:
        return all(piece.grain is None for piece in self.pieces)


def source_of(plans: Sequence[Plan]) -> Source:
    """``meta.source`` of an answer read by ``plans``."""
    grains = [piece.grain for plan in plans for piece in plan.pieces]
    if all(grain is None for grain in grains):
        return "raw"
    if all(grain is not None for grain in grains):
        return "rollup"
    return "rollup+raw"


# --- planning (pure) ---------------------------------------------------------------------


def needed_fields(query: Query) -> tuple[set[str], set[str]]:
    """The fields a group must have as dimensions, and as measures, to answer ``query``."""
    dimensions = {d.field for d in query.dimensions if d.field is not None}
    dimensions |= query.filter_fields  # inside compound (SQL) conditions too
    measures = {m.field for m in query.metrics if m.field is not None}
    return dimensions - ALWAYS_KEPT, measures


def choose_group(query: Query, groups: Sequence[RollupGroup]) -> RollupGroup | None:
    """The smallest group that answers ``query`` exactly, or None (raw events only)."""
    if not query.metrics or any(metric.kind not in ADDITIVE for metric in query.metrics):
        return None
    dimensions, measures = needed_fields(query)
    fitting = [
        group
        for group in groups
        if dimensions <= set(group.dimensions) and measures <= set(group.measures)
    ]
    return min(fitting, key=lambda g: (len(g.dimensions), len(g.measures)), default=None)


def aligned(grain: Grain, interval: Interval | None, query: Query, piece: Piece) -> bool:
    """Whether every ``grain`` bucket of ``piece`` falls inside one of the query's time buckets:
    no query bucket starts strictly inside a rollup bucket."""
    if interval is None:
        return True
    if interval not in SERVES[grain]:
        return False
    if is_utc(query.tz):  # its buckets of an hour or more start on UTC hours, of a day on days
        return True
    start, end = piece.start.astimezone(UTC), piece.end.astimezone(UTC)
    for bucket in iter_buckets(start, end, interval, query.tz):
        if bucket > start and not is_aligned(bucket, grain):
            return False
    return True


def plan_range(
    query: Query,
    time_range: TimeRange,
    group: RollupGroup | None,
    watermarks: Mapping[Grain, Watermark],
) -> Plan:
    """The pieces ``time_range`` of ``query`` is read in (pure)."""
    whole = Piece(time_range.start.astimezone(UTC), time_range.end.astimezone(UTC))
    pieces: list[Piece] = [whole]
    if group is None:
        return Plan(None, tuple(pieces))
    interval = next((d.interval for d in query.dimensions if d.interval is not None), None)
    for grain in GRAIN_ORDER:
        watermark = watermarks.get(grain)
        if watermark is None or not watermark.covers(group):
            continue
        cut: list[Piece] = []
        for piece in pieces:
            cut.extend(_cut(piece, grain, watermark, interval, query))
        pieces = cut
    return Plan(group, tuple(pieces))


def _cut(
    piece: Piece, grain: Grain, watermark: Watermark, interval: Interval | None, query: Query
) -> list[Piece]:
    """``piece`` (raw) with the part ``grain`` rollups can answer taken out."""
    if piece.grain is not None:
        return [piece]
    low = (
        piece.start
        if watermark.complete_from is None
        else max(piece.start, watermark.complete_from)
    )
    low = ceil_grain(low, grain)
    high = floor_grain(min(piece.end, watermark.complete_through), grain)
    if low >= high:
        return [piece]
    middle = Piece(low, high, grain)
    if not aligned(grain, interval, query, middle):
        return [piece]
    before = [Piece(piece.start, low)] if piece.start < low else []
    after = [Piece(high, piece.end)] if high < piece.end else []
    return [*before, middle, *after]


Watermarks = dict[str, dict[Grain, Watermark]]


def plans_for(
    client: Elasticsearch,
    prefix: str,
    query: Query,
    rollups: RollupSettings | None,
    known: Watermarks | None = None,
) -> tuple[Plan, Plan | None] | None:
    """The plans of the query's range and of its comparison range, or None when both read
    raw events only (then the raw path answers, unchanged). ``known``: the watermarks read
    so far, by stream (several queries read each stream's once)."""
    if rollups is None:
        return None
    group = choose_group(query, rollups.groups_of(query.stream))
    if group is None:
        return None
    known = {} if known is None else known
    if query.stream not in known:
        try:
            known[query.stream] = read_watermarks(client, prefix, query.stream)
        except (EsApiError, TransportError) as error:
            log.warning("Could not read the rollup watermarks; reading raw events: %r", error)
            known[query.stream] = {}
    watermarks = known[query.stream]
    main = plan_range(query, query.range, group, watermarks)
    compare = None
    if query.compare is not None:
        compare = plan_range(query, query.compare.range, group, watermarks)
    if main.raw_only and (compare is None or compare.raw_only):
        return None
    return main, compare


# --- reading (I/O) -----------------------------------------------------------------------

Key = tuple[Any, ...]
Values = list[float | int | None]


def fetch(client: Elasticsearch, prefix: str, query: Query, plan: Plan) -> list[tuple[Key, Values]]:
    """Every row of one planned range: (composite key as Elasticsearch gives it, metric
    values in query order), in the composite aggregation's order. The pieces' first pages are
    read in one multi-search (one round trip however many pieces)."""
    partial: dict[Key, list[Any]] = {}
    for piece, first in zip(plan.pieces, _first_pages(client, prefix, query, plan), strict=True):
        for key, values in _read_piece(client, prefix, query, plan.group, piece, first):
            known = partial.get(key)
            partial[key] = values if known is None else merge(query.metrics, known, values)
    if not query.dimensions and not partial:
        partial[()] = empty_partial(query.metrics)
    ordered = sorted(partial.items(), key=lambda item: composite_order(item[0]))
    return [(key, finish(query.metrics, values)) for key, values in ordered]


def _piece_index(prefix: str, query: Query, piece: Piece) -> str:
    if piece.grain is None:
        return indices_for_range(prefix, query.stream, piece.start, piece.end)
    return rollup_indices(prefix, query.stream, piece.grain, piece.start, piece.end)


def _first_pages(
    client: Elasticsearch, prefix: str, query: Query, plan: Plan
) -> list[dict[str, Any] | None]:
    """Each piece's first answer, read together; None for a piece whose search failed (it is
    searched again on its own, so its error is met as a lone search meets it)."""
    if len(plan.pieces) < 2:
        return [None] * len(plan.pieces)
    searches: list[dict[str, Any]] = []
    for piece in plan.pieces:
        group = plan.group if piece.grain else None
        searches.append({"index": _piece_index(prefix, query, piece), "ignore_unavailable": True,
                         "allow_no_indices": True})  # fmt: skip
        searches.append(piece_body(query, TimeRange(piece.start, piece.end), group))
    answers = client.msearch(searches=searches).body.get("responses", [])
    return [None if "error" in answer else answer for answer in answers]


def _read_piece(  # noqa: PLR0917 (one piece of one plan)
    client: Elasticsearch,
    prefix: str,
    query: Query,
    group: RollupGroup | None,
    piece: Piece,
    first: Mapping[str, Any] | None = None,
) -> list[tuple[Key, list[Any]]]:
    time_range = TimeRange(piece.start, piece.end)
    index = _piece_index(prefix, query, piece)
    rows: list[tuple[Key, list[Any]]] = []
    after: dict[str, Any] | None = None
    while True:
        if first is not None:
            response, first = first, None
        else:
            body = piece_body(query, time_range, group if piece.grain else None, after)
            response = client.search(
                index=index, body=body, ignore_unavailable=True, allow_no_indices=True
            ).body
        check_shards(response)
        page, after = read_piece(query, response)
        rows.extend(page)
        if after is None:
            return rows


def piece_body(
    query: Query,
    time_range: TimeRange,
    group: RollupGroup | None,
    after: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The search of one piece: raw events (``group`` None) or one group's rollups. The same
    filters and buckets as the raw search; the metrics as partial sums (pure)."""
    query_clause = builder.filter_query(query, time_range)
    if group is not None:
        query_clause["bool"]["filter"].append({"term": {GROUP_FIELD: group.name}})
    aggs = partial_aggs(query.metrics, rollup=group is not None)
    if not query.dimensions:
        totals = {"filter": {"match_all": {}}, "aggs": aggs}
        return {"size": 0, "track_total_hits": False, "query": query_clause,
                "aggs": {TOTALS: totals}}  # fmt: skip
    body = builder.composite_body(query, time_range, dict(after) if after else None)
    body["query"] = query_clause
    body["aggs"]["rows"]["aggs"] = aggs
    return body


def partial_aggs(metrics: Sequence[Metric], *, rollup: bool) -> dict[str, Any]:
    """Per metric ``i``: ``v{i}`` its sum, minimum or maximum (for an average its sum) and, for
    an average, ``n{i}`` its number of values; a count is the bucket's own."""
    aggs: dict[str, Any] = {}
    for position, metric in enumerate(metrics):
        if metric.kind == "count" or metric.field is None:
            continue
        kind = "sum" if metric.kind == "avg" else metric.kind
        field = measure_field(kind, metric.field) if rollup else metric.field
        aggs[f"v{position}"] = {kind: {"field": field}}
        if metric.kind == "avg":
            if rollup:
                aggs[f"n{position}"] = {"sum": {"field": measure_field("count", metric.field)}}
            else:
                aggs[f"n{position}"] = {"value_count": {"field": metric.field}}
    return aggs


def read_piece(
    query: Query, response: Mapping[str, Any]
) -> tuple[list[tuple[Key, list[Any]]], dict[str, Any] | None]:
    """The partial rows of one answer to ``piece_body`` and the key of the next page (pure)."""
    aggregations = response.get("aggregations") or {}
    if not query.dimensions:
        totals = aggregations.get(TOTALS)
        if totals is None:  # no index at all
            return [], None
        return [((), partial_values(query.metrics, totals))], None
    composite = aggregations.get("rows", {})
    buckets = composite.get("buckets", [])
    rows = []
    for bucket in buckets:
        key = tuple(bucket["key"][f"d{i}"] for i in range(len(query.dimensions)))
        rows.append((key, partial_values(query.metrics, bucket)))
    after = composite.get("after_key")
    if not after or len(buckets) < builder.COMPOSITE_PAGE:
        return rows, None
    return rows, after


def partial_values(metrics: Sequence[Metric], bucket: Mapping[str, Any]) -> list[Any]:
    """A bucket's partial value of each metric: a count, a sum, a minimum or maximum (None:
    no value), or an average's (sum, number of values)."""
    values: list[Any] = []
    for position, metric in enumerate(metrics):
        if metric.kind == "count":
            values.append(int(bucket["doc_count"]))
        elif metric.kind == "avg":
            total = bucket[f"v{position}"]["value"] or 0.0
            values.append((float(total), int(bucket[f"n{position}"]["value"] or 0)))
        elif metric.kind == "sum":
            values.append(float(bucket[f"v{position}"]["value"] or 0.0))
        else:
            value = bucket[f"v{position}"]["value"]
            values.append(None if value is None else float(value))
    return values


def empty_partial(metrics: Sequence[Metric]) -> list[Any]:
    """The partial values of no documents at all."""
    empty: dict[str, Any] = {"count": 0, "sum": 0.0, "avg": (0.0, 0)}
    return [empty.get(metric.kind) for metric in metrics]


def merge(metrics: Sequence[Metric], one: list[Any], other: list[Any]) -> list[Any]:
    """Two pieces' partial values of the same row, added up."""
    merged: list[Any] = []
    for metric, a, b in zip(metrics, one, other, strict=True):
        if metric.kind in ("count", "sum"):
            merged.append(a + b)
        elif metric.kind == "avg":
            merged.append((a[0] + b[0], a[1] + b[1]))
        elif a is None or b is None:
            merged.append(a if b is None else b)
        else:
            merged.append(min(a, b) if metric.kind == "min" else max(a, b))
    return merged


def finish(metrics: Sequence[Metric], values: list[Any]) -> Values:
    """Partial values as the answer gives them (read as the raw answer's values are)."""
    shaped: dict[str, Any] = {}
    count = 0
    for metric, value in zip(metrics, values, strict=True):
        if metric.kind == "count":
            count = int(value)
        elif metric.kind == "avg":
            total, number = value
            shaped[metric.name] = {"value": total / number if number else None}
        else:
            shaped[metric.name] = {"value": value}
    return builder.read_metrics(tuple(metrics), shaped, count)


def composite_order(key: Key) -> tuple[tuple[int, Any], ...]:
    """A composite aggregation's order of keys: each value ascending, a missing one first."""
    return tuple((0, "") if value is None else (1, value) for value in key)
