"""``POST /api/v1/query`` body -> a validated ``Query``.

The marshmallow schema describes the shape (and feeds the OpenAPI document); the checks
below it make sure every metric, dimension and filter names a real field of a fitting kind.
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
from metronome.es.naming import is_valid_stream
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
from metronome.query.timerange import parse_instant, parse_tz

FIELD_NAME = re.compile(r"^[A-Za-z@_][A-Za-z0-9_.@-]{0,127}\Z")
RELATIVE_DAYS = re.compile(r"^(\d{1,4})d\Z")
METRIC_KINDS: tuple[str, ...] = (
    "count", "visitors", "sessions", "sum", "avg", "min", "max", "p50", "p95", "p99",
)  # fmt: skip
FILTER_OPS: tuple[str, ...] = ("is", "is_not", "contains", "matches")
MAX_BUCKETS = 10_000
MAX_FILTER_VALUES = 100
MAX_VALUE_LENGTH = 256
DIMENSION_KINDS = frozenset({"keyword", "number", "boolean", "date"})


class QuerySchema(Schema):
    """The request body of ``POST /api/v1/query``."""

    class Meta:
        unknown = RAISE

    site = fields.String(metadata={"description": "Site to query (default: default_site)."})
    stream = fields.String(
        load_default="hits", metadata={"description": "hits, logs, or a source's stream."}
    )
    metrics = fields.List(
        fields.String(),
        required=True,
        validate=validate.Length(min=1, max=20),
        metadata={"description": "count, visitors, sessions, sum:F, avg:F, min:F, max:F, p50:F…"},
    )
    date_range = fields.Raw(
        load_default="30d",
        metadata={"description": '"today", "7d", "30d", "Nd", "month", "year" or [from, to].'},
    )
    dimensions = fields.List(
        fields.String(), load_default=list, validate=validate.Length(max=5),
        metadata={"description": 'time:<interval> and stored fields, e.g. ["time:day", "format"].'},
    )  # fmt: skip
    filters = fields.List(
        fields.List(fields.Raw()),
        load_default=list,
        validate=validate.Length(max=20),
        metadata={"description": '[["is"|"is_not"|"contains"|"matches", field, [values]], …]'},
    )
    tz = fields.String(load_default="UTC", metadata={"description": "IANA time zone."})
    compare = fields.Raw(
        load_default=None,
        metadata={"description": '"previous", "week", "month", "year" or {"from", "to"}.'},
    )
    order_by = fields.List(
        fields.List(fields.String()), load_default=list,
        metadata={"description": '[[metric or dimension, "asc"|"desc"], …]'},
    )  # fmt: skip
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=10_000))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1))
    format = fields.String(
        load_default="json", validate=validate.OneOf(["json", "csv", "xlsx", "ndjson"])
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
        raise _invalid("Use at most one time dimension.", "dimensions")
    if len({d.name for d in dimensions}) != len(dimensions):
        raise _invalid("A dimension is listed twice.", "dimensions")
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
    )
    return query, data["format"]


def _invalid(message: str, field: str | None = None) -> ApiError:
    return ApiError(422, "invalid_query", message, field=field)


def _tz(name: str) -> ZoneInfo:
    try:
        return parse_tz(name)
    except ApiError as error:
        raise _invalid(error.message, "tz") from None


def _field(name: Any, known: Mapping[str, FieldKind], where: str) -> tuple[str, FieldKind]:
    if not isinstance(name, str) or not FIELD_NAME.match(name):
        raise _invalid(f"{str(name)[:80]!r} is not a field name.", where)
    kind = known.get(name)
    if kind is None:
        raise _invalid(f"Unknown field {name!r}: nothing in this stream has it.", where)
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
        raise _invalid(f"{name!r} is full text and cannot be grouped by{hint}.", "dimensions")
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
            raise _invalid(f"{kind} needs a numeric field; {name!r} is {field_kind}.", "metrics")
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
    if op in ("contains", "matches") and (
        kind != "keyword" or not all(isinstance(v, str) for v in values)
    ):
        raise _invalid(f"{op} works on text values of keyword fields.", "filters")
    return Filter(op=cast(FilterOp, op), field=field, values=tuple(values))


def _date_range(raw: Any, tz: ZoneInfo, now: datetime) -> TimeRange:
    if isinstance(raw, list):
        if len(raw) != 2 or not all(isinstance(v, str) for v in raw):
            raise _invalid("date_range is [from, to] as two strings.", "date_range")
        try:
            start = parse_instant(raw[0], tz, now, "date_range")
            end = parse_instant(raw[1], tz, now, "date_range")
        except ApiError as error:
            raise _invalid(error.message, "date_range") from None
    elif isinstance(raw, str):
        start, end = _named_range(raw, tz, now)
    else:
        raise _invalid("date_range is a name like 30d or [from, to].", "date_range")
    if start >= end:
        raise _invalid("date_range: from must be earlier than to.", "date_range")
    return TimeRange(start, end)


def _named_range(name: str, tz: ZoneInfo, now: datetime) -> tuple[datetime, datetime]:
    today = floor(now, "day", tz)
    tomorrow = step(today, "day", tz)
    if name in ("today", "day"):
        return today, tomorrow
    if name in ("month", "year"):
        start = floor(now, cast(Interval, name), tz)
        return start, step(start, cast(Interval, name), tz)
    match = RELATIVE_DAYS.match(name)
    if match and 1 <= int(match.group(1)) <= 3660:
        return step(tomorrow, "day", tz, -int(match.group(1))), tomorrow
    raise _invalid(f"Unknown date_range {name[:20]!r}; use today, 7d, 30d, month, year.")


def _check_buckets(time_range: TimeRange, interval: Interval, tz: ZoneInfo) -> None:
    try:
        bucket_starts(time_range.start, time_range.end, interval, tz, MAX_BUCKETS)
    except ValueError:
        raise _invalid(
            f"That range holds more than {MAX_BUCKETS} {interval} buckets; "
            "use a larger interval or a shorter range.",
            "dimensions",
        ) from None


def _compare(raw: Any, main: TimeRange, tz: ZoneInfo, now: datetime) -> Compare | None:
    if raw is None or raw is False:
        return None
    if isinstance(raw, str):
        if raw not in ("previous", "week", "month", "year"):
            raise _invalid("compare is previous, week, month, year or {from, to}.", "compare")
        mode = cast(CompareMode, raw)
        return Compare(mode=mode, range=compare_range(main, mode, tz))
    if isinstance(raw, dict) and set(raw) == {"from", "to"}:
        return Compare(mode="custom", range=_date_range([raw["from"], raw["to"]], tz, now))
    raise _invalid("compare is previous, week, month, year or {from, to}.", "compare")


def _order(raw: list[str], metrics: tuple[Metric, ...], dims: tuple[Dimension, ...]) -> OrderBy:
    if len(raw) != 2 or raw[1] not in ("asc", "desc"):
        raise _invalid('order_by entries are [name, "asc"|"desc"].', "order_by")
    names = {m.name for m in metrics} | {d.name for d in dims}
    if raw[0] not in names:
        raise _invalid(f"order_by {raw[0][:40]!r} is not one of the metrics or dimensions.")
    return OrderBy(name=raw[0], descending=raw[1] == "desc")
