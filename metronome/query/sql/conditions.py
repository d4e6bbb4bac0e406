"""``WHERE`` -> the query's time range, its filters (model.py's operators) and its site.

The conditions joined by the top-level ``AND`` that bound the time field (``@timestamp``;
``time`` of ``FROM events``) with ``>=``, ``>``, ``<``, ``<=``, ``=`` or ``BETWEEN`` make the
range; the one ``site = '...'`` names the site. Every other condition becomes a filter: ``=``,
``<>``/``!=``, ``IN``, ``LIKE``/``ILIKE``, comparisons of numbers and times, ``BETWEEN``,
``IS [NOT] NULL``, joined by ``AND``, ``OR`` and ``NOT``. As in the query API, a document
without a field is among those where it ``<>`` a value (SQL's NULL logic would leave it out).
Values are only ever exact values of term, range and wildcard queries. Pure functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlglot import exp

from metronome.errors import ApiError
from metronome.query.catalog import FieldKind
from metronome.query.model import Filter, FilterOp
from metronome.query.parse import MAX_VALUE_LENGTH
from metronome.query.sql.errors import sql_error, unsupported, with_position
from metronome.query.sql.names import TIME_FIELD, Source, stored_field, written_name
from metronome.query.timerange import parse_instant

MAX_IN_VALUES = 1000
MAX_CONDITIONS = 100  # in WHERE, and in HAVING
MILLISECOND = timedelta(milliseconds=1)  # what Elasticsearch's dates resolve
Value = str | float | bool
COMPARISONS: dict[type[exp.Expr], str] = {
    exp.GT: "gt", exp.GTE: "gte", exp.LT: "lt", exp.LTE: "lte", exp.EQ: "eq", exp.NEQ: "neq",
}  # fmt: skip
# a < b is b > a
MIRRORED = {"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "neq": "neq"}


@dataclass(frozen=True)
class Where:
    start: datetime | None  # inclusive
    end: datetime | None  # exclusive
    filters: tuple[Filter, ...]


@dataclass(frozen=True)
class _Context:
    text: str
    source: Source
    known: Mapping[str, FieldKind]
    tz: ZoneInfo
    now: datetime


def conjuncts(condition: exp.Expr | None) -> list[exp.Expr]:
    """The conditions joined by the top-level AND (brackets around them dropped)."""
    if condition is None:
        return []
    parts, stack = [], [condition]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Paren):
            stack.append(node.this)
        elif isinstance(node, exp.And):
            stack.extend([node.expression, node.this])
        else:
            parts.append(node)
    return parts


def site_condition(select: exp.Select, text: str) -> str | None:
    """The site a top-level ``site = '...'`` names (at most one such condition); None when
    there is none. ``site`` anywhere else is refused: the site is one, from the key."""
    where = select.args.get("where")
    found: str | None = None
    top = conjuncts(where.this if where else None)
    for node in top:
        if _is_site_equality(node):
            value = node.expression if written_name(node.this) else node.this
            site = str(value.this)
            if found is not None and site != found:
                raise sql_error(422, "inconsistent_query", "Two different sites.", text, node)
            found = site
    for node in where.this.walk() if where else ():
        if written_name(node) == "site" and not any(
            _is_site_equality(top_node) and node.parent is top_node for top_node in top
        ):
            raise unsupported(
                "A condition on site other than one top-level site = '...'", text, node
            )
    return found


def _is_site_equality(node: exp.Expr) -> bool:
    if not isinstance(node, exp.EQ):
        return False
    sides = (node.this, node.expression)
    return any(written_name(side) == "site" for side in sides) and any(
        isinstance(side, exp.Literal) and side.is_string for side in sides
    )


def translate_where(
    select: exp.Select,
    *,
    text: str,
    source: Source,
    known: Mapping[str, FieldKind],
    tz: ZoneInfo,
    now: datetime,
) -> Where:
    context = _Context(text, source, known, tz, now)
    where = select.args.get("where")
    if where is None:
        return Where(None, None, ())
    start: datetime | None = None
    end: datetime | None = None
    filters: list[Filter] = []
    _count_conditions(where.this, text)
    for node in conjuncts(where.this):
        if _is_site_equality(node):
            continue  # the query's site (site_condition)
        bounds = _time_bounds(node, context)
        if bounds is None:
            filters.append(_condition(node, context))
            continue
        low, high = bounds
        if low is not None:
            start = low if start is None else max(start, low)
        if high is not None:
            end = high if end is None else min(end, high)
    return Where(start, end, tuple(filters))


def _count_conditions(node: exp.Expr, text: str) -> None:
    count = sum(1 for part in node.walk() if _is_leaf_condition(part))
    if count > MAX_CONDITIONS:
        message = f"More than {MAX_CONDITIONS} conditions (use IN (...) for many values)."
        raise sql_error(422, "sql_too_complex", message, text, node)


def _is_leaf_condition(node: exp.Expr) -> bool:
    return isinstance(node, (*COMPARISONS, exp.In, exp.Like, exp.ILike, exp.Between, exp.Is))


# --- the time range -----------------------------------------------------------------------


def _time_bounds(
    node: exp.Expr, context: _Context
) -> tuple[datetime | None, datetime | None] | None:
    """[start, end) of a comparison of the time field with an instant; None for others."""
    if isinstance(node, exp.Between) and _is_time(node.this, context):
        low = _instant(node.args["low"], context)
        high = _instant(node.args["high"], context)
        return low, high + MILLISECOND
    op = COMPARISONS.get(type(node))
    if op is None:
        return None
    left, right = node.this, node.expression
    if _is_time(right, context) and not _is_time(left, context):
        left, right, op = right, left, MIRRORED[op]
    if not _is_time(left, context):
        return None
    moment = _instant(right, context)
    if op == "neq":
        raise unsupported("<> on the time field (use < and >)", context.text, node)
    return {
        "gte": (moment, None),
        "gt": (moment + MILLISECOND, None),
        "lt": (None, moment),
        "lte": (None, moment + MILLISECOND),
        "eq": (moment, moment + MILLISECOND),
    }[op]


def _is_time(node: exp.Expr, context: _Context) -> bool:
    name = written_name(node)
    return name is not None and context.source.names.get(name, name) == TIME_FIELD


def _instant(node: exp.Expr, context: _Context) -> datetime:
    """An instant as SQL writes one: '2024-01-31', '2024-01-31T12:00[:00[.000]][Z|+01:00]',
    'now-7d', epoch milliseconds, TIMESTAMP '...', CURRENT_TIMESTAMP; in the request's zone."""
    if isinstance(node, exp.CurrentTimestamp):
        return context.now.astimezone(context.tz)
    if isinstance(node, exp.Cast) and node.to.is_type(
        exp.DataType.Type.TIMESTAMP, exp.DataType.Type.DATE, exp.DataType.Type.TIMESTAMPTZ
    ):
        node = node.this
    if not isinstance(node, exp.Literal):
        raise unsupported("A time that is not a literal", context.text, node)
    try:
        return parse_instant(str(node.this), context.tz, context.now, "sql")
    except ApiError as error:  # not a date (400 in a URL): a statement that is wrong, 422
        code = error.code if error.status == 422 else "invalid_sql"
        raise with_position(ApiError(422, code, error.message), context.text, node) from None


