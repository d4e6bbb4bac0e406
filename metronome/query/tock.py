"""``GET /tock/:id``: parse the parameters, build the aggregation, shape the answer.

parse_tock (request args -> TockQuery) -> build_tock_body (pure) -> Elasticsearch ->
tock_result (pure; the only owner of the response JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from metronome.errors import ApiError
from metronome.es.naming import is_valid_stream
from metronome.query.calendar import INTERVALS, Interval, bucket_key, bucket_starts, floor, step
from metronome.query.compare import bucket_pairs
from metronome.query.model import Compare, CompareMode, TimeRange
from metronome.query.parse import STREAM_SCHEMA, earlier_range
from metronome.query.timerange import INSTANT_SCHEMA, parse_instant, parse_tz, time_zone_schema

MAX_BUCKETS = 10_000
COMPARE_MODES = ("previous", "week", "month", "year")
DEFAULT_TOP = 10
MAX_TOP = 1000
DEFAULT_SPAN_DAYS = 30
REFERRER_FIELD = "referrer.page"
ES_INTERVALS: dict[Interval, str] = {
    "minute": "minute",
    "hour": "hour",
    "day": "day",
    "week": "week",
    "month": "month",
    "quarter": "quarter",
    "year": "year",
}


@dataclass(frozen=True)
class TockQuery:
    item_id: str
    site: str
    start: datetime  # inclusive, aware, in tz
    end: datetime  # exclusive
    interval: Interval
    tz: ZoneInfo
    top: int
    buckets: tuple[datetime, ...]
    compare: Compare | None = None
    compare_buckets: tuple[datetime, ...] = ()
    stream: str = "hits"  # "logs": server-side requests mapped to items by path rules


def _stream_name(value: str) -> None:
    if not is_valid_stream(value):
        raise ValidationError("Not a stream name (1 to 32 lower-case letters, digits and _).")


class TockArgsSchema(Schema):
    """The query parameters of ``GET /tock/:id`` (also the OpenAPI description of them)."""

    class Meta:
        unknown = EXCLUDE  # cache-busters and the like are not errors

    from_ = fields.String(
        data_key="from",
        metadata={"description": "Start (inclusive): 2015-01-22, ISO, now-30d.", **INSTANT_SCHEMA},
    )
    to = fields.String(
        metadata={"description": "End (exclusive); default: end of today.", **INSTANT_SCHEMA}
    )
    interval = fields.String(load_default="day", validate=validate.OneOf(INTERVALS))
    tz = fields.String(
        load_default="UTC", metadata={"description": "IANA time zone.", **time_zone_schema()}
    )
    compare = fields.String(validate=validate.OneOf(COMPARE_MODES))
    top = fields.Integer(load_default=DEFAULT_TOP, validate=validate.Range(min=1, max=MAX_TOP))
    site = fields.String(metadata={"description": "Site (default: default_site)."})
    stream = fields.String(
        load_default="hits",
        validate=_stream_name,
        metadata={
            "description": "hits (default) or logs: server-side requests from access logs.",
            **STREAM_SCHEMA,
        },
    )


def parse_tock(item_id: str, site: str, args: Mapping[str, str], now: datetime) -> TockQuery:
    try:
        data = TockArgsSchema().load(dict(args))
    except ValidationError as error:
        messages_by_field: dict[str, Any] = (
            dict(error.messages) if isinstance(error.messages, dict) else {"query": error.messages}
        )
        field, messages = next(iter(messages_by_field.items()))
        text = " ".join(messages) if isinstance(messages, list) else str(messages)
        raise ApiError(400, f"invalid_{field}", f"{field}: {text}", field=str(field)) from None
    typed_interval: Interval = data["interval"]
    tz = parse_tz(data["tz"])
    if "to" in args:
        end = parse_instant(args["to"], tz, now, "to")
    else:  # up to the end of the current bucket, so today (this hour, ...) is included
        end = step(floor(now, typed_interval, tz), typed_interval, tz)
    if "from" in args:
        start = parse_instant(args["from"], tz, now, "from")
    else:
        start = (end.replace(tzinfo=None) - _default_span(typed_interval)).replace(tzinfo=tz)
    if start >= end:
        raise ApiError(422, "invalid_range", "from must be earlier than to.", field="from")
    try:
        buckets = bucket_starts(start, end, typed_interval, tz, MAX_BUCKETS)
    except ValueError:
        raise ApiError(
            422,
            "too_many_buckets",
            f"That range holds more than {MAX_BUCKETS} {typed_interval} buckets; "
            "use a larger interval or a shorter range.",
            field="interval",
        ) from None
    compare = _parse_compare(data.get("compare"), TimeRange(start, end), tz)
    compare_buckets: list[datetime] = []
    if compare is not None:
        compare_buckets = bucket_starts(
            compare.range.start, compare.range.end, typed_interval, tz, MAX_BUCKETS * 2
        )
    return TockQuery(
        item_id=item_id,
        site=site,
        start=start,
        end=end,
        interval=typed_interval,
        tz=tz,
        top=data["top"],
        buckets=tuple(buckets),
        compare=compare,
        compare_buckets=tuple(compare_buckets),
        stream=data["stream"],
    )


def _parse_compare(raw: str | None, main: TimeRange, tz: ZoneInfo) -> Compare | None:
    if not raw:
        return None
    if raw not in COMPARE_MODES:
        raise ApiError(
            400,
            "invalid_compare",
            f"compare={raw[:20]!r} is not one of {', '.join(COMPARE_MODES)}.",
            field="compare",
        )
    return Compare(mode=cast(CompareMode, raw), range=earlier_range(main, raw, tz))


def build_tock_body(query: TockQuery, time_range: TimeRange | None = None) -> dict[str, Any]:
    """The search body: one request answers views, downloads, referers and totals.

    ``time_range`` overrides the query's range (the comparison period uses the same body).
    """
    start, end = (time_range.start, time_range.end) if time_range else (query.start, query.end)
    views = {"term": {"event": "view"}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {
            "bool": {
                "filter": [
                    {"term": {"site": query.site}},
                    {"term": {"id": query.item_id}},
                    {
                        "range": {
                            "@timestamp": {
                                "gte": start.isoformat(),
                                "lt": end.isoformat(),
                            }
                        }
                    },
                ]
            }
        },
        "aggs": {
            "views": {
                "filter": views,
                "aggs": {
                    "per_bucket": {
                        "date_histogram": {
                            "field": "@timestamp",
                            "calendar_interval": ES_INTERVALS[query.interval],
                            "time_zone": query.tz.key,
                            "min_doc_count": 1,
                        }
                    },
                    "referers": {"terms": {"field": REFERRER_FIELD, "size": query.top}},
                },
            },
            "downloads": {
                "filter": {"term": {"event": "download"}},
                "aggs": {"formats": {"terms": {"field": "format", "size": query.top}}},
            },
            "visitors": {"cardinality": {"field": "visitor"}},
        },
    }


def tock_result(
    query: TockQuery,
    response: Mapping[str, Any],
    compare_response: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    per_start = _views_per_start(query, aggs)
    result: dict[str, Any] = {
        "id": query.item_id,
        "views": _keyed(query, query.buckets, per_start),
        "downloads": _terms(aggs.get("downloads", {}).get("formats", {})),
        "referers": _terms(aggs.get("views", {}).get("referers", {})),
        "totals": _totals(aggs),
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "interval": query.interval,
        "tz": query.tz.key,
        # Always raw events: every answer counts unique visitors, which no rollup holds.
        "meta": {"source": "raw"},
    }
    if query.compare is not None and compare_response is not None:
        compare_aggs = compare_response.get("aggregations", {})
        before = _views_per_start(query, compare_aggs)
        pairs = bucket_pairs(
            query.buckets, query.compare_buckets, query.compare.mode, query.interval, query.tz
        )
        compare_counts: dict[str, int] = {}
        for start in query.buckets:
            key = bucket_key(start, query.interval, query.tz)
            matched = pairs.get(start)
            compare_counts[key] = before.get(matched, 0) if matched else 0
        result["views_compare"] = compare_counts
        result["totals_compare"] = _totals(compare_aggs)
        result["compare"] = {
            "mode": query.compare.mode,
            "from": query.compare.range.start.isoformat(),
            "to": query.compare.range.end.isoformat(),
        }
    return result


def _views_per_start(query: TockQuery, aggs: Mapping[str, Any]) -> dict[datetime, int]:
    counts: dict[datetime, int] = {}
    for bucket in aggs.get("views", {}).get("per_bucket", {}).get("buckets", []):
        start = floor(
            datetime.fromtimestamp(bucket["key"] / 1000, query.tz), query.interval, query.tz
        ).astimezone(UTC)  # bucket starts are in UTC: see calendar.py
        counts[start] = counts.get(start, 0) + int(bucket["doc_count"])
    return counts


def _keyed(
    query: TockQuery, starts: tuple[datetime, ...], counts: Mapping[datetime, int]
) -> dict[str, int]:
    keyed: dict[str, int] = {}
    for start in starts:
        keyed[bucket_key(start, query.interval, query.tz)] = counts.get(start, 0)
    return keyed


def _totals(aggs: Mapping[str, Any]) -> dict[str, int]:
    return {
        "views": int(aggs.get("views", {}).get("doc_count", 0)),
        "downloads": int(aggs.get("downloads", {}).get("doc_count", 0)),
        "visitors": int(aggs.get("visitors", {}).get("value", 0)),
    }


def _terms(agg: Mapping[str, Any]) -> dict[str, int]:
    return {str(bucket["key"]): int(bucket["doc_count"]) for bucket in agg.get("buckets", [])}


def _default_span(interval: Interval) -> timedelta:
    # By default the last 30 days; for minutes that would be 43,200 buckets, so a day.
    if interval == "minute":
        return timedelta(days=1)
    return timedelta(days=DEFAULT_SPAN_DAYS)
