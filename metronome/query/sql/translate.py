"""A checked ``SELECT`` -> the typed ``Query`` the query API runs, plus what SQL adds on top
of it: the columns in ``SELECT`` order with their names, ``HAVING``, ``OFFSET`` and ``LIMIT``.

- ``SELECT``: grouped fields and time buckets (``date_trunc('hour', @timestamp)``, the
  Allezon spec's ``1m_bucket(time)``), and ``COUNT(*)``, ``COUNT(DISTINCT x)``, ``SUM``,
  ``AVG``, ``MIN``, ``MAX`` of numeric fields; ``AS`` names a column. ``SELECT DISTINCT a, b``
  is ``GROUP BY a, b``.
- ``GROUP BY``: the query's dimensions (an expression, a column's name or its number).
- ``WHERE``: conditions.py. ``HAVING``: having.py, on the rows the query answers.
- ``ORDER BY``: the query's ``order_by`` (a column's name or number, or an expression).
- ``LIMIT`` / ``OFFSET``: which rows of the answer; the query reads at least
  ``OFFSET + LIMIT`` rows (every row with ``HAVING``, or for a file).

``COUNT(DISTINCT visitor)`` and ``COUNT(DISTINCT session)`` are the query API's ``visitors`` and
``sessions``; every distinct count is an estimate, and declared one (``meta.approximate``).
Pure functions: the catalog's fields, the site and the clock come in as values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast
from zoneinfo import ZoneInfo

from sqlglot import exp

from metronome.errors import ApiError
from metronome.query.calendar import Interval
from metronome.query.catalog import FieldKind
from metronome.query.model import Dimension, Metric, MetricKind, OrderBy, Query, TimeRange
from metronome.query.parse import DIMENSION_KINDS, check_bucket_count, resolve_date_range
from metronome.query.sql.conditions import (
    COMPARISONS,
    MAX_CONDITIONS,
    MIRRORED,
    conjuncts,
    literal_value,
    translate_where,
)
from metronome.query.sql.errors import sql_error, unsupported, with_position
from metronome.query.sql.having import Comparison, RowCondition
from metronome.query.sql.names import TIME_FIELD, Source, source_of, stored_field, written_name
from metronome.query.sql.statement import BUCKET_FUNCTIONS, Statement

DEFAULT_RANGE = "30d"  # without a condition on time: the query API's default
MAX_DIMENSIONS = 5
MAX_METRICS = 20
MAX_LIMIT = 10_000  # rows of one JSON answer (a file holds every row)
FIELD_AGGREGATES: dict[type[exp.Expr], MetricKind] = {
    exp.Sum: "sum", exp.Avg: "avg", exp.Min: "min", exp.Max: "max",
}  # fmt: skip
UNITS: dict[str, Interval] = {
    unit.upper(): unit for unit in ("minute", "hour", "day", "week", "month", "quarter", "year")
}
# COUNT(DISTINCT f) of these fields is the query API's own metric of the same number.
DISTINCT_METRICS: dict[str, MetricKind] = {"visitor": "visitors", "session": "sessions"}

Term = Dimension | Metric


@dataclass(frozen=True)
class Column:
    name: str
    term: Term


@dataclass(frozen=True)
class SqlPlan:
    """The query to run, and how its rows become the statement's answer."""

    sql: str
    source: Source
    query: Query
    columns: tuple[Column, ...]
    having: RowCondition | None = None
    offset: int = 0
    limit: int | None = None  # None: no LIMIT (a JSON answer then holds MAX_LIMIT rows)

    def position(self, column: Column) -> int:
        """Where a column's values are in a row's values (dimensions, then metrics)."""
        if isinstance(column.term, Dimension):
            return self.query.dimensions.index(column.term)
        return len(self.query.dimensions) + self.query.metrics.index(column.term)


@dataclass
class _Builder:
    statement: Statement
    source: Source
    known: Mapping[str, FieldKind]
    selected: list[Column] = field(default_factory=list)
    metrics: list[Metric] = field(default_factory=list)

    @property
    def text(self) -> str:
        return self.statement.text

    def metric(self, metric: Metric) -> Metric:
        if metric not in self.metrics:
            self.metrics.append(metric)
        return metric


