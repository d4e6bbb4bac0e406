"""What a statement's names mean: the stream a ``FROM`` names, and the stored field a column
names (``referrer.host``, ``"product_info.price"``, ``@timestamp``; the Allezon names of
``FROM events``). Pure functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlglot import exp

from metronome.errors import ApiError
from metronome.es.naming import is_valid_stream
from metronome.query.catalog import FieldKind
from metronome.query.parse import FIELD_NAME
from metronome.query.sql.errors import sql_error, with_position
from metronome.query.sql.statement import Statement

TIME_FIELD = "@timestamp"
EVENTS = "events"  # the Allezon specification's table: its tags, stored in the hits stream
# The names the Allezon specification's SQL uses, as the fields of a stored tag.
EVENTS_NAMES = {
    "time": TIME_FIELD,
    "price": "product_info.price",
    "brand_id": "product_info.brand_id",
    "category_id": "product_info.category_id",
    "product_id": "product_info.product_id",
}


@dataclass(frozen=True)
class Source:
    """The stream a ``FROM`` reads, and the names it gives some of its fields."""

    table: str  # as written, lower case
    stream: str
    names: Mapping[str, str] = field(default_factory=dict)

    @property
    def allezon(self) -> bool:
        return self.table == EVENTS


def source_of(statement: Statement) -> Source:
    """``FROM hits``, ``FROM logs``, any stream name; ``FROM events``: the hits stream with the
    Allezon names (``time``, ``price``...)."""
    table = statement.table
    name = str(table.name).lower()
    if table.args.get("alias") is not None:
        raise sql_error(
            422, "unsupported_sql", "A table alias is not supported.", statement.text, table
        )
    if name == EVENTS:
        return Source(table=name, stream="hits", names=EVENTS_NAMES)
    if not is_valid_stream(name):
        message = f"{name[:40]!r} is not a stream name (hits, logs, events, a source's stream)."
        raise sql_error(422, "invalid_sql", message, statement.text, table)
    return Source(table=name, stream=name)


def written_name(node: exp.Expr) -> str | None:
    """The dotted name a column reference spells (``a.b.c``, ``"a.b"``, ``@timestamp``), or
    None when ``node`` is no column reference."""
    parts: list[str] = []
    while isinstance(node, exp.Dot):  # a.b.c.d.e: the deepest part is a Column
        if not isinstance(node.expression, exp.Identifier):
            return None
        parts.append(str(node.expression.name))
        node = node.this
    if isinstance(node, exp.Column):
        if not isinstance(node.this, exp.Identifier):
            return None  # a star
        parts.extend(str(part.name) for part in reversed(node.parts))
    elif isinstance(node, exp.Parameter) and isinstance(node.this, exp.Var | exp.Identifier):
        parts.append(f"@{node.this.name}")
    else:
        return None
    return ".".join(reversed(parts))


def stored_field(
    node: exp.Expr,
    source: Source,
    known: Mapping[str, FieldKind],
    text: str,
) -> tuple[str, FieldKind] | None:
    """The stored field (and its kind) a column reference names; None when ``node`` is not a
    column reference; 422 unknown_field when the stream has no such field."""
    written = written_name(node)
    if written is None:
        return None
    name = source.names.get(written, written)
    if not FIELD_NAME.fullmatch(name):
        message = f"{written[:80]!r} is not a field name."
        raise sql_error(422, "invalid_sql", message, text, node)
    kind = known.get(name)
    if kind is None and name == TIME_FIELD:
        kind = "date"  # every stream has it, before its first document too
    if kind is None:
        error = ApiError(
            422, "unknown_field", f"Unknown field {name!r}: nothing in this stream has it."
        )
        raise with_position(error, text, node)
    return name, kind
