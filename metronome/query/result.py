"""The response of ``POST /api/v1/query``: the only place that decides its JSON shape."""

from __future__ import annotations

from typing import Any

from metronome.query.compare import change_percent
from metronome.query.model import APPROXIMATE, COMPOUND_OPS, Filter, Query
from metronome.query.runner import Outcome, Row, labels

# The JSON answer's schema, for /openapi.json: ``meta`` in full, the rows in outline.
META_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "total_rows", "total_rows_exact", "page", "limit", "has_more", "approximate",
        "approximate_metrics", "plan", "source", "freshness",
    ],
    "properties": {
        "total_rows": {"type": "integer", "minimum": 0,
                       "description": "Rows of the whole answer, every page."},
        "total_rows_exact": {
            "type": "boolean",
            "description": "false: total_rows is a distinct count (top_n plan), off by a "
            "few in 10,000 below 40,000 groups, an estimate above.",
        },
        "page": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1},
        "has_more": {"type": "boolean"},
        "approximate": {
            "type": "boolean",
            "description": "A metric may be an estimate, or (top_n plan) a group left out by a "
            "daily index could rank among the rows answered.",
        },
        "approximate_metrics": {"type": "array", "items": {"type": "string"}},
        "plan": {
            "type": "string",
            "enum": ["exact", "top_n"],
            "description": "exact: every group read; top_n: the candidate groups of a top-N "
            "question only (their values exact).",
        },
        "source": {
            "type": "string",
            "enum": ["rollup", "raw", "rollup+raw"],
            "description": "What the answer was read from: rollups, raw events, or rollups up "
            "to where they are complete and raw events for the rest (docs/rollups.md).",
        },
        "freshness": {
            "type": "object",
            "properties": {"latest_received_at": {"type": ["string", "null"]}},
        },
    },
}  # fmt: skip
RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["results", "meta", "query"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["dimensions", "metrics"],
                "properties": {
                    "dimensions": {"type": "array"},
                    "metrics": {"type": "array", "items": {"type": ["number", "null"]}},
                    "compare": {"type": "object"},
                },
            },
        },
        "meta": META_SCHEMA,
        "query": {"type": "object"},
    },
}


def query_result(query: Query, outcome: Outcome) -> dict[str, Any]:
    start = (query.page - 1) * query.limit
    page = outcome.rows[start : start + query.limit]
    total = len(outcome.rows) if outcome.total_rows is None else outcome.total_rows
    return {
        "results": [_row(query, row) for row in page],
        "meta": {
            "total_rows": total,
            "total_rows_exact": outcome.total_rows_exact,
            "page": query.page,
            "limit": query.limit,
            "has_more": start + query.limit < total,
            "approximate": query.approximate or not outcome.order_exact,
            "approximate_metrics": [m.name for m in query.metrics if m.kind in APPROXIMATE],
            "plan": outcome.plan,
            "source": outcome.source,
            "freshness": {"latest_received_at": outcome.latest_received},
        },
        "query": normalised(query),
    }


def _row(query: Query, row: Row) -> dict[str, Any]:
    result: dict[str, Any] = {"dimensions": labels(query, row.key), "metrics": row.metrics}
    if row.compare is not None:
        result["compare"] = {
            "metrics": row.compare,
            "change": [
                change_percent(_num(now), _num(before))
                for now, before in zip(row.metrics, row.compare, strict=True)
            ],
        }
    return result


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def normalised(query: Query) -> dict[str, Any]:
    """The query as it was understood: names resolved, ranges absolute."""
    data: dict[str, Any] = {
        "site": query.site,
        "stream": query.stream,
        "metrics": [m.name for m in query.metrics],
        "date_range": [query.range.start.isoformat(), query.range.end.isoformat()],
        "dimensions": [d.name for d in query.dimensions],
        "filters": [filter_json(f) for f in query.filters],
        "tz": query.tz.key,
        "order_by": [[o.name, "desc" if o.descending else "asc"] for o in query.order_by],
        "limit": query.limit,
        "page": query.page,
        "exact": query.exact,
    }
    if query.compare is not None:
        data["compare"] = {
            "mode": query.compare.mode,
            "date_range": [
                query.compare.range.start.isoformat(),
                query.compare.range.end.isoformat(),
            ],
        }
    return data


def filter_json(item: Filter) -> list[Any]:
    """A filter as the query API writes it; a compound one (SQL) as [op, [conditions]]."""
    if item.op in COMPOUND_OPS:
        return [item.op, [filter_json(child) for child in item.children]]
    return [item.op, item.field, list(item.values)]


def header(query: Query) -> list[str]:
    """Column names of the file exports: dimensions, metrics, then comparison columns."""
    names = [d.name for d in query.dimensions], [m.name for m in query.metrics]
    return column_names(*names, query.compare is not None)


def column_names(dimensions: list[str], metrics: list[str], compared: bool) -> list[str]:
    """``header`` from names (also of an answer's normalised ``query``, for reports)."""
    columns = [*dimensions, *metrics]
    if compared:
        columns += [f"{name} (compare)" for name in metrics]
        columns += [f"{name} change %" for name in metrics]
    return columns


def flat_rows(query: Query, outcome: Outcome) -> list[list[Any]]:
    """Every row (all pages) as a flat list, in ``header`` order, for CSV/XLSX/NDJSON."""
    rows = []
    for row in outcome.rows:
        values: list[Any] = [*labels(query, row.key), *row.metrics]
        if row.compare is not None:
            values += row.compare
            values += [
                change_percent(_num(a), _num(b))
                for a, b in zip(row.metrics, row.compare, strict=True)
            ]
        rows.append(values)
    return rows
