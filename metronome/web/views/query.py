"""Read endpoints: ``GET /tock/:id`` (``.json``) and ``POST /api/v1/query`` (JSON, CSV, XLSX,
NDJSON), and ``GET /api/v1/fields``, the fields a query may name. Each one: auth -> parse ->
build -> run -> shape."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter

from metronome.access.sites import read_key
from metronome.config import SiteSettings
from metronome.errors import ApiError
from metronome.es.naming import indices_for_range, is_valid_stream
from metronome.query import export
from metronome.query.body import query_body
from metronome.query.export import XLSX_MEDIA_TYPE
from metronome.query.model import TimeRange
from metronome.query.parse import output_format, parse_query
from metronome.query.public_cache import Answer, cache_key
from metronome.query.reads import call_elasticsearch, check_shards
from metronome.query.result import flat_rows, header, query_result
from metronome.query.runner import run_query
from metronome.query.tock import build_tock_body, parse_tock, tock_result
from metronome.web.readers import reader_site
from metronome.web.services import current_services

log = logging.getLogger(__name__)
bp = Blueprint("query", __name__)


class ItemIdConverter(PathConverter):
    """Like ``path``, but an id may start with "/": page ids are paths (``/tock//pricing``)."""

    regex = ".+?"
    part_isolating = False


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["item_id"] = ItemIdConverter


MAX_ID_LENGTH = 1024
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "ndjson": "application/x-ndjson",
    "xlsx": XLSX_MEDIA_TYPE,
}


# Page ids are paths ("/pricing"): GET /tock//pricing must reach "/pricing", so no slash merging.
@bp.get("/tock/<item_id:item_id>", merge_slashes=False)
def tock(item_id: str) -> Response:
    fmt = "json"
    for suffix in (".json", ".csv", ".xlsx"):
        if item_id.endswith(suffix):
            item_id, fmt = item_id[: -len(suffix)], suffix[1:]
            break
    if not item_id or len(item_id) > MAX_ID_LENGTH:
        raise ApiError(400, "invalid_id", f"The id must be 1 to {MAX_ID_LENGTH} characters.", "id")
    site = _reader_site(public_ok=True)
    if not site.public_tock or _request_key():
        return _tock_response(item_id, fmt, site)
    # An anonymous read: a flood of one query runs one aggregation (query/public_cache.py).
    key = cache_key(site.name, item_id, fmt, request.args.items(multi=True))
    answer, _ = current_services().public_cache.get_or_compute(
        key, lambda: _answer_of(_tock_response(item_id, fmt, site))
    )
    return Response(answer.body, content_type=answer.mimetype, headers=list(answer.headers))


def _tock_response(item_id: str, fmt: str, site: SiteSettings) -> Response:
    services = current_services()
    query = parse_tock(item_id, site.name, request.args, now=datetime.now(UTC))
    prefix = services.settings.elasticsearch.index_prefix

    def search(time_range: TimeRange | None = None) -> dict[str, Any]:
        body = build_tock_body(query, time_range)
        span = time_range or TimeRange(query.start, query.end)
        index = indices_for_range(prefix, query.stream, span.start, span.end)
        answer: dict[str, Any] = call_elasticsearch(
            lambda: (
                services.es.search(
                    index=index, body=body, ignore_unavailable=True, allow_no_indices=True
                ).body
            )
        )
        check_shards(answer)  # a day's shard that failed would leave the numbers short
        return answer

    response = search()
    compare_response = search(query.compare.range) if query.compare else None
    result = tock_result(query, response, compare_response)
    if fmt == "json":
        return jsonify(result)
    filename = f"tock-{_safe(item_id)}"
    if fmt == "csv":
        content: Any = export.tock_csv(result)
    else:
        tables = export.tock_tables(result)
        content = export.rows_to_xlsx(tables)
    return _download(content, fmt, filename)


def _answer_of(response: Response) -> Answer:
    kept = ("Content-Disposition",)
    headers = tuple((name, response.headers[name]) for name in kept if name in response.headers)
    return Answer(response.get_data(), response.content_type or "", headers)


@bp.post("/api/v1/query")
def general_query() -> Response:
    services = current_services()
    body = query_body(request.mimetype, request.get_data(cache=True))
    site = _reader_site(public_ok=False, name=body.get("site") if isinstance(body, dict) else None)
    stream = body.get("stream", "hits") if isinstance(body, dict) else "hits"
    fields = call_elasticsearch(
        lambda: services.catalog.fields(stream) if isinstance(stream, str) else {}
    )
    query, output = parse_query(body, site.name, fields, now=datetime.now(UTC))
    if "format" in request.args:
        output = output_format(request.args["format"])
    if output != "json":  # a file holds every row: never the top-N plan
        query = replace(query, exact=True)
    prefix = services.settings.elasticsearch.index_prefix
    rollups = services.settings.rollups
    outcome = call_elasticsearch(lambda: run_query(services.es, prefix, query, rollups))
    if output == "json":
        return jsonify(query_result(query, outcome))
    columns, rows = header(query), flat_rows(query, outcome)
    filename = f"metronome-{query.stream}-{query.range.start:%Y%m%d}-{query.range.end:%Y%m%d}"
    if output == "xlsx":
        content: Any = export.rows_to_xlsx([(query.stream, columns, rows)])
    elif output == "csv":
        content = "".join(export.rows_to_csv(columns, rows))
    else:
        content = "".join(export.rows_to_ndjson(columns, rows))
    return _download(content, output, filename)


@bp.get("/api/v1/fields")
def stream_fields() -> Response:
    """The fields of a stream as the query engine knows them (its catalog, from the index
    templates and mappings): what the dashboard editor offers as metrics and dimensions."""
    site = _reader_site(public_ok=False)
    stream = request.args.get("stream", "hits")
    if not is_valid_stream(stream):
        raise ApiError(
            400, "invalid_stream", f"stream {stream[:40]!r} is not a stream name.", "stream"
        )
    kinds = call_elasticsearch(lambda: current_services().catalog.fields(stream))
    fields = [{"name": name, "kind": kind} for name, kind in sorted(kinds.items())]
    return jsonify({"site": site.name, "stream": stream, "fields": fields})


def _download(content: Any, fmt: str, filename: str) -> Response:
    response = Response(content, content_type=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:80]


def _reader_site(public_ok: bool, name: Any = None) -> SiteSettings:
    """The site read, if this request may (a read key or the session cookie: web/readers.py)."""
    return reader_site(name, public_ok=public_ok)


def _request_key() -> str | None:
    """The read key of the request (``Authorization: Bearer``); a ``?key=`` is refused."""
    return read_key(request.headers.get("Authorization"), request.args)
