"""``GET /tock/:id`` and ``/tock/:id.json``."""

from __future__ import annotations

from datetime import UTC, datetime

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from flask import Blueprint, Response, jsonify, request

from metronome.errors import ApiError
from metronome.es.naming import stream_pattern
from metronome.query.tock import build_tock_body, parse_tock, tock_result
from metronome.services import current_services
from metronome.sites import bearer_token, check_read_key, find_site

bp = Blueprint("query", __name__)

MAX_ID_LENGTH = 1024


@bp.get("/tock/<path:item_id>")
def tock(item_id: str) -> Response:
    services = current_services()
    if item_id.endswith(".json"):
        item_id = item_id[: -len(".json")]
    if not item_id or len(item_id) > MAX_ID_LENGTH:
        raise ApiError(400, "invalid_id", f"The id must be 1 to {MAX_ID_LENGTH} characters.", "id")
    site = find_site(services.settings, request.args.get("site"))
    key = bearer_token(request.headers.get("Authorization")) or request.args.get("key")
    check_read_key(site, key, public_ok=True)
    query = parse_tock(item_id, site.name, request.args, now=datetime.now(UTC))
    index = stream_pattern(services.settings.elasticsearch.index_prefix, "hits")
    try:
        response = services.es.search(
            index=index,
            body=build_tock_body(query),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
    except (TransportError, EsApiError):
        raise ApiError(
            503,
            "store_unavailable",
            "Elasticsearch cannot answer right now; retry shortly.",
            headers={"Retry-After": "5"},
        ) from None
    return jsonify(tock_result(query, response.body))
