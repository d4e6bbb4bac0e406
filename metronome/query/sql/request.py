"""The body of ``POST /api/v1/sql``: the statement, and how to answer it (pure).

The marshmallow schema is the endpoint's description in /openapi.json as well as its check;
what it cannot state (the SQL itself) is statement.py's and translate.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from metronome.config import describe
from metronome.errors import ApiError
from metronome.query.sql.statement import MAX_SQL_LENGTH
from metronome.query.timerange import parse_tz, time_zone_schema

SQL_FORMATS: tuple[str, ...] = ("json", "csv")
EXAMPLE = (
    "SELECT date_trunc('day', @timestamp) AS day, count(*), COUNT(DISTINCT visitor) "
    "FROM hits WHERE event = 'view' AND @timestamp >= 'now-7d/d' GROUP BY day ORDER BY day"
)


class SqlSchema(Schema):
    """The request body of ``POST /api/v1/sql``."""

    class Meta:
        unknown = RAISE

    sql = fields.String(
        required=True,
        validate=validate.Length(min=1, max=MAX_SQL_LENGTH),
        metadata={
            "description": "One SELECT over a stream (FROM hits, logs, events or a source's "
            "stream); docs/sql.md says what is read.",
            "example": EXAMPLE,
        },
    )
    site = fields.String(
        metadata={
            "description": "Site to read (default: a site = '...' condition of the statement, "
            "else ?site=, else default_site; FROM events: the Allezon site)."
        }
    )
    tz = fields.String(
        load_default="UTC",
        metadata={
            "description": "IANA time zone of the time buckets and of times written without "
            "an offset.",
            **time_zone_schema(),
        },
    )
    format = fields.String(
        validate=validate.OneOf(SQL_FORMATS),
        metadata={"description": "json or csv (default: as Accept asks, else json)."},
    )


@dataclass(frozen=True)
class SqlRequest:
    sql: str
    site: str | None
    tz: ZoneInfo
    format: str | None


def parse_sql_request(body: Any) -> SqlRequest:
    """The checked body; 422 ``invalid_query`` naming the member otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_query", "The body must be a JSON object.")
    try:
        data = SqlSchema().load(body)
    except ValidationError as error:
        raise ApiError(422, "invalid_query", describe(error)) from None
    try:
        tz = parse_tz(data["tz"])
    except ApiError as error:
        raise ApiError(422, "invalid_query", error.message, "tz") from None
    return SqlRequest(data["sql"], data.get("site"), tz, data.get("format"))
