"""``POST /api/v1/query`` body -> a validated ``Query``.

The marshmallow schema and its metadata describe the shape (and feed the OpenAPI document,
which states every rule of the grammar); the checks below it make sure every metric, dimension
and filter names a real field of a fitting kind. What no schema can state is refused with 422
and its own code: ``unknown_field``, ``unsuitable_field`` (the stream's fields),
``invalid_range``, ``impossible_date``, ``too_many_buckets`` (the dates) and
``inconsistent_query`` (parts that contradict each other). The rest is ``invalid_query``.
User strings only ever become exact values in term, wildcard or regexp queries.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

from marshmallow import RAISE, Schema, ValidationError, fields, validate

from metronome.config import describe
from metronome.errors import ApiError
from metronome.es.naming import STREAM_PATTERN, is_valid_stream
from metronome.query.calendar import INTERVALS, Interval, bucket_starts, floor, step
from metronome.query.catalog import FieldKind
from metronome.query.compare import compare_range
from metronome.query.model import (
    FIELD_METRICS,
    Compare,
    CompareMode,
    Dimension,
    Filter,
    FilterOp,
    Metric,
    MetricKind,
    OrderBy,
    Query,
    TimeRange,
)
from metronome.query.timerange import INSTANT_SCHEMA, parse_instant, parse_tz, time_zone_schema

FIELD_PATTERN = r"[A-Za-z@_][A-Za-z0-9_.@-]{0,127}"
FIELD_NAME = re.compile(FIELD_PATTERN)
MAX_RELATIVE_DAYS = 3660
# 1d ... 3660d, without leading zeros (the regular expression of the numbers 1 to 3660)
DAYS_PATTERN = r"(?:[1-9][0-9]{0,2}|[12][0-9]{3}|3[0-5][0-9]{2}|36[0-5][0-9]|3660)d"
RELATIVE_DAYS = re.compile(r"([1-9][0-9]{0,3})d")
# The last N minutes (1m ... 1440m), hours (1h ... 168h) and calendar months (1mo ... 120mo),
# the current one included, as the time picker of a dashboard names them ("30m", "12mo").
MINUTES_PATTERN = r"(?:[1-9][0-9]{0,2}|1[0-3][0-9]{2}|14[0-3][0-9]|1440)m"
HOURS_PATTERN = r"(?:[1-9][0-9]?|1[0-5][0-9]|16[0-8])h"
MONTHS_PATTERN = r"(?:[1-9][0-9]?|1[01][0-9]|120)mo"
RELATIVE_UNITS = re.compile(r"([1-9][0-9]{0,3})(m|h|mo)")
MAX_RELATIVE = {"m": 1440, "h": 168, "mo": 120}
NAMED_RANGES = ("today", "day", "yesterday", "month", "last_month", "year", "last_year")
RANGE_NAME_PATTERN = (
    f"(?:{'|'.join(NAMED_RANGES)}|{DAYS_PATTERN}|{MINUTES_PATTERN}|{HOURS_PATTERN}"
    f"|{MONTHS_PATTERN})"
)
METRIC_KINDS: tuple[str, ...] = (
    "count", "visitors", "sessions", "sum", "avg", "min", "max", "p50", "p95", "p99",
)  # fmt: skip
FILTER_OPS: tuple[str, ...] = ("is", "is_not", "contains", "matches")
TEXT_OPS: tuple[str, ...] = ("contains", "matches")
COMPARE_MODES: tuple[str, ...] = ("previous", "week", "month", "year")
OUTPUT_FORMATS: tuple[str, ...] = ("json", "csv", "xlsx", "ndjson")
MAX_BUCKETS = 10_000
MAX_FILTER_VALUES = 100
MAX_VALUE_LENGTH = 256
DIMENSION_KINDS = frozenset({"keyword", "number", "boolean", "date"})

# The grammar of the body, for /openapi.json (JSON Schema 2020-12, as in OpenAPI 3.1). A tuple
# is prefixItems with minItems = maxItems ("items": false would reach apispec as a reference);
# a tuple that is a whole field's schema sits inside allOf or oneOf, since apispec drops
# keywords it does not know (prefixItems) from the top of a field's metadata.
_NO_FIELD_METRICS = "|".join(kind for kind in METRIC_KINDS if kind not in FIELD_METRICS)
_FIELD_METRICS = "|".join(kind for kind in METRIC_KINDS if kind in FIELD_METRICS)
METRIC_SCHEMA = {
    "type": "string",
    "pattern": f"^(?:{_NO_FIELD_METRICS}|(?:{_FIELD_METRICS}):{FIELD_PATTERN})$",
}
DIMENSION_SCHEMA = {
    "type": "string",
    "pattern": f"^(?:time:(?:{'|'.join(INTERVALS)})|{FIELD_PATTERN})$",
}
STREAM_SCHEMA = {"type": "string", "pattern": f"^[{STREAM_PATTERN}]{{1,32}}$"}
_PAIR = {"type": "array", "minItems": 2, "maxItems": 2, "prefixItems": [INSTANT_SCHEMA] * 2}
DATE_RANGE_SCHEMA = {
    "oneOf": [
        {"type": "string", "pattern": f"^{RANGE_NAME_PATTERN}$"},
        _PAIR,
    ]
}
COMPARE_SCHEMA = {
    "oneOf": [
        {"type": "null"},
        {"const": False},
        {"type": "string", "enum": list(COMPARE_MODES)},
        {
            "type": "object",
            "required": ["from", "to"],
            "properties": {"from": INSTANT_SCHEMA, "to": INSTANT_SCHEMA},
            "additionalProperties": False,
        },
    ]
}
_TEXT_VALUE = {"type": "string", "maxLength": MAX_VALUE_LENGTH}
_VALUE = {"anyOf": [_TEXT_VALUE, {"type": "number"}, {"type": "boolean"}]}


def _filter_schema(ops: tuple[str, ...], value: dict[str, Any]) -> dict[str, Any]:
    values = {"type": "array", "items": value, "minItems": 1, "maxItems": MAX_FILTER_VALUES}
    return {
        "type": "array",
        "minItems": 3,
        "maxItems": 3,
        "prefixItems": [
            {"type": "string", "enum": list(ops)},
            {"type": "string", "pattern": f"^{FIELD_PATTERN}$"},
            {"anyOf": [value, values]},
        ],
    }


FILTER_SCHEMA = {
    "oneOf": [
        _filter_schema(tuple(op for op in FILTER_OPS if op not in TEXT_OPS), _VALUE),
        _filter_schema(TEXT_OPS, _TEXT_VALUE),
    ]
}
ORDER_BY_SCHEMA = {
    "type": "array",
    "minItems": 2,
    "maxItems": 2,
    "prefixItems": [{"type": "string"}, {"type": "string", "enum": ["asc", "desc"]}],
}


class _StrictBoolean(fields.Boolean):
    """true or false only (marshmallow's own also takes 1, "yes", "on"...)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise ValidationError("Not a boolean (true or false).")
        return value


class QuerySchema(Schema):
    """The request body of ``POST /api/v1/query``."""

    class Meta:
        unknown = RAISE

    site = fields.String(metadata={"description": "Site to query (default: default_site)."})
    stream = fields.String(
        load_default="hits",
        metadata={"description": "hits, logs, or a source's stream.", **STREAM_SCHEMA},
    )
    metrics = fields.List(
        fields.String(metadata=METRIC_SCHEMA),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={
            "description": "count, visitors, sessions, sum:F, avg:F, min:F, max:F, p50:F…; "
            "F a numeric field of the stream (else 422 unknown_field / unsuitable_field).",
            "uniqueItems": True,
        },
    )
    date_range = fields.Raw(
        load_default="30d",
        metadata={
            "description": '"today", "yesterday", "7d", "30d", "Nd" (N up to 3660), "month", '
            '"last_month", "year", "last_year", "30m" (the last N minutes, up to 1440), "24h" '
            '(hours, up to 168), "12mo" (calendar months, up to 120) or [from, to] (from earlier '
            "than to, else 422 invalid_range).",
            **DATE_RANGE_SCHEMA,
        },
    )
    dimensions = fields.List(
        fields.String(metadata=DIMENSION_SCHEMA), load_default=list,
        validate=validate.Length(max=5),
        metadata={
            "description": 'time:<interval> (one at most) and stored fields of a kind that can '
            'be grouped, e.g. ["time:day", "format"].',
            "uniqueItems": True,
        },
    )  # fmt: skip
    filters = fields.List(
        fields.List(fields.Raw(), metadata=FILTER_SCHEMA),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={
            "description": '[["is"|"is_not"|"contains"|"matches", field, [values]], …]; '
            "contains and matches (a Lucene regular expression) take text, on keyword fields.",
        },
    )
    tz = fields.String(
        load_default="UTC",
        metadata={"description": "IANA time zone.", **time_zone_schema()},
    )
    compare = fields.Raw(
        load_default=None,
        metadata={
            "description": '"previous", "week", "month", "year" or {"from", "to"}.',
            **COMPARE_SCHEMA,
        },
    )
    order_by = fields.List(
        fields.List(fields.String(), metadata={"allOf": [ORDER_BY_SCHEMA]}), load_default=list,
        metadata={
            "description": '[[metric or dimension of this query, "asc"|"desc"], …]',
        },
    )  # fmt: skip
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=10_000))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    format = fields.String(load_default="json", validate=validate.OneOf(OUTPUT_FORMATS))
    exact = _StrictBoolean(
        load_default=False,
        metadata={
            "description": "Read every group so that meta.total_rows is exact, even for a "
            "top-N question (slower on many groups); files (csv, xlsx, ndjson) always are.",
        },
    )


