"""The Allezon-compatible endpoints (API.md section 4) on the hits spool and the hits indices.

- ``POST /user_tags``: ``check_tag`` -> ``tag_document`` (a hits document of the site
  ``allezon.site``) -> one fsynced spool append, like ``POST /tick`` -> ``204``. The tag as
  received is kept in ``allezon_tag`` (in ``_source`` only: the field is ``enabled: false``), so
  profiles return it unchanged; its fields are stored beside it as queryable keywords, with
  ``product_info.price`` a double like every number of the hits stream.
- ``POST /user_profiles/<cookie>``: one ``_msearch`` of two searches (VIEW, BUY), newest first,
  ``_source`` limited to the stored tag.
- ``POST /aggregates``: one search with a 1-minute ``date_histogram`` (and a ``sum`` of the
  price), zero-filled and formatted here.

The query endpoints ignore their request bodies and need no key (the platform sends none);
``allezon.enabled: false`` removes all three. Everything but the views is a pure function.
"""

from __future__ import annotations

import logging
import re
import time as clock
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, jsonify, request
from marshmallow import Schema, ValidationError, fields, validate
from werkzeug.datastructures import MultiDict

from metronome import metrics
from metronome.config import HitLimits, SiteSettings
from metronome.errors import ApiError
from metronome.es.naming import indices_for_range
from metronome.hits.bodies import JSON_TYPES, decode_body
from metronome.hits.pipeline import STREAM, Document, iso_millis
from metronome.hits.schema import encodable
from metronome.hits.views import spool_documents
from metronome.query.views import SHARD_RETRIES, call_elasticsearch
from metronome.services import Services, current_services
from metronome.sites import check_write_key

log = logging.getLogger(__name__)
bp = Blueprint("allezon", __name__)

TAG_FIELD = "allezon_tag"  # the tag as received; not indexed (es_templates/index/hits.json)
DEVICES = ("PC", "MOBILE", "TV")
ACTIONS = ("VIEW", "BUY")
AGGREGATES = {"COUNT": "count", "SUM_PRICE": "sum_price"}
# Filters in the order of their columns, and the field each one matches.
FILTERS = {
    "origin": "origin",
    "brand_id": "product_info.brand_id",
    "category_id": "product_info.category_id",
}
TAG_FIELDS = frozenset({"time", "cookie", "country", "device", "action", "origin", "product_info"})
PRODUCT_FIELDS = frozenset({"product_id", "brand_id", "category_id", "price"})
MAX_TEXT = 1024  # the keyword fields' ignore_above: a longer value could not be found again
MAX_PRICE = 2**53  # every integer up to this is exact in the double the price is indexed as
EPOCH = "1970"  # like every hit: no time before 1970 (compared as text: YYYY comes first)
TAG_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")  # fullmatch
RANGE_TIME = r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{3})?)Z?"
TIME_RANGE = re.compile(rf"{RANGE_TIME}_{RANGE_TIME}\Z")
TIME_RANGE_EXAMPLE = "2022-03-22T12:15:00.000_2022-03-22T12:30:00.000"
DEFAULT_LIMIT = 200
MAX_LIMIT = 10_000  # Elasticsearch's index.max_result_window
MAX_AGGREGATE_RANGE = timedelta(minutes=10)
MINUTE = timedelta(minutes=1)
MAX_NAMED_INDICES = 31  # longer ranges search the stream's wildcard instead of each day


# --- POST /user_tags --------------------------------------------------------------------------