def translate(
    statement: Statement,
    site: str,
    known: Mapping[str, FieldKind],
    now: datetime,
    tz: ZoneInfo,
    *,
    every_row: bool = False,
) -> SqlPlan:
    """The plan of ``statement`` over ``site``; ``every_row``: a file, which holds every row
    (its ``LIMIT`` still applies). ``ApiError`` (422) naming what cannot be read, and where."""
    source = source_of(statement)
    select, text = statement.select, statement.text
    builder = _Builder(statement, source, known)
    for item in select.expressions:
        builder.selected.append(_select_item(item, builder))
    for column in builder.selected:
        if isinstance(column.term, Metric):
            builder.metric(column.term)
    dimensions = _dimensions(select, builder)
    having = _having(select, builder, dimensions)
    order_by = _order_by(select, builder, dimensions)
    if not builder.metrics:  # SELECT DISTINCT a / GROUP BY a alone: groups need a metric
        builder.metric(Metric("count"))
    if len(builder.metrics) > MAX_METRICS:
        raise unsupported(f"More than {MAX_METRICS} aggregates", text, select)
    where = translate_where(select, text=text, source=source, known=known, tz=tz, now=now)
    time_range = _time_range(
        start=where.start, end=where.end, tz=tz, now=now, text=text, select=select
    )
    for dimension in dimensions:
        if dimension.interval is not None:
            try:
                check_bucket_count(time_range, dimension.interval, tz)
            except ApiError as error:
                raise with_position(error, text, select.args.get("group")) from None
    offset = _count(select.args.get("offset"), "OFFSET", text)
    limit_node = select.args.get("limit")
    limit = _count(limit_node, "LIMIT", text) if limit_node is not None else None
    if limit is not None and limit > MAX_LIMIT and not every_row:
        message = f"LIMIT is at most {MAX_LIMIT} in a JSON answer (a CSV file holds every row)."
        raise sql_error(422, "invalid_sql", message, text, limit_node)
    rows = offset + (MAX_LIMIT if limit is None else limit)
    query = Query(
        site=site,
        stream=source.stream,
        metrics=tuple(builder.metrics),
        dimensions=dimensions,
        filters=where.filters,
        range=time_range,
        tz=tz,
        compare=None,
        order_by=order_by,
        limit=max(1, rows),
        page=1,
        exact=every_row or having is not None,
    )
    return SqlPlan(text, source, query, tuple(builder.selected), having, offset, limit)


# --- SELECT -------------------------------------------------------------------------------


def _select_item(item: exp.Expr, builder: _Builder) -> Column:
    alias = None
    if isinstance(item, exp.Alias):
        alias, item = str(item.alias), item.this
    if isinstance(item, exp.Star) or (
        isinstance(item, exp.Column) and isinstance(item.this, exp.Star)
    ):
        raise unsupported(
            "SELECT * (raw documents are exported by GET /api/v1/events)", builder.text, item
        )
    term = _term(item, builder)
    return Column(alias or _default_name(item, term), term)


def _default_name(node: exp.Expr, term: Term) -> str:
    """A column's name when ``AS`` gives none: a field as written, ``count``, ``sum_price``,
    ``count_distinct_visitor``, the bucket's unit (``hour``), ``1m_bucket``."""
    node = _unbracketed(node)
    written = written_name(node)
    if written is not None:
        return written
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower()
    if isinstance(term, Dimension):
        return str(term.interval)
    if term.kind == "count":
        return "count"
    argument = node.this if isinstance(node, exp.Func) else None
    if isinstance(argument, exp.Distinct) and argument.expressions:
        return f"count_distinct_{written_name(argument.expressions[0])}"
    inner = written_name(argument) if argument is not None else None
    return f"{term.kind}_{inner or term.field}"