def parse_query(
    body: Any, site: str, known_fields: Mapping[str, FieldKind], now: datetime
) -> tuple[Query, str]:
    """The typed query and the requested output format; ``ApiError`` (422) otherwise."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_query", "The body must be a JSON object.")
    try:
        data = QuerySchema().load(body)
    except ValidationError as error:
        raise _invalid(describe(error)) from None
    stream = data["stream"]
    if not is_valid_stream(stream):
        raise _invalid(f"stream {stream[:40]!r} is not a stream name.", "stream")
    tz = _tz(data["tz"])
    dimensions = tuple(_dimension(text, known_fields) for text in data["dimensions"])
    if sum(d.is_time for d in dimensions) > 1:
        raise _inconsistent("Use at most one time dimension.", "dimensions")
    if len({d.name for d in dimensions}) != len(dimensions):
        raise _inconsistent("A dimension is listed twice.", "dimensions")
    metrics = tuple(_metric(text, known_fields) for text in data["metrics"])
    if len({m.name for m in metrics}) != len(metrics):
        raise _invalid("A metric is listed twice.", "metrics")
    time_range = _date_range(data["date_range"], tz, now)
    time_dimension = next((d for d in dimensions if d.interval), None)
    if time_dimension and time_dimension.interval:
        _check_buckets(time_range, time_dimension.interval, tz)
    query = Query(
        site=site,
        stream=stream,
        metrics=metrics,
        dimensions=dimensions,
        filters=tuple(_filter(raw, known_fields) for raw in data["filters"]),
        range=time_range,
        tz=tz,
        compare=_compare(data["compare"], time_range, tz, now),
        order_by=tuple(_order(raw, metrics, dimensions) for raw in data["order_by"]),
        limit=data["limit"],
        page=data["page"],
        exact=data["exact"] or data["format"] != "json",
    )
    return query, data["format"]


def output_format(text: str) -> str:
    """The ``?format=`` of the URL, which wins over the body's own (both are checked)."""
    if text not in OUTPUT_FORMATS:
        raise _invalid(f"format={text[:20]!r} is not one of {', '.join(OUTPUT_FORMATS)}.", "format")
    return text


