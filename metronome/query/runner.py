"""Run a ``Query`` against Elasticsearch: page through every bucket, align the comparison.

Rows are (dimension values, metric values). The exact plan reads every bucket (composite
paging), then orders and pages here, so ``total_rows`` is exact and nothing is cut silently; a
breakdown with more than ``MAX_ROWS`` rows is refused with a 422 that says how to narrow it.
A top-N question (``metronome.query.topn``) reads only its candidate groups, and its
comparison only those.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from metronome.config.rollups import RollupSettings
from metronome.errors import ApiError
from metronome.es.naming import indices_for_range, stream_pattern
from metronome.query import builder, planner, topn
from metronome.query.calendar import bucket_key, bucket_starts
from metronome.query.compare import bucket_pairs
from metronome.query.model import OrderBy, Query, TimeRange
from metronome.query.reads import check_shards

MAX_ROWS = 100_000
ZERO_METRICS = frozenset({"count", "visitors", "sessions", "sum", "distinct"})

Values = list[float | int | None]


@dataclass(frozen=True)
class Row:
    key: tuple[Any, ...]  # raw dimension values; a time dimension as its bucket start (datetime)
    metrics: Values
    compare: Values | None = None


@dataclass(frozen=True)
class Outcome:
    rows: list[Row]  # every row, ordered (a top-N plan: every row up to the asked page)
    latest_received: str | None
    total_rows: int | None = None  # None: len(rows)
    total_rows_exact: bool = True
    order_exact: bool = True  # False: a top-N answer whose rows or order may be off
    plan: str = "exact"  # or "top_n"
    source: planner.Source = "raw"  # what the rows were read from (rollups, raw events, both)


def run_query(
    client: Elasticsearch, prefix: str, query: Query, rollups: RollupSettings | None = None
) -> Outcome:
    """The answer to ``query``; from rollups where ``metronome.query.planner`` finds them
    exactly equal to raw events (``rollups`` None: raw events only)."""
    if topn.uses_top_n(query):
        return _run_top(client, prefix, query)
    # the freshness search does not depend on the answer: it runs beside it
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="freshness") as beside:
        latest = beside.submit(latest_received, client, prefix, query)
        plans = planner.plans_for(client, prefix, query, rollups)
        if plans is not None:
            planned = planned_outcome(client, prefix, query, plans, None)
            return replace(planned, latest_received=latest.result())
        rows = _fetch(client, prefix, query, query.range)
        if query.compare is not None:
            previous = _fetch(client, prefix, query, query.compare.range)
            rows = align(query, rows, previous)
        return Outcome(rows=order_rows(query, rows), latest_received=latest.result())


def planned_outcome(
    client: Elasticsearch,
    prefix: str,
    query: Query,
    plans: tuple[planner.Plan, planner.Plan | None],
    latest: str | None,
) -> Outcome:
    """The answer to ``query`` read as its plans say (the range's, the comparison's)."""
    main, compare = plans
    rows = planned_rows(client, prefix, query, query.range, main)
    if query.compare is not None and compare is not None:
        previous = planned_rows(client, prefix, query, query.compare.range, compare)
        rows = align(query, rows, previous)
    return Outcome(
        rows=order_rows(query, rows),
        latest_received=latest,
        source=planner.source_of([main] if compare is None else [main, compare]),
    )


def planned_rows(
    client: Elasticsearch, prefix: str, query: Query, time_range: TimeRange, plan: planner.Plan
) -> list[Row]:
    """Every row of one range read as ``plan`` says (raw events alone: as ``_fetch`` reads)."""
    if plan.raw_only:
        return _fetch(client, prefix, query, time_range)
    rows = [
        Row(key=tuple(_key_value(query, i, raw) for i, raw in enumerate(key)), metrics=values)
        for key, values in planner.fetch(client, prefix, query, plan)
    ]
    check_row_count(rows)
    return complete_rows(query, time_range, rows)


def _run_top(client: Elasticsearch, prefix: str, query: Query) -> Outcome:
    index = indices_for_range(prefix, query.stream, query.range.start, query.range.end)
    response = client.search(
        index=index,
        body=topn.top_body(query, query.range),
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    check_shards(response.body)
    answer = topn.read_top(query, response.body)
    rows = top_rows(query, answer)
    if rows is None:
        rows = _fetch(client, prefix, query, query.range, answer.keys)
    previous = None
    if query.compare is not None:
        previous = _fetch(client, prefix, query, query.compare.range, answer.keys)
    return top_outcome(query, answer, rows, previous, latest_received(client, prefix, query))


def top_rows(query: Query, answer: topn.TopAnswer) -> list[Row] | None:
    """The candidates' rows when the first search's values are whole, else None."""
    if answer.values is None:
        return None
    return [
        Row(key=(key,), metrics=builder.read_metrics(query.metrics, aggs, count))
        for key, aggs, count in answer.values
    ]


def top_outcome(
    query: Query,
    answer: topn.TopAnswer,
    rows: list[Row],
    previous: list[Row] | None,
    latest: str | None,
) -> Outcome:
    """A top-N answer from the candidates' exact rows (and their compared rows): ordered as
    the exact plan orders them, cut after the asked page."""
    kept = order_rows(query, rows)[: topn.wanted(query)]
    exact_order = topn.order_exact(query, answer, [row.metrics for row in kept])
    if previous is not None:
        kept = align(query, kept, previous)
    return Outcome(
        rows=kept,
        latest_received=latest,
        total_rows=answer.total_rows,
        total_rows_exact=answer.total_exact,
        order_exact=exact_order,
        plan="top_n",
    )


def latest_received(client: Elasticsearch, prefix: str, query: Query) -> str | None:
    """When the site's newest data arrived: yesterday's and today's indices answer for an
    active site; only a quiet one costs a search over every daily index."""
    now = datetime.now(UTC)
    for index in (
        indices_for_range(prefix, query.stream, now - timedelta(days=1), now + timedelta(days=1)),
        stream_pattern(prefix, query.stream),
    ):
        response = client.search(
            index=index,
            body=builder.freshness_body(query.site),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        latest = response.get("aggregations", {}).get("latest_received", {}).get("value_as_string")
        if latest:
            return str(latest)
    return None


def _fetch(
    client: Elasticsearch,
    prefix: str,
    query: Query,
    time_range: TimeRange,
    keys: Sequence[Any] | None = None,
) -> list[Row]:
    """Every row of one range (only the groups ``keys`` of a one-dimension query, if given)."""
    index = indices_for_range(prefix, query.stream, time_range.start, time_range.end)
    rows: list[Row] = []
    after: dict[str, Any] | None = None
    while True:
        body = request_body(query, time_range, after)
        response = client.search(
            index=index,
            body=body if keys is None else topn.restrict(body, query, keys),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        check_shards(response.body)
        page, after = read_response(query, response.body)
        rows.extend(page)
        check_row_count(rows)
        if after is None:
            break
    return complete_rows(query, time_range, rows)


def request_body(
    query: Query, time_range: TimeRange, after: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The search body of one page of ``query`` over ``time_range`` (pure): the totals of a
    query without dimensions, else the composite page after ``after``."""
    if not query.dimensions:
        return builder.totals_body(query, time_range)
    return builder.composite_body(query, time_range, after)