def _term(node: exp.Expr, builder: _Builder) -> Term:
    """A dimension (a field, a time bucket) or a metric (an aggregate) that ``node`` writes."""
    node = _unbracketed(node)
    text = builder.text
    if isinstance(node, exp.Count):
        return _count_metric(node, builder)
    kind = FIELD_AGGREGATES.get(type(node))
    if kind is not None:
        if isinstance(node.this, exp.Distinct) or len(node.expressions) > 0:
            raise unsupported(f"{kind.upper()} of DISTINCT or of two values", text, node)
        name, field_kind = _field(node.this, builder)
        if field_kind != "number":
            error = ApiError(
                422,
                "unsuitable_field",
                f"{kind.upper()} needs a numeric field; {name!r} is {field_kind}.",
            )
            raise with_position(error, text, node.this)
        return Metric(kind, name)
    if isinstance(node, exp.DateTrunc | exp.TimestampTrunc):
        return _date_trunc(node, builder)
    if isinstance(node, exp.Anonymous) and str(node.this).lower() in BUCKET_FUNCTIONS:
        if len(node.expressions) != 1 or not _is_time(node.expressions[0], builder):
            raise unsupported(f"{node.this}() of anything but the time field", text, node)
        return Dimension(interval="minute")
    found = stored_field(node, builder.source, builder.known, text)
    if found is None:
        raise unsupported(f"{_excerpt(node)} as a column", text, node)
    name, field_kind = found
    if name == TIME_FIELD:
        message = "Grouping by the raw time (group by a bucket: date_trunc('hour', @timestamp))"
        raise unsupported(message, text, node)
    if field_kind not in DIMENSION_KINDS:
        hint = f" (try {name}.keyword)" if f"{name}.keyword" in builder.known else ""
        error = ApiError(
            422, "unsuitable_field", f"{name!r} is full text and cannot be grouped by{hint}."
        )
        raise with_position(error, text, node)
    return Dimension(field=name)


def _count_metric(node: exp.Count, builder: _Builder) -> Metric:
    argument = node.this
    if isinstance(argument, exp.Star):
        return Metric("count")
    if isinstance(argument, exp.Distinct) and len(argument.expressions) == 1:
        name, kind = _field(argument.expressions[0], builder)
        if kind not in DIMENSION_KINDS:
            error = ApiError(
                422,
                "unsuitable_field",
                f"COUNT(DISTINCT) needs an exact-value field; {name!r} is {kind}.",
            )
            raise with_position(error, builder.text, argument)
        if name in DISTINCT_METRICS:
            return Metric(DISTINCT_METRICS[name])
        return Metric("distinct", name)
    raise unsupported(
        "COUNT of a value (COUNT(*) counts rows, COUNT(DISTINCT x) distinct values)",
        builder.text,
        node,
    )


def _date_trunc(node: exp.Expr, builder: _Builder) -> Dimension:
    unit = node.args.get("unit")
    extra = [key for key in ("zone", "expression") if node.args.get(key) is not None]
    unit_name = str(unit.name).upper() if isinstance(unit, exp.Literal | exp.Var) else ""
    if extra or unit_name not in UNITS:
        raise unsupported(
            f"{_excerpt(node)} (date_trunc takes 'minute', 'hour', 'day', 'week', 'month', "
            "'quarter' or 'year', and the time field)",
            builder.text,
            node,
        )
    if not _is_time(node.this, builder):
        raise unsupported("date_trunc() of anything but the time field", builder.text, node)
    return Dimension(interval=UNITS[unit_name])


def _is_time(node: exp.Expr, builder: _Builder) -> bool:
    name = written_name(node)
    return name is not None and builder.source.names.get(name, name) == TIME_FIELD


def _field(node: exp.Expr, builder: _Builder) -> tuple[str, FieldKind]:
    found = stored_field(node, builder.source, builder.known, builder.text)
    if found is None:
        raise unsupported(f"{_excerpt(node)} where a field is expected", builder.text, node)
    return found


# --- GROUP BY, HAVING, ORDER BY -----------------------------------------------------------