# --- filters ------------------------------------------------------------------------------


def _condition(node: exp.Expr, context: _Context) -> Filter:
    while isinstance(node, exp.Paren):
        node = node.this
    if node.args.get("negate"):  # x NOT LIKE 'a%' is read as NOT (x LIKE 'a%')
        positive = node.copy()
        positive.set("negate", None)
        return Filter("not", "", (), (_condition(positive, context),))
    if isinstance(node, exp.And | exp.Or):
        op: FilterOp = "all" if isinstance(node, exp.And) else "any"
        parts = conjuncts(node) if op == "all" else _disjuncts(node)
        return Filter(op, "", (), tuple(_condition(part, context) for part in parts))
    if isinstance(node, exp.Not):
        inner = _condition(node.this, context)
        if inner.op == "is":
            return Filter("is_not", inner.field, inner.values)
        if inner.op == "is_not":
            return Filter("is", inner.field, inner.values)
        return Filter("not", "", (), (inner,))
    if type(node) in COMPARISONS:
        return _comparison(node, context)
    if isinstance(node, exp.In):
        return _in(node, context)
    if isinstance(node, exp.Like | exp.ILike):
        return _like(node, context)
    if isinstance(node, exp.Between):
        field, kind = _field(node.this, context)
        low = _range_value(node.args["low"], kind, field, context)
        high = _range_value(node.args["high"], kind, field, context)
        children = (Filter("gte", field, (low,)), Filter("lte", field, (high,)))
        return Filter("all", "", (), children)
    if isinstance(node, exp.Is) and isinstance(node.expression, exp.Null):
        field, _ = _field(node.this, context)
        return Filter("not", "", (), (Filter("exists", field, ()),))
    raise unsupported(f"The condition {_excerpt(node)}", context.text, node)


def _disjuncts(node: exp.Expr) -> list[exp.Expr]:
    parts, stack = [], [node]
    while stack:
        item = stack.pop()
        if isinstance(item, exp.Paren):
            stack.append(item.this)
        elif isinstance(item, exp.Or):
            stack.extend([item.expression, item.this])
        else:
            parts.append(item)
    return parts


