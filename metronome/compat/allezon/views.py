"""The three routes: read the request, call the pure parts, reach the spool or Elasticsearch.

``POST /user_tags``: ``check_tag`` -> ``tag_document`` (a hits document of the site
``allezon.site``) -> one fsynced spool append, like ``POST /tick`` -> ``204``. The query
endpoints ignore their request bodies and need no key (the platform sends none).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import cache
from typing import Any

from flask import Blueprint, Response, jsonify, request
from prometheus_client import Counter
from werkzeug.utils import get_content_type

from metronome import metrics
from metronome.compat.allezon.builder import aggregates_body, indices_for
from metronome.compat.allezon.parse import parse_aggregates, parse_profile
from metronome.compat.allezon.profiles import fetch_profile
from metronome.compat.allezon.result import aggregates_result, profile_result
from metronome.compat.allezon.tag import TagError, check_tag, tag_document
from metronome.config import SiteSettings
from metronome.errors import ApiError
from metronome.hits.bodies import JSON_TYPES, decode_body
from metronome.hits.views import spool_documents
from metronome.query.views import call_elasticsearch, store_unavailable
from metronome.services import Services, current_services
from metronome.sites import check_write_key

bp = Blueprint("allezon", __name__)
log = logging.getLogger(__name__)
# The Content-Type a bare Response(status=204) gets, worked out once instead of per tag.
NO_CONTENT_TYPE = get_content_type(Response.default_mimetype or "text/plain", "utf-8")


@bp.post("/user_tags")
def user_tags() -> Response:
    services = current_services()
    site = _site(services)
    if site.write_auth != "none":  # the platform sends no key: parse no query string for one
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
    _accepted(site.name).inc()
    return Response(status=204, content_type=NO_CONTENT_TYPE)


@cache
def _accepted(site: str) -> Counter:
    """The site's accepted counter, looked up once per process instead of once per tag."""
    return metrics.ACCEPTED.labels(site)


@bp.post("/user_profiles/<path:cookie>")
def user_profiles(cookie: str) -> Response:
    services = current_services()
    site = _site(services)
    query = parse_profile(cookie, request.args)
    index = indices_for(services.settings.elasticsearch.index_prefix, query.start, query.end)
    tags = fetch_profile(lambda body: _search(services, index, body), site.name, query)
    return jsonify(profile_result(query.cookie, tags))


@bp.post("/aggregates")
def aggregates() -> Response:
    services = current_services()
    site = _site(services)
    query = parse_aggregates(request.args)
    index = indices_for(services.settings.elasticsearch.index_prefix, query.start, query.end)
    response = _search(services, index, aggregates_body(site.name, query))
    return jsonify(aggregates_result(query, response))


def _search(services: Services, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """One search of the daily indices, whole: a shard that failed fails the answer (503)."""
    response: dict[str, Any] = call_elasticsearch(
        lambda: (
            services.es.search(
                index=index, body=body, ignore_unavailable=True, allow_no_indices=True
            ).body
        )
    )
    if response.get("_shards", {}).get("failed"):
        log.warning("Elasticsearch failed an Allezon search in part: %s", response["_shards"])
        raise store_unavailable()
    return response


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
