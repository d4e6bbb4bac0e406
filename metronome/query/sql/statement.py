"""SQL text -> one checked ``SELECT`` syntax tree (sqlglot), or a 4xx saying what and where.

Every request's cost is bounded before and while it is parsed: the text's length, the depth
of its brackets and of runs of prefix operators (``NOT NOT ...``, ``- - 1``) are checked on the
tokens, before the parser (which recurses) sees them; the tree's depth is checked after. One
statement only: a second one after a ``;`` is refused wherever it hides (comments are not
statements, so ``-- ... \\n; DROP ...`` is refused as the second statement it is). Then every
node of the tree must be of a kind this service reads (``ALLOWED``); the first other one is
named with its position: a join, a subquery, a window, a function we lack...

The dialect is sqlglot's default (standard SQL: ``'text'``, ``"name"``) with names that may
start with a digit, so that the Allezon specification's ``1m_bucket(time)`` reads as written.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass

from sqlglot import Token, TokenType, exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError

from metronome.errors import ApiError
from metronome.query.sql.errors import sql_error, unsupported

MAX_SQL_LENGTH = 10_000  # characters
MAX_BRACKET_DEPTH = 32
MAX_PREFIX_RUN = 16  # NOT NOT NOT ..., - - - 1
MAX_TREE_DEPTH = 160  # an AND or OR chain is as deep as it is long
BUCKET_FUNCTIONS = frozenset({"1m_bucket"})  # the Allezon spec's minute buckets
OPENING = frozenset({TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE})
CLOSING = frozenset({TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE})
PREFIX = frozenset({TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE})
_MISSING_DELIMITER = re.compile(r"Missing .* from \d+:(\d+)")
_CLASS = re.compile(r"<class '[\w.]*\.(\w+)'>")  # the parser's messages name its classes

# The node kinds a statement may hold; how each one is read is translate.py's.
ALLOWED: tuple[type[exp.Expr], ...] = (
    exp.Select, exp.From, exp.Table, exp.Identifier, exp.Column, exp.Dot, exp.Parameter,
    exp.Literal, exp.Boolean, exp.Null, exp.Star, exp.Alias, exp.Where, exp.Group, exp.Having,
    exp.Order, exp.Ordered, exp.Limit, exp.Offset, exp.Paren, exp.And, exp.Or, exp.Not,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.In, exp.Like, exp.ILike,
    exp.Between, exp.Is, exp.Neg, exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.Distinct,
    exp.DateTrunc, exp.TimestampTrunc, exp.Cast, exp.DataType, exp.CurrentTimestamp,
)  # fmt: skip
# Names for what a user may write that is not read here (others: the node's own key).
NAMES: dict[type[exp.Expr], str] = {
    exp.Join: "JOIN",
    exp.Subquery: "A subquery",
    exp.Select: "A subquery",
    exp.With: "WITH (a common table expression)",
    exp.Window: "A window function (OVER)",
    exp.Union: "UNION",
    exp.Intersect: "INTERSECT",
    exp.Except: "EXCEPT",
    exp.Case: "CASE",
    exp.If: "IF",
    exp.Placeholder: "A placeholder (?, :name)",
    exp.TableAlias: "A table alias",
    exp.Lateral: "LATERAL",
    exp.Into: "SELECT ... INTO",
    exp.Escape: "LIKE ... ESCAPE (a backslash escapes % and _)",
    exp.Var: "A bare keyword or variable",
    exp.Interval: "INTERVAL (write times as '2024-01-31T12:00' or 'now-7d')",
    exp.Add: "Arithmetic (+)",
    exp.Sub: "Arithmetic (-)",
    exp.Mul: "Arithmetic (*)",
    exp.Div: "Arithmetic (/)",
    exp.Mod: "Arithmetic (%)",
    exp.DPipe: "String concatenation (||)",
    exp.Tuple: "A row value (a, b)",
    exp.Array: "An array",
    exp.Bracket: "Subscripts ([...])",
}


# The parser logs a statement it reads as an opaque command (CALL ...), text and all: a
# request's text stays out of the logs; the refusal says it all.
logging.getLogger("sqlglot").setLevel(logging.ERROR)


class _Dialect(Dialect):
    """Standard SQL as sqlglot reads it by default; names may start with a digit."""

    IDENTIFIERS_CAN_START_WITH_DIGIT = True


DIALECT = _Dialect()


@dataclass(frozen=True)
class Statement:
    text: str
    select: exp.Select
    table: exp.Table


def parse_statement(text: str) -> Statement:
    """The one ``SELECT`` of ``text``; an ``ApiError`` (422) naming what is wrong and where."""
    if len(text) > MAX_SQL_LENGTH:
        raise ApiError(
            422,
            "sql_too_complex",
            f"The statement is longer than {MAX_SQL_LENGTH} characters.",
            field="sql",
        )
    tokens = _tokens(text)
    if not tokens:
        raise ApiError(422, "invalid_sql", "The statement is empty.", field="sql")
    _check_tokens(text, tokens)
    tree = _parse(text, tokens)
    _check_depth(text, tree)
    _place_parameters(tree, tokens)
    _check_kinds(text, tree)
    return Statement(text=text, select=tree, table=_table(text, tree))


def _tokens(text: str) -> list[Token]:
    try:
        return DIALECT.tokenize(text)
    except TokenError as error:
        offset = len(text.rstrip())
        found = _MISSING_DELIMITER.search(str(error.__cause__ or ""))
        if found:  # an unterminated quote: where it opens
            offset = int(found.group(1))
        message = "The text cannot be read as SQL: a quote or comment that never ends?"
        raise sql_error(422, "invalid_sql", message, text, offset) from None


def _check_tokens(text: str, tokens: list[Token]) -> None:
    depth = run = 0
    ended = False  # a ";" was seen
    for token in tokens:
        kind = token.token_type
        if kind == TokenType.SEMICOLON:
            ended = True
            continue
        if ended:
            raise sql_error(
                422,
                "unsupported_sql",
                "A second statement: one SELECT is read per request.",
                text,
                token.start,
            )
        depth += (kind in OPENING) - (kind in CLOSING)
        run = run + 1 if kind in PREFIX else 0
        if depth > MAX_BRACKET_DEPTH:
            message = f"Brackets nest deeper than {MAX_BRACKET_DEPTH} levels."
            raise sql_error(422, "sql_too_complex", message, text, token.start)
        if run > MAX_PREFIX_RUN:
            message = f"More than {MAX_PREFIX_RUN} prefix operators (NOT, -) in a row."
            raise sql_error(422, "sql_too_complex", message, text, token.start)


def _parse(text: str, tokens: list[Token]) -> exp.Select:
    try:
        trees = [tree for tree in DIALECT.parser().parse(tokens, text) if tree is not None]
    except ParseError as error:
        raise _syntax_error(text, error) from None
    except RecursionError:
        message = "The statement nests too deeply to be read."
        raise sql_error(422, "sql_too_complex", message, text, None) from None
    except SqlglotError as error:
        raise sql_error(422, "invalid_sql", f"Not SQL: {error}"[:300], text, None) from None
    if not trees:
        raise ApiError(422, "invalid_sql", "The statement is empty.", field="sql")
    tree = trees[0]
    if not isinstance(tree, exp.Select):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        what = NAMES.get(type(tree), f"A {kind[:40]} statement")
        message = f"{what} is not supported: one SELECT is read."
        raise sql_error(422, "unsupported_sql", message, text, tokens[0].start)
    return tree


def _syntax_error(text: str, error: ParseError) -> ApiError:
    details = error.errors[0] if error.errors else {}
    description = _CLASS.sub(r"\1", str(details.get("description") or "Invalid SQL"))
    line, column = details.get("line"), details.get("col")
    highlight = str(details.get("highlight") or "")
    offset = None
    if isinstance(line, int) and isinstance(column, int):
        lines = text.split("\n")
        start = sum(len(part) + 1 for part in lines[: line - 1])
        offset = start + max(0, column - len(highlight))  # sqlglot points at the token's end
    near = f" near {highlight[:40]!r}" if highlight else ""
    return sql_error(422, "invalid_sql", f"{description}{near}.", text, offset)


def _place_parameters(tree: exp.Select, tokens: list[Token]) -> None:
    """``@timestamp`` is a parameter to the parser, which keeps no place for it: take its
    place from the tokens (an ``@`` then the name), in the order they come."""
    places: dict[str, list[int]] = {}
    for at, name in itertools.pairwise(tokens):
        if at.token_type == TokenType.PARAMETER:
            places.setdefault(name.text, []).append(at.start)
    for node in tree.walk(bfs=False):
        if isinstance(node, exp.Parameter) and node.meta_get("start") is None:
            free = places.get(str(node.name), [])
            if free:
                node.meta["start"] = free.pop(0)


def _check_depth(text: str, tree: exp.Expr) -> None:
    stack: list[tuple[exp.Expr, int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            message = (
                f"The statement nests more than {MAX_TREE_DEPTH} levels deep (a long chain "
                "of AND or OR: use IN (...) for many values)."
            )
            raise sql_error(422, "sql_too_complex", message, text, node)
        stack.extend((child, depth + 1) for child in node.iter_expressions())


def _check_kinds(text: str, tree: exp.Select) -> None:
    for node in tree.walk():
        if node is tree:
            continue
        if isinstance(node, exp.Anonymous):
            if str(node.this).lower() in BUCKET_FUNCTIONS:
                continue
            raise unsupported(f"The function {str(node.this)[:40]}()", text, node)
        if isinstance(node, exp.Var) and isinstance(node.parent, exp.Parameter):
            continue
        if isinstance(node, ALLOWED) and not isinstance(node, exp.Select):
            continue
        what = NAMES.get(type(node))
        if what is None and isinstance(node, exp.Func):
            what = f"The function {node.sql_name()}()"
        raise unsupported(what or node.key.upper(), text, node)


def _table(text: str, select: exp.Select) -> exp.Table:
    source = select.args.get("from_") or select.args.get("from")
    if not isinstance(source, exp.From):
        message = "A SELECT needs FROM <stream> (hits, logs, events...)."
        raise sql_error(422, "unsupported_sql", message, text, select)
    table = source.this
    if not isinstance(table, exp.Table) or table.args.get("db") or table.args.get("catalog"):
        raise unsupported("A FROM other than one stream name", text, table)
    return table