class TagError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def check_tag(raw: Any, limits: HitLimits, now: datetime) -> datetime:
    """Check one tag as strictly as ``UserTagSchema``; return its time (UTC).

    Hand-written because it is on the hot path (about 10x faster than the schema; a unit test
    checks that both accept and refuse the same tags). Raises ``TagError`` naming the field.
    """
    if not isinstance(raw, dict):
        raise TagError("A user tag is a JSON object.")
    _check_keys(raw, TAG_FIELDS, "")
    moment = _tag_time(raw["time"])
    for name in ("cookie", "country", "origin"):
        _check_text(raw[name], name)
    for name, allowed in (("device", DEVICES), ("action", ACTIONS)):
        if not isinstance(raw[name], str) or raw[name] not in allowed:
            raise TagError(f"{name}: Must be one of: {', '.join(allowed)}.", name)
    info = raw["product_info"]
    if not isinstance(info, dict):
        raise TagError("product_info: Not a valid mapping type.", "product_info")
    _check_keys(info, PRODUCT_FIELDS, "product_info.")
    for name in ("product_id", "brand_id", "category_id"):
        value = info[name]
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise TagError(f"product_info.{name}: Not a valid id.", f"product_info.{name}")
        if isinstance(value, str):
            _check_text(value, f"product_info.{name}")
    price = info["price"]
    if isinstance(price, bool) or not isinstance(price, int):
        raise TagError("product_info.price: Not a valid integer.", "product_info.price")
    if not -MAX_PRICE <= price <= MAX_PRICE:
        raise TagError("product_info.price: Must be within ±2^53.", "product_info.price")
    if moment > now + timedelta(seconds=limits.max_future_seconds):
        raise TagError(
            f"time: more than {limits.max_future_seconds} seconds ahead of the server clock.",
            "time",
        )
    if limits.max_age_days is not None and moment < now - timedelta(days=limits.max_age_days):
        raise TagError(f"time: more than {limits.max_age_days} days in the past.", "time")
    return moment


def _check_keys(raw: dict[Any, Any], expected: frozenset[str], prefix: str) -> None:
    if raw.keys() == expected:
        return
    for name in sorted(expected - raw.keys()):
        raise TagError(f"{prefix}{name}: Missing data for required field.", prefix + name)
    for name in raw.keys() - expected:
        where = prefix + str(name).encode("utf-8", "replace").decode("utf-8")[:80]
        raise TagError(f"{where}: Unknown field.", where)


def _check_text(value: Any, name: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_TEXT or not encodable(value):
        raise TagError(f"{name}: Not a valid text of 1 to {MAX_TEXT} characters.", name)


def _tag_time(value: Any) -> datetime:
    if isinstance(value, str) and TAG_TIME.fullmatch(value) and value >= EPOCH:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    raise TagError(
        "time: Use ISO-8601 UTC with Z from 1970 on, e.g. 2022-03-22T12:15:00.000Z.", "time"
    )


def tag_document(tag: dict[str, Any], moment: datetime, site: str, now: datetime) -> Document:
    """The hits document of one checked tag: Logstash fields, queryable fields, the tag."""
    info = tag["product_info"]
    return {
        "@timestamp": iso_millis(moment),
        "@version": "1",
        "type": STREAM,
        "site": site,
        "received_at": iso_millis(now),
        "hit_id": uuid.uuid4().hex,  # two equal tags are two events: each is stored
        "id": str(info["product_id"]),  # so /tock/<product_id>?site=... shows views and buys
        "event": tag["action"].lower(),
        "visitor": tag["cookie"],
        "cookie": tag["cookie"],
        "country": tag["country"],
        "device": tag["device"],
        "action": tag["action"],
        "origin": tag["origin"],
        "product_info": dict(info),
        TAG_FIELD: tag,
    }


class TagId(fields.Field):
    """A product, brand or category id: an integer or a text (the platform sends both)."""

    default_error_messages = {"invalid": "Not a valid id."}  # noqa: RUF012 (marshmallow's own)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise self.make_error("invalid")
        if isinstance(value, str) and not (0 < len(value) <= MAX_TEXT and encodable(value)):
            raise self.make_error("invalid")
        return value


def _valid_tag_time(value: str) -> None:
    try:
        if not TAG_TIME.fullmatch(value):
            raise ValueError
        datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError("Use ISO-8601 UTC with Z.") from None
    if value < EPOCH:
        raise ValidationError("The time is before 1970.")


def _valid_unicode(text: str) -> None:
    if not encodable(text):
        raise ValidationError("Not valid Unicode.")


def _tag_text(**kwargs: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=MAX_TEXT), _valid_unicode], **kwargs)


class ProductInfoSchema(Schema):
    product_id = TagId(required=True)
    brand_id = TagId(required=True)
    category_id = TagId(required=True)
    price = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=-MAX_PRICE, max=MAX_PRICE)
    )


class UserTagSchema(Schema):
    """A user tag (API.md section 4): the description in /openapi.json, and the reference
    ``check_tag`` is tested against. Unknown fields are refused (marshmallow's default)."""

    time = fields.String(
        required=True,
        validate=_valid_tag_time,
        metadata={"example": "2022-03-22T12:15:00.000Z", "pattern": f"^{TAG_TIME.pattern}$"},
    )
    cookie = _tag_text(required=True)
    country = _tag_text(required=True)
    device = fields.String(required=True, validate=validate.OneOf(DEVICES))
    action = fields.String(required=True, validate=validate.OneOf(ACTIONS))
    origin = _tag_text(required=True)
    product_info = fields.Nested(ProductInfoSchema, required=True)