def _dimensions(select: exp.Select, builder: _Builder) -> tuple[Dimension, ...]:
    text = builder.text
    group = select.args.get("group")
    distinct = select.args.get("distinct")
    if distinct is not None and distinct.args.get("on") is not None:
        raise unsupported("DISTINCT ON", text, distinct)
    dimensions: list[Dimension] = []
    if group is not None:
        for key in ("rollup", "cube", "grouping_sets", "totals"):
            if group.args.get(key):
                raise unsupported(f"GROUP BY {key.upper()}", text, group)
        for item in group.expressions:
            term = _reference(item, builder)
            if not isinstance(term, Dimension):
                raise unsupported("An aggregate in GROUP BY", text, item)
            if term not in dimensions:
                dimensions.append(term)
    if distinct is not None:
        dimensions = _distinct(builder, distinct, group)
    for column in builder.selected:
        if isinstance(column.term, Dimension) and column.term not in dimensions:
            message = (
                f"{column.name!r} is neither grouped nor aggregated: add it to GROUP BY "
                "(raw documents are exported by GET /api/v1/events)."
            )
            raise sql_error(
                422, "inconsistent_query", message, text, _select_node(select, column, builder)
            )
    if len(dimensions) > MAX_DIMENSIONS:
        raise unsupported(f"More than {MAX_DIMENSIONS} GROUP BY columns", text, group)
    if sum(dimension.is_time for dimension in dimensions) > 1:
        message = "Group by one time bucket at most."
        raise sql_error(422, "inconsistent_query", message, text, group)
    return tuple(dimensions)


def _distinct(builder: _Builder, distinct: exp.Expr, group: exp.Expr | None) -> list[Dimension]:
    """SELECT DISTINCT a, b: GROUP BY a, b."""
    selected = [column.term for column in builder.selected]
    if group is not None or any(isinstance(term, Metric) for term in selected):
        raise unsupported("SELECT DISTINCT with GROUP BY or aggregates", builder.text, distinct)
    return [term for term in dict.fromkeys(selected) if isinstance(term, Dimension)]


def _select_node(select: exp.Select, column: Column, builder: _Builder) -> exp.Expr:
    index = builder.selected.index(column)
    node: exp.Expr = select.expressions[index]
    return node


def _reference(node: exp.Expr, builder: _Builder, *, output_first: bool = False) -> Term:
    """What a GROUP BY, ORDER BY or HAVING item names: a column's number (1 = the first), a
    column's name (AS), or an expression. A name that is both a column's and a field's is the
    field, except in ORDER BY (``output_first``), as in standard SQL."""
    node = _unbracketed(node)
    if isinstance(node, exp.Literal) and not node.is_string:
        number = str(node.this)
        if not number.isdigit() or not 1 <= int(number) <= len(builder.selected):
            message = f"There is no column {number[:20]} (the SELECT has {len(builder.selected)})."
            raise sql_error(422, "invalid_sql", message, builder.text, node)
        return builder.selected[int(number) - 1].term
    if isinstance(node, exp.Column) and len(node.parts) == 1:
        named = [column for column in builder.selected if column.name == node.name]
        if named and (output_first or named[0].name not in builder.known):
            return named[0].term
    return _term(node, builder)


def _having(
    select: exp.Select, builder: _Builder, dimensions: tuple[Dimension, ...]
) -> RowCondition | None:
    having = select.args.get("having")
    if having is None:
        return None
    leaves = sum(1 for node in having.walk() if type(node) in COMPARISONS)
    if leaves > MAX_CONDITIONS:
        message = f"More than {MAX_CONDITIONS} conditions in HAVING."
        raise sql_error(422, "sql_too_complex", message, builder.text, having)
    return _row_condition(having.this, builder, dimensions)