def read_response(
    query: Query, response: Mapping[str, Any]
) -> tuple[list[Row], dict[str, Any] | None]:
    """The rows of one answer to ``request_body`` and the key to ask the next page after
    (None: that was the last). Pure, so that a multi-search reads its answers the same way."""
    if not query.dimensions:
        aggs = response.get("aggregations", {})
        count = int(response["hits"]["total"]["value"])
        if not aggs and any(m.kind != "count" for m in query.metrics):
            return [Row(key=(), metrics=_empty_metrics(query))], None
        return [Row(key=(), metrics=builder.read_metrics(query.metrics, aggs, count))], None
    composite = response.get("aggregations", {}).get("rows", {})
    rows = []
    for bucket in composite.get("buckets", []):
        key = tuple(
            _key_value(query, i, bucket["key"][f"d{i}"]) for i in range(len(query.dimensions))
        )
        metrics = builder.read_metrics(query.metrics, bucket, int(bucket["doc_count"]))
        rows.append(Row(key=key, metrics=metrics))
    after = composite.get("after_key")
    # A page that is not full is the last: no need to ask for an empty one.
    if not after or len(composite.get("buckets", [])) < builder.COMPOSITE_PAGE:
        return rows, None
    return rows, after


def check_row_count(rows: Sequence[Row]) -> None:
    if len(rows) > MAX_ROWS:
        raise ApiError(
            422,
            "too_many_rows",
            f"This breakdown has more than {MAX_ROWS} rows; add filters, fewer dimensions "
            "or a larger interval (GET /api/v1/events exports raw events without limit).",
            field="dimensions",
        )