@bp.post("/user_tags")
def user_tags() -> Response:
    services = current_services()
    site = _site(services)
    check_write_key(site, request.headers.get("X-Metronome-Key") or request.args.get("key"))
    if request.mimetype not in JSON_TYPES:  # a form could not hold the tag's types
        raise ApiError(
            415, "unsupported_media_type", "Send the tag as application/json (or text/plain)."
        )
    body = decode_body(
        request.content_type,
        request.get_data(cache=False),
        request.headers.get("Content-Encoding"),
        max_decompressed_bytes=services.settings.ingest.max_decompressed_bytes,
    )
    now = datetime.now(UTC)
    try:
        if body.batch:
            raise TagError("Send one user tag (a JSON object) per request.")
        tag = body.hits[0]
        moment = check_tag(tag, site.limits, now)
    except TagError as error:
        metrics.REJECTED.labels("invalid_user_tag").inc()
        raise ApiError(422, "invalid_user_tag", error.message, error.field) from None
    spool_documents(services, [tag_document(tag, moment, site.name, now)])
    metrics.ACCEPTED.labels(site.name).inc()
    return Response(status=204)


def _site(services: Services) -> SiteSettings:
    name = services.settings.allezon.site
    site = services.settings.site(name)
    if site is None:
        raise ApiError(
            404,
            "unknown_site",
            f"The Allezon endpoints use the site {name!r}, which is not defined: add it under "
            "sites (write_auth: none) or set allezon.site.",
        )
    return site


# --- query parameters ----------------------------------------------------------------------------


@dataclass(frozen=True)
class AggregatesQuery:
    start: datetime
    end: datetime
    action: str
    filters: tuple[tuple[str, str], ...]  # (name, value) in the order of FILTERS
    aggregates: tuple[str, ...]  # COUNT / SUM_PRICE, in query order

    @property
    def columns(self) -> list[str]:
        return [
            "1m_bucket",
            "action",
            *(name for name, _ in self.filters),
            *(AGGREGATES[name] for name in self.aggregates),
        ]


def parse_time_range(text: str | None) -> tuple[datetime, datetime]:
    """``<from>_<to>``, UTC without ``Z`` (tolerated), milliseconds optional; from < to."""
    if not text:
        raise ApiError(
            400,
            "invalid_time_range",
            f"time_range is required: <from>_<to> in UTC, e.g. {TIME_RANGE_EXAMPLE}.",
            "time_range",
        )
    match = TIME_RANGE.match(text)
    try:
        if match is None:
            raise ValueError
        start, end = (datetime.fromisoformat(part).replace(tzinfo=UTC) for part in match.groups())
    except ValueError:
        raise ApiError(
            400,
            "invalid_time_range",
            f"time_range={text[:80]!r} is not <from>_<to> in UTC, e.g. {TIME_RANGE_EXAMPLE}.",
            "time_range",
        ) from None
    if start >= end:
        raise ApiError(
            422, "invalid_range", "time_range: from must be earlier than to.", "time_range"
        )
    return start, end


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text[:8]) <= MAX_LIMIT:
        raise ApiError(
            400, "invalid_limit", f"limit must be an integer from 1 to {MAX_LIMIT}.", "limit"
        )
    return int(text)


def parse_aggregates(args: MultiDict[str, str]) -> AggregatesQuery:
    start, end = parse_time_range(_single(args, "time_range"))
    if end - start > MAX_AGGREGATE_RANGE:
        raise ApiError(
            422,
            "range_too_long",
            "time_range: aggregates cover at most 10 minutes.",
            "time_range",
        )
    if start.second or start.microsecond or end.second or end.microsecond:
        raise ApiError(
            422,
            "invalid_range",
            "time_range: aggregates count whole minutes; start and end on a minute.",
            "time_range",
        )
    action = _single(args, "action")
    if action not in ACTIONS:
        raise ApiError(400, "invalid_action", "action must be VIEW or BUY.", "action")
    aggregates = tuple(args.getlist("aggregates"))
    if not aggregates or any(name not in AGGREGATES for name in aggregates):
        raise ApiError(
            400,
            "invalid_aggregates",
            "aggregates must be given once or more, each COUNT or SUM_PRICE.",
            "aggregates",
        )
    filters: list[tuple[str, str]] = []
    for name in FILTERS:
        value = _single(args, name)
        if value is None:
            continue
        if not 0 < len(value) <= MAX_TEXT:
            raise ApiError(
                400, f"invalid_{name}", f"{name} must be 1 to {MAX_TEXT} characters.", name
            )
        filters.append((name, value))
    return AggregatesQuery(start, end, action, tuple(filters), aggregates)