def _invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError(422, "invalid_query", message, field=field)


def _inconsistent(message: str, field: str | None = None) -> ApiError:
    return ApiError(422, "inconsistent_query", message, field=field)


def _tz(name: str) -> ZoneInfo:
    try:
        return parse_tz(name)
    except ApiError as error:
        raise _invalid(error.message, "tz") from None


def _field(name: Any, known: Mapping[str, FieldKind], where: str) -> tuple[str, FieldKind]:
    if not isinstance(name, str) or not FIELD_NAME.fullmatch(name):
        raise _invalid(f"{str(name)[:80]!r} is not a field name.", where)
    kind = known.get(name)
    if kind is None:
        message = f"Unknown field {name!r}: nothing in this stream has it."
        raise ApiError(422, "unknown_field", message, field=where)
    return name, kind


def _dimension(text: str, known: Mapping[str, FieldKind]) -> Dimension:
    if text.startswith("time:"):
        interval = text[5:]
        if interval not in INTERVALS:
            raise _invalid(f"Unknown interval {interval[:20]!r}; use {', '.join(INTERVALS)}.")
        return Dimension(interval=interval)
    if text == "time":
        return Dimension(interval="day")
    name, kind = _field(text, known, "dimensions")
    if kind not in DIMENSION_KINDS:
        hint = f" (try {name}.keyword)" if f"{name}.keyword" in known else ""
        message = f"{name!r} is full text and cannot be grouped by{hint}."
        raise ApiError(422, "unsuitable_field", message, field="dimensions")
    return Dimension(field=name)