def _comparison(node: exp.Expr, context: _Context) -> Filter:
    op = COMPARISONS[type(node)]
    left, right = node.this, node.expression
    if written_name(left) is None and written_name(right) is not None:
        left, right, op = right, left, MIRRORED[op]
    field, kind = _field(left, context)
    if written_name(right) is not None:
        raise unsupported("Comparing two fields", context.text, node)
    if isinstance(right, exp.Null):
        raise unsupported("= NULL (write IS NULL or IS NOT NULL)", context.text, node)
    if op in ("eq", "neq"):
        value = _exact_value(right, kind, field, context)
        return Filter("is" if op == "eq" else "is_not", field, (value,))
    return Filter(op, field, (_range_value(right, kind, field, context),))  # type: ignore[arg-type]


def _in(node: exp.In, context: _Context) -> Filter:
    if node.args.get("query") is not None or node.args.get("unnest") is not None:
        raise unsupported("A subquery", context.text, node)
    field, kind = _field(node.this, context)
    items = node.expressions
    if not items:
        raise unsupported("An empty IN ()", context.text, node)
    if len(items) > MAX_IN_VALUES:
        message = f"IN lists at most {MAX_IN_VALUES} values; this one has {len(items)}."
        raise sql_error(422, "sql_too_complex", message, context.text, node)
    values = tuple(_exact_value(item, kind, field, context) for item in items)
    return Filter("is", field, tuple(dict.fromkeys(values)))


def _like(node: exp.Like | exp.ILike, context: _Context) -> Filter:
    field, kind = _field(node.this, context)
    pattern = node.expression
    if not (isinstance(pattern, exp.Literal) and pattern.is_string):
        raise unsupported("LIKE with a pattern that is not a text literal", context.text, node)
    if kind != "keyword":
        error = ApiError(
            422, "unsuitable_field", f"LIKE works on keyword fields; {field!r} is {kind}."
        )
        raise with_position(error, context.text, node.this)
    text = _text(pattern, context)
    op: FilterOp = "ilike" if isinstance(node, exp.ILike) else "like"
    return Filter(op, field, (wildcard(text),))


def wildcard(pattern: str) -> str:
    """A LIKE pattern as an Elasticsearch wildcard: ``%`` -> ``*``, ``_`` -> ``?``, a
    backslash makes the next character plain; ``*``, ``?`` and ``\\`` are plain themselves."""
    out: list[str] = []
    escaped = False
    for char in pattern:
        if escaped:
            out.append(_plain(char))
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_plain(char))
    if escaped:
        out.append("\\\\")
    return "".join(out)


def _plain(char: str) -> str:
    return "\\" + char if char in "*?\\" else char


def _field(node: exp.Expr, context: _Context) -> tuple[str, FieldKind]:
    found = stored_field(node, context.source, context.known, context.text)
    if found is None:
        raise unsupported(f"{_excerpt(node)} where a field is expected", context.text, node)
    return found


def _exact_value(node: exp.Expr, kind: FieldKind, field: str, context: _Context) -> Value:
    if kind == "date":
        return _instant(node, context).isoformat()
    value = literal_value(node, context.text)
    if kind == "number" and (isinstance(value, bool) or not isinstance(value, float | int)):
        raise _unsuitable(f"{field!r} is a number: compare it with numbers.", node, context)
    if kind == "boolean" and not isinstance(value, bool):
        raise _unsuitable(f"{field!r} is true or false.", node, context)
    return value


def _range_value(node: exp.Expr, kind: FieldKind, field: str, context: _Context) -> Value:
    if kind == "date":
        return _instant(node, context).isoformat()
    if kind != "number":
        message = f"<, <=, >, >= and BETWEEN work on numbers and times; {field!r} is {kind}."
        raise _unsuitable(message, node, context)
    return _exact_value(node, kind, field, context)


def _unsuitable(message: str, node: exp.Expr, context: _Context) -> ApiError:
    return with_position(ApiError(422, "unsuitable_field", message), context.text, node)


def literal_value(node: exp.Expr, text: str) -> Value:
    """A literal's value: text (at most ``MAX_VALUE_LENGTH``), a finite number, true/false."""
    negative = False
    if isinstance(node, exp.Neg):
        negative, node = True, node.this
    if isinstance(node, exp.Boolean) and not negative:
        return bool(node.this)
    if not isinstance(node, exp.Literal) or (negative and node.is_string):
        raise unsupported(f"{_excerpt(node)} where a value is expected", text, node)
    if node.is_string:
        return _text_value(node, text)
    number = float(str(node.this))
    if not math.isfinite(number):
        raise sql_error(422, "invalid_sql", "A number too large.", text, node)
    if number.is_integer() and abs(number) < 2**53 and "." not in str(node.this):
        return -int(number) if negative else int(number)
    return -number if negative else number


def _text(node: exp.Literal, context: _Context) -> str:
    return _text_value(node, context.text)


def _text_value(node: exp.Literal, text: str) -> str:
    value = str(node.this)
    if len(value) > MAX_VALUE_LENGTH:
        message = f"Values are at most {MAX_VALUE_LENGTH} characters."
        raise sql_error(422, "invalid_sql", message, text, node)
    return value


def _excerpt(node: exp.Expr) -> str:
    return node.sql()[:60]