def _row_condition(
    node: exp.Expr, builder: _Builder, dimensions: tuple[Dimension, ...]
) -> RowCondition:
    node = _unbracketed(node)
    text = builder.text
    if isinstance(node, exp.And):
        return RowCondition(
            "all", parts=tuple(_row_condition(p, builder, dimensions) for p in conjuncts(node))
        )
    if isinstance(node, exp.Or):
        either = (node.this, node.expression)
        return RowCondition(
            "any", parts=tuple(_row_condition(p, builder, dimensions) for p in either)
        )
    if isinstance(node, exp.Not):
        return RowCondition("not", parts=(_row_condition(node.this, builder, dimensions),))
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        return RowCondition("is_null", column=_row_column(node.this, builder, dimensions))
    if isinstance(node, exp.Between):
        column = _row_column(node.this, builder, dimensions)
        low = _row_value(node.args["low"], builder, column, dimensions)
        high = _row_value(node.args["high"], builder, column, dimensions)
        parts = (
            RowCondition("compare", column, "gte", low),
            RowCondition("compare", column, "lte", high),
        )
        return RowCondition("all", parts=parts)
    op = COMPARISONS.get(type(node))
    if op is None:
        raise unsupported(f"The HAVING condition {_excerpt(node)}", text, node)
    left, right = node.this, node.expression
    if _is_value(left) and not _is_value(right):
        left, right, op = right, left, MIRRORED[op]
    column = _row_column(left, builder, dimensions)
    value = _row_value(right, builder, column, dimensions)
    return RowCondition("compare", column, cast(Comparison, op), value)


def _is_value(node: exp.Expr) -> bool:
    return isinstance(_unbracketed(node), exp.Literal | exp.Neg | exp.Boolean)


def _row_column(node: exp.Expr, builder: _Builder, dimensions: tuple[Dimension, ...]) -> int:
    term = _reference(node, builder)
    if isinstance(term, Metric):
        return len(dimensions) + builder.metrics.index(builder.metric(term))
    if term not in dimensions or term.is_time:
        raise unsupported(
            "HAVING on a column that is not grouped, or on a time bucket", builder.text, node
        )
    return dimensions.index(term)


def _row_value(
    node: exp.Expr, builder: _Builder, column: int, dimensions: tuple[Dimension, ...]
) -> str | float | bool:
    value = literal_value(_unbracketed(node), builder.text)
    numeric = isinstance(value, int | float) and not isinstance(value, bool)
    if column >= len(dimensions) and not numeric:
        raise unsupported(
            "Comparing an aggregate with something other than a number", builder.text, node
        )
    return value


def _order_by(
    select: exp.Select, builder: _Builder, dimensions: tuple[Dimension, ...]
) -> tuple[OrderBy, ...]:
    order = select.args.get("order")
    if order is None:
        return ()
    items: list[OrderBy] = []
    for item in order.expressions:
        term = _reference(item.this, builder, output_first=True)
        if isinstance(term, Metric):
            builder.metric(term)
        elif term not in dimensions:
            message = f"ORDER BY {_excerpt(item.this)}: not a grouped column."
            raise sql_error(422, "inconsistent_query", message, builder.text, item)
        items.append(OrderBy(name=term.name, descending=bool(item.args.get("desc"))))
    return tuple(items)


# --- WHERE's time range, LIMIT, OFFSET ----------------------------------------------------


def _time_range(
    *,
    start: datetime | None,
    end: datetime | None,
    tz: ZoneInfo,
    now: datetime,
    text: str,
    select: exp.Select,
) -> TimeRange:
    """WHERE's bounds; without them the last 30 days (a lower bound alone: up to the end of
    today; an upper bound alone: the 30 days before it)."""
    default = resolve_date_range(DEFAULT_RANGE, tz, now)
    if start is None and end is not None:
        start = end - (default.end - default.start)
    time_range = TimeRange(start or default.start, end or default.end)
    if time_range.start >= time_range.end:
        message = "The time conditions leave no time: the start is not before the end."
        raise sql_error(422, "invalid_range", message, text, select.args.get("where"))
    return time_range


def _count(node: exp.Expr | None, what: str, text: str) -> int:
    if node is None:
        return 0
    value = node.args.get("expression")
    if not isinstance(value, exp.Literal) or value.is_string or not str(value.this).isdigit():
        raise unsupported(f"{what} other than a whole number", text, node)
    number = int(str(value.this))
    if number > 10**9:
        raise sql_error(422, "invalid_sql", f"{what} is too large.", text, node)
    return number


def _unbracketed(node: exp.Expr) -> exp.Expr:
    while isinstance(node, exp.Paren):
        node = node.this
    return node


def _excerpt(node: exp.Expr) -> str:
    return node.sql()[:60]