def _metric(text: str, known: Mapping[str, FieldKind]) -> Metric:
    kind, _, field = text.partition(":")
    if kind not in METRIC_KINDS:
        raise _invalid(f"Unknown metric {text[:40]!r}; use {', '.join(METRIC_KINDS)}.", "metrics")
    if kind in FIELD_METRICS:
        if not field:
            raise _invalid(f"{kind} needs a field, e.g. {kind}:price.", "metrics")
        name, field_kind = _field(field, known, "metrics")
        if field_kind != "number":
            message = f"{kind} needs a numeric field; {name!r} is {field_kind}."
            raise ApiError(422, "unsuitable_field", message, field="metrics")
        return Metric(kind=cast(MetricKind, kind), field=name)
    if field:
        raise _invalid(f"{kind} takes no field.", "metrics")
    return Metric(kind=cast(MetricKind, kind))


def _filter(raw: list[Any], known: Mapping[str, FieldKind]) -> Filter:
    if len(raw) != 3:
        raise _invalid("A filter is [operator, field, [values]].", "filters")
    op, name, values = raw
    if op not in FILTER_OPS:
        raise _invalid(f"Unknown filter operator {str(op)[:20]!r}; use {FILTER_OPS}.", "filters")
    field, kind = _field(name, known, "filters")
    if not isinstance(values, list):
        values = [values]
    if not 1 <= len(values) <= MAX_FILTER_VALUES:
        raise _invalid(f"A filter takes 1 to {MAX_FILTER_VALUES} values.", "filters")
    for value in values:
        if not isinstance(value, str | int | float | bool) or (
            isinstance(value, str) and len(value) > MAX_VALUE_LENGTH
        ):
            raise _invalid(f"Filter values are text (at most {MAX_VALUE_LENGTH}) or numbers.")
    if op in TEXT_OPS and not all(isinstance(v, str) for v in values):
        raise _invalid(f"{op} works on text values.", "filters")
    if op in TEXT_OPS and kind != "keyword":
        message = f"{op} works on keyword fields; {field!r} is {kind}."
        raise ApiError(422, "unsuitable_field", message, field="filters")
    return Filter(op=cast(FilterOp, op), field=field, values=tuple(values))


def resolve_date_range(raw: Any, tz: ZoneInfo, now: datetime) -> TimeRange:
    """A ``date_range`` (a name such as ``30d`` or ``[from, to]``) as absolute instants."""
    return _date_range(raw, tz, now)


def _date_range(raw: Any, tz: ZoneInfo, now: datetime) -> TimeRange:
    if isinstance(raw, list):
        if len(raw) != 2 or not all(isinstance(v, str) for v in raw):
            raise _invalid("date_range is [from, to] as two strings.", "date_range")
        try:
            start = parse_instant(raw[0], tz, now, "date_range")
            end = parse_instant(raw[1], tz, now, "date_range")
        except ApiError as error:  # impossible_date keeps its code
            code = error.code if error.status == 422 else "invalid_query"
            raise ApiError(422, code, error.message, "date_range") from None
    elif isinstance(raw, str):
        start, end = _named_range(raw, tz, now)
    else:
        raise _invalid("date_range is a name like 30d or [from, to].", "date_range")
    if start >= end:
        raise ApiError(
            422, "invalid_range", "date_range: from must be earlier than to.", "date_range"
        )
    return TimeRange(start, end)