def _single(args: MultiDict[str, str], name: str) -> str | None:
    values = args.getlist(name)
    if len(values) > 1:
        raise ApiError(
            400, "duplicate_parameter", f"The parameter {name!r} is sent more than once.", name
        )
    return values[0] if values else None


# --- Elasticsearch queries -------------------------------------------------------------------


def indices_for(prefix: str, start: datetime, end: datetime) -> str:
    """The daily indices that can hold ``[start, end)``, or the stream's wildcard."""
    return indices_for_range(prefix, STREAM, start, end, MAX_NAMED_INDICES)


def _filters(
    site: str, start: datetime, end: datetime, terms: dict[str, str]
) -> list[dict[str, Any]]:
    return [
        {"term": {"site": site}},
        *({"term": {field: value}} for field, value in terms.items()),
        {
            "range": {
                "@timestamp": {"gte": _millis(start), "lt": _millis(end), "format": "epoch_millis"}
            }
        },
    ]


def profile_searches(
    index: str, site: str, cookie: str, *, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """The ``_msearch`` lines: the newest VIEWs, then the newest BUYs of one cookie."""
    searches: list[dict[str, Any]] = []
    for action in ACTIONS:
        searches.append({"index": index, "ignore_unavailable": True, "allow_no_indices": True})
        searches.append(
            {
                "size": limit,
                "track_total_hits": False,
                "_source": [TAG_FIELD],
                "sort": [{"@timestamp": "desc"}],
                "query": {
                    "bool": {
                        "filter": _filters(site, start, end, {"cookie": cookie, "action": action})
                    }
                },
            }
        )
    return searches


def profile_result(cookie: str, response: dict[str, Any]) -> dict[str, Any]:
    views, buys = (
        [hit["_source"][TAG_FIELD] for hit in _checked(item)["hits"]["hits"]]
        for item in response["responses"]
    )
    return {"cookie": cookie, "views": views, "buys": buys}


def _checked(item: dict[str, Any]) -> dict[str, Any]:
    """One ``_msearch`` answer, or the error it holds as an ``ApiError``."""
    if "error" not in item:
        return item
    log.warning("Elasticsearch failed a profile search: %s", item["error"])
    if item.get("status") == 400:
        raise ApiError(422, "invalid_query", "Elasticsearch refused the query.")
    raise ApiError(
        503,
        "store_unavailable",
        "Elasticsearch cannot answer right now; retry shortly.",
        headers={"Retry-After": "5"},
    )


def aggregates_body(site: str, query: AggregatesQuery) -> dict[str, Any]:
    terms = {"action": query.action, **{FILTERS[name]: value for name, value in query.filters}}
    histogram: dict[str, Any] = {"date_histogram": {"field": "@timestamp", "fixed_interval": "1m"}}
    if "SUM_PRICE" in query.aggregates:
        histogram["aggs"] = {"sum_price": {"sum": {"field": "product_info.price"}}}
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": _filters(site, query.start, query.end, terms)}},
        "aggs": {"minutes": histogram},
    }


def aggregates_result(query: AggregatesQuery, response: dict[str, Any]) -> dict[str, Any]:
    """One row per minute of ``[start, end)``, empty minutes included; every value a string."""
    buckets = response.get("aggregations", {}).get("minutes", {}).get("buckets", [])
    found = {int(bucket["key"]): bucket for bucket in buckets}
    filter_values = [value for _, value in query.filters]
    rows: list[list[str]] = []
    for minute in minutes(query.start, query.end):
        bucket = found.get(_millis(minute), {})
        row = [format_minute(minute), query.action, *filter_values]
        for name in query.aggregates:
            if name == "COUNT":
                row.append(str(int(bucket.get("doc_count", 0))))
            else:
                row.append(format_sum(bucket.get("sum_price", {}).get("value")))
        rows.append(row)
    return {"columns": query.columns, "rows": rows}


