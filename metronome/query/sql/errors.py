"""Refusals of a SQL statement: a 422 whose message and ``position`` say where (line, column).

Codes: ``invalid_sql`` (the text is not SQL that parses, or names what cannot be: a stream
name that is none, a column number beyond the SELECT, a date that is none...),
``unsupported_sql`` (SQL, but a construct this service does not read: a join, a subquery, a
function we lack...),
``sql_too_complex`` (over a bound: text length, nesting, IN list, conditions). The query's own
codes (``unknown_field``, ``unsuitable_field``, ``invalid_range``, ``too_many_buckets``...) keep
their meaning, with the position added.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from metronome.errors import ApiError

FIELD = "sql"


@dataclass(frozen=True)
class Position:
    line: int  # from 1
    column: int  # from 1, in characters


def position_at(text: str, offset: int) -> Position:
    """The line and column of the character at ``offset`` (0-based) of ``text``."""
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    return Position(line, offset - (text.rfind("\n", 0, offset) + 1) + 1)


# Constructs that begin with a keyword the parser keeps no place for: found in the text,
# backwards from the first of their parts that has one.
KEYWORDS: dict[type[exp.Expr], str] = {
    exp.Case: "CASE", exp.Select: "SELECT", exp.Subquery: "SELECT", exp.Join: "JOIN",
}  # fmt: skip


def node_offset(node: exp.Expr, text: str = "") -> int | None:
    """Where ``node`` starts in the text: the first token of it that the parser placed (or
    the keyword that opens it)."""
    starts = [
        int(part.meta_get("start")) for part in node.walk() if part.meta_get("start") is not None
    ]
    if not starts:
        return None
    first = min(starts)
    keyword = KEYWORDS.get(type(node))
    if keyword and text:
        found = text.upper().rfind(keyword, 0, first + 1)
        return found if found >= 0 else first
    return first


def sql_error(
    status: int, code: str, message: str, text: str, where: exp.Expr | int | None
) -> ApiError:
    """An ``ApiError`` naming where in ``text`` the problem is, when that is known."""
    offset = node_offset(where, text) if isinstance(where, exp.Expr) else where
    if offset is None:
        return ApiError(status, code, message, field=FIELD)
    position = position_at(text, offset)
    place = f" (line {position.line}, column {position.column})"
    if message.endswith("."):
        message = message[:-1] + place + "."
    else:
        message += place
    return ApiError(
        status,
        code,
        message,
        field=FIELD,
        extra={"position": {"line": position.line, "column": position.column}},
    )


def unsupported(what: str, text: str, where: exp.Expr | int | None) -> ApiError:
    """422 ``unsupported_sql``: ``what`` (a construct, as the user wrote it) is not read here."""
    return sql_error(422, "unsupported_sql", f"{what} is not supported.", text, where)


def with_position(error: ApiError, text: str, where: exp.Expr | int | None) -> ApiError:
    """A refusal of the query model (unknown_field...) with the place in the text added."""
    return sql_error(error.status, error.code, error.message, text, where)