def _named_range(name: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    today = floor(now, "day", tz)
    tomorrow = step(today, "day", tz)
    if name in ("today", "day"):
        return today, tomorrow
    if name == "yesterday":
        return step(today, "day", tz, -1), today
    if name in ("month", "year"):
        start = floor(now, cast(Interval, name), tz)
        return start, step(start, cast(Interval, name), tz)
    if name in ("last_month", "last_year"):
        unit = cast(Interval, name[5:])
        current = floor(now, unit, tz)
        return step(current, unit, tz, -1), current
    match = RELATIVE_DAYS.fullmatch(name)
    if match and int(match.group(1)) <= MAX_RELATIVE_DAYS:
        return step(tomorrow, "day", tz, -int(match.group(1))), tomorrow
    match = RELATIVE_UNITS.fullmatch(name)
    if match and int(match.group(1)) <= MAX_RELATIVE[match.group(2)]:
        count, suffix = int(match.group(1)), match.group(2)
        interval = cast(Interval, {"m": "minute", "h": "hour", "mo": "month"}[suffix])
        end = step(floor(now, interval, tz), interval, tz)
        return step(end, interval, tz, -count), end
    raise _invalid(
        f"Unknown date_range {name[:20]!r}; use today, yesterday, 7d, 30d, month, last_month, "
        "year, last_year, 30m, 24h or 12mo.",
        "date_range",
    )


def check_bucket_count(time_range: TimeRange, interval: Interval, tz: ZoneInfo) -> None:
    """422 ``too_many_buckets`` when the range holds more than ``MAX_BUCKETS`` buckets."""
    _check_buckets(time_range, interval, tz)


def _check_buckets(time_range: TimeRange, interval: Interval, tz: ZoneInfo) -> None:
    try:
        bucket_starts(time_range.start, time_range.end, interval, tz, MAX_BUCKETS)
    except ValueError:
        raise ApiError(
            422,
            "too_many_buckets",
            f"That range holds more than {MAX_BUCKETS} {interval} buckets; "
            "use a larger interval or a shorter range.",
            "dimensions",
        ) from None


def _compare(raw: Any, main: TimeRange, tz: ZoneInfo, now: datetime) -> Compare | None:
    if raw is None or raw is False:
        return None
    if isinstance(raw, str):
        if raw not in COMPARE_MODES:
            raise _invalid("compare is previous, week, month, year or {from, to}.", "compare")
        return Compare(mode=cast(CompareMode, raw), range=earlier_range(main, raw, tz))
    if isinstance(raw, dict) and set(raw) == {"from", "to"}:
        return Compare(mode="custom", range=_date_range([raw["from"], raw["to"]], tz, now))
    raise _invalid("compare is previous, week, month, year or {from, to}.", "compare")


def earlier_range(main: TimeRange, mode: str, tz: ZoneInfo) -> TimeRange:
    """The period ``main`` is compared with; 422 when it would begin before the year 1."""
    try:
        return compare_range(main, cast(CompareMode, mode), tz)
    except (OverflowError, ValueError):
        message = f"compare={mode}: the period before this range is not in the calendar."
        raise ApiError(422, "impossible_date", message, "compare") from None


def _order(raw: list[str], metrics: tuple[Metric, ...], dims: tuple[Dimension, ...]) -> OrderBy:
    if len(raw) != 2 or raw[1] not in ("asc", "desc"):
        raise _invalid('order_by entries are [name, "asc"|"desc"].', "order_by")
    names = {m.name for m in metrics} | {d.name for d in dims}
    if raw[0] not in names:
        message = f"order_by {raw[0][:40]!r} is not one of the metrics or dimensions."
        raise _inconsistent(message, "order_by")
    return OrderBy(name=raw[0], descending=raw[1] == "desc")
