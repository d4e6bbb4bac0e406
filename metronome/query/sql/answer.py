"""A plan's answer: its columns and rows in ``SELECT`` order, after ``HAVING``, ``OFFSET`` and
``LIMIT``; as JSON (with the query API's ``meta``) or as CSV (the query API's export code).
Pure functions."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from metronome.query import export
from metronome.query.model import APPROXIMATE, Metric
from metronome.query.result import META_SCHEMA, normalised, query_result
from metronome.query.runner import Outcome, labels
from metronome.query.sql.having import passes
from metronome.query.sql.translate import MAX_LIMIT, SqlPlan

# The JSON answer's schema, for /openapi.json.
SQL_RESULT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["columns", "rows", "meta", "query"],
    "properties": {
        "columns": {"type": "array", "items": {"type": "string"}},
        "rows": {"type": "array", "items": {"type": "array"}},
        "meta": {
            "type": "object",
            "required": ["total_rows", "offset", "limit", "has_more", "approximate"],
            "properties": {
                **{
                    name: schema
                    for name, schema in META_SCHEMA["properties"].items()
                    if name not in ("page", "limit")
                },
                "offset": {"type": "integer", "minimum": 0},
                "limit": {"type": "integer", "minimum": 0},
                "approximate_columns": {"type": "array", "items": {"type": "string"}},
            },
        },
        "query": {"type": "object", "description": "The query the statement was run as."},
    },
}


def answer_rows(
    plan: SqlPlan, outcome: Outcome, *, every_row: bool = False
) -> tuple[list[list[Any]], int]:
    """The rows asked (``OFFSET``, ``LIMIT``; ``every_row``: no cap without a LIMIT) in
    ``SELECT`` order, and how many rows the whole answer has."""
    rows = outcome.rows
    if plan.having is not None:
        rows = [row for row in rows if passes(plan.having, [*row.key, *row.metrics])]
        total = len(rows)
    else:
        total = len(rows) if outcome.total_rows is None else outcome.total_rows
    limit = plan.limit
    if limit is None:
        limit = len(rows) if every_row else MAX_LIMIT
    positions = [plan.position(column) for column in plan.columns]
    page = []
    for row in rows[plan.offset : plan.offset + limit]:
        values = [*labels(plan.query, row.key), *row.metrics]
        page.append([values[position] for position in positions])
    return page, total


def sql_result(plan: SqlPlan, outcome: Outcome) -> dict[str, Any]:
    """The JSON answer: ``columns``, ``rows``, ``meta`` (the query API's, counted in rows of
    this answer) and the ``query`` the statement was run as."""
    rows, total = answer_rows(plan, outcome)
    limit = MAX_LIMIT if plan.limit is None else plan.limit
    meta = query_result(replace(plan.query, limit=1), outcome)["meta"]
    meta.pop("page", None)
    meta.update(
        {
            "total_rows": total,
            "offset": plan.offset,
            "limit": limit,
            "has_more": plan.offset + limit < total,
            "approximate_columns": [
                column.name
                for column in plan.columns
                if isinstance(column.term, Metric) and column.term.kind in APPROXIMATE
            ],
        }
    )
    return {
        "columns": [column.name for column in plan.columns],
        "rows": rows,
        "meta": meta,
        "query": normalised(plan.query),
    }


def sql_csv(plan: SqlPlan, outcome: Outcome) -> str:
    rows, _ = answer_rows(plan, outcome, every_row=True)
    return "".join(export.rows_to_csv([column.name for column in plan.columns], rows))
