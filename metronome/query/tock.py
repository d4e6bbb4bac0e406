"""``GET /tock/:id``: parse the parameters, build the aggregation, shape the answer.

parse_tock (request args -> TockQuery) -> build_tock_body (pure) -> Elasticsearch ->
tock_result (pure; the only owner of the response JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metronome.errors import ApiError
from metronome.query.calendar import INTERVALS, Interval, bucket_key, bucket_starts, floor, step
from metronome.query.timerange import parse_instant, parse_tz

MAX_BUCKETS = 10_000
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


def parse_tock(item_id: str, site: str, args: Mapping[str, str], now: datetime) -> TockQuery:
    interval = args.get("interval", "day")
    if interval not in INTERVALS:
        raise ApiError(
            400,
            "invalid_interval",
            f"interval={interval[:32]!r} is not one of {', '.join(INTERVALS)}.",
            field="interval",
        )
    typed_interval: Interval = interval
    tz = parse_tz(args.get("tz"))
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
            f"That range holds more than {MAX_BUCKETS} {interval} buckets; "
            "use a larger interval or a shorter range.",
            field="interval",
        ) from None
    return TockQuery(
        item_id=item_id,
        site=site,
        start=start,
        end=end,
        interval=typed_interval,
        tz=tz,
        top=_parse_top(args.get("top")),
        buckets=tuple(buckets),
    )


def build_tock_body(query: TockQuery) -> dict[str, Any]:
    """The search body: one request answers views, downloads, referers and totals."""
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
                                "gte": query.start.isoformat(),
                                "lt": query.end.isoformat(),
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


def tock_result(query: TockQuery, response: Mapping[str, Any]) -> dict[str, Any]:
    aggs = response.get("aggregations", {})
    counts = {bucket_key(start, query.interval, query.tz): 0 for start in query.buckets}
    for bucket in aggs.get("views", {}).get("per_bucket", {}).get("buckets", []):
        start = datetime.fromtimestamp(bucket["key"] / 1000, query.tz)
        key = bucket_key(start, query.interval, query.tz)
        if key in counts:
            counts[key] += int(bucket["doc_count"])
    downloads = _terms(aggs.get("downloads", {}).get("formats", {}))
    referers = _terms(aggs.get("views", {}).get("referers", {}))
    return {
        "id": query.item_id,
        "views": counts,
        "downloads": downloads,
        "referers": referers,
        "totals": {
            "views": int(aggs.get("views", {}).get("doc_count", 0)),
            "downloads": int(aggs.get("downloads", {}).get("doc_count", 0)),
            "visitors": int(aggs.get("visitors", {}).get("value", 0)),
        },
        "from": query.start.isoformat(),
        "to": query.end.isoformat(),
        "interval": query.interval,
        "tz": query.tz.key,
    }


def _terms(agg: Mapping[str, Any]) -> dict[str, int]:
    return {str(bucket["key"]): int(bucket["doc_count"]) for bucket in agg.get("buckets", [])}


def _parse_top(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_TOP
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        raise ApiError(
            400, "invalid_top", f"top must be a whole number from 1 to {MAX_TOP}.", "top"
        )
    return int(raw)


def _default_span(interval: Interval) -> timedelta:
    # API.md: "default last 30 days"; for minutes that would be 43,200 buckets, so a day.
    if interval == "minute":
        return timedelta(days=1)
    return timedelta(days=DEFAULT_SPAN_DAYS)