def complete_rows(query: Query, time_range: TimeRange, rows: list[Row]) -> list[Row]:
    """Every row of one range: a time series alone is zero-filled."""
    if len(query.dimensions) == 1 and query.dimensions[0].is_time:
        return _zero_fill(query, time_range, rows)
    return rows


def _key_value(query: Query, index: int, raw: Any) -> Any:
    if query.dimensions[index].is_time and raw is not None:
        return datetime.fromtimestamp(raw / 1000, UTC)  # a bucket start: see calendar.py
    return raw


def _empty_metrics(query: Query) -> Values:
    return [0 if m.kind in ZERO_METRICS else None for m in query.metrics]


def _zero_fill(query: Query, time_range: TimeRange, rows: list[Row]) -> list[Row]:
    dimension = query.dimensions[0]
    assert dimension.interval is not None
    found = {row.key[0]: row for row in rows}
    starts = bucket_starts(time_range.start, time_range.end, dimension.interval, query.tz, 100_000)
    return [
        found.get(start) or Row(key=(start,), metrics=_empty_metrics(query)) for start in starts
    ]


def align(query: Query, rows: list[Row], previous: list[Row]) -> list[Row]:
    """The rows of the main range, each with its matching row of the compared range."""
    assert query.compare is not None
    time_dimension = query.time_dimension
    time_index = query.dimensions.index(time_dimension) if time_dimension else None
    by_key = {row.key: row.metrics for row in previous}
    pairs: dict[datetime, datetime | None] = {}
    if time_dimension is not None and time_dimension.interval is not None:
        interval, tz = time_dimension.interval, query.tz
        main_buckets = bucket_starts(query.range.start, query.range.end, interval, tz, 100_000)
        compare_buckets = bucket_starts(
            query.compare.range.start, query.compare.range.end, interval, tz, 100_000
        )
        pairs = bucket_pairs(main_buckets, compare_buckets, query.compare.mode, interval, tz)
    aligned = []
    for row in rows:
        key = list(row.key)
        if time_index is not None:
            key[time_index] = pairs.get(row.key[time_index])
        aligned.append(
            Row(
                key=row.key,
                metrics=row.metrics,
                compare=by_key.get(tuple(key)) or _empty_metrics(query),
            )
        )
    return aligned


def order_rows(query: Query, rows: list[Row]) -> list[Row]:
    names = [m.name for m in query.metrics]
    dimension_names = [d.name for d in query.dimensions]
    order = list(query.order_by)
    if not order:
        if query.time_dimension is not None:
            order = []  # composite order: time (and other dimensions) ascending
        elif query.dimensions:
            order = [OrderBy(name=names[0], descending=True)]
    for item in reversed(order):  # stable sorts, last key first
        rows = sorted(rows, key=_sort_key(item, names, dimension_names), reverse=item.descending)
    return rows


def _sort_key(
    item: OrderBy, metric_names: list[str], dimension_names: list[str]
) -> Callable[[Row], tuple[int, Any]]:
    if item.name in metric_names:
        position = metric_names.index(item.name)
        return lambda row: _sortable(row.metrics[position], item.descending)
    position = dimension_names.index(item.name)
    return lambda row: _sortable(row.key[position], item.descending)


def _sortable(value: Any, descending: bool) -> tuple[int, Any]:
    # None sorts last either way; mixed types (a missing bucket) compare by their text.
    if value is None:
        return (0, "") if descending else (1, "")
    if isinstance(value, bool | int | float):
        return (1, float(value)) if descending else (0, float(value))
    return (1, str(value)) if descending else (0, str(value))


def key_label(query: Query, index: int, value: Any) -> Any:
    """A dimension value as it appears in results: time buckets as their API key."""
    dimension = query.dimensions[index]
    if dimension.interval is not None and isinstance(value, datetime):
        return bucket_key(value, dimension.interval, query.tz)
    return value


def labels(query: Query, key: Sequence[Any]) -> list[Any]:
    return [key_label(query, i, value) for i, value in enumerate(key)]