def minutes(start: datetime, end: datetime) -> list[datetime]:
    result: list[datetime] = []
    moment = start
    while moment < end:
        result.append(moment)
        moment += MINUTE
    return result


def format_minute(minute: datetime) -> str:
    """``2022-03-01T00:05:00``: UTC, seconds, no zone (strftime would drop a year's zeros)."""
    return minute.replace(tzinfo=None).isoformat(timespec="seconds")


def format_sum(value: float | None) -> str:
    """A sum as a decimal string: ``1234`` (integers, exact below 2^53), else as computed."""
    if value is None:
        return "0"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _millis(moment: datetime) -> int:
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


# --- the query views ---------------------------------------------------------------------------


@bp.post("/user_profiles/<path:cookie>")
def user_profiles(cookie: str) -> Response:
    services = current_services()
    site = _site(services)
    start, end = parse_time_range(_single(request.args, "time_range"))
    limit = parse_limit(_single(request.args, "limit"))
    if len(cookie) > MAX_TEXT:
        raise ApiError(400, "invalid_cookie", f"A cookie has at most {MAX_TEXT} characters.")
    index = indices_for(services.settings.elasticsearch.index_prefix, start, end)
    searches = profile_searches(index, site.name, cookie, start=start, end=end, limit=limit)
    for attempt in range(SHARD_RETRIES + 1):
        response = call_elasticsearch(lambda: services.es.msearch(searches=searches).body)
        unavailable = any(item.get("status") == 503 for item in response["responses"])
        if not unavailable or attempt == SHARD_RETRIES:
            break
        clock.sleep(0.2 * (attempt + 1))  # as _elasticsearch: a new index's shard is starting
    return jsonify(profile_result(cookie, response))


@bp.post("/aggregates")
def aggregates() -> Response:
    services = current_services()
    site = _site(services)
    query = parse_aggregates(request.args)
    index = indices_for(services.settings.elasticsearch.index_prefix, query.start, query.end)
    body = aggregates_body(site.name, query)
    response = call_elasticsearch(
        lambda: (
            services.es.search(
                index=index, body=body, ignore_unavailable=True, allow_no_indices=True
            ).body
        )
    )
    return jsonify(aggregates_result(query, response))


# --- /openapi.json ---------------------------------------------------------------------------


def openapi_paths() -> dict[str, dict[str, Any]]:
    """The three paths as ``APISpec.path`` operations (``metronome.openapi`` adds them)."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {str(status): {"description": "An error", **error} for status in (400, 404, 422, 503)}
    time_range = _param("time_range", {"type": "string", "example": TIME_RANGE_EXAMPLE}, True)
    ignored = {"description": "Ignored", "content": {"*/*": {"schema": {}}}}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    aggregates = {"type": "array", "items": {"type": "string", "enum": list(AGGREGATES)}}
    tag = {"application/json": {"schema": UserTagSchema}}
    return {
        "/user_tags": {
            "post": {
                "summary": "Store one Allezon user tag (durably, like a hit)",
                "requestBody": {"required": True, "content": tag},
                "responses": {"204": {"description": "Stored durably"}, **errors},
            }
        },
        "/user_profiles/{cookie}": {
            "post": {
                "summary": "A cookie's latest VIEW and BUY tags, newest first, as received",
                "parameters": [
                    {**_param("cookie", {"type": "string"}, True), "in": "path"},
                    time_range,
                    _param("limit", limit),
                ],
                "requestBody": ignored,
                "responses": {"200": {"description": "{cookie, views, buys}"}, **errors},
            }
        },
        "/aggregates": {
            "post": {
                "summary": "COUNT / SUM_PRICE of tags per minute (at most 10 minutes)",
                "parameters": [
                    time_range,
                    _param("action", {"type": "string", "enum": list(ACTIONS)}, True),
                    _param("aggregates", aggregates, True),
                    *(_param(name, {"type": "string"}) for name in FILTERS),
                ],
                "requestBody": ignored,
                "responses": {"200": {"description": "{columns, rows}, all strings"}, **errors},
            }
        },
    }


def _param(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": required, "schema": schema}


__all__ = ["AggregatesQuery", "UserTagSchema", "bp", "check_tag", "openapi_paths"]
