"""The three routes: read the request, call the pure parts, reach the spool or Elasticsearch.

``POST /user_tags``: ``check_tag`` -> ``tag_document`` (a hits document of the site
``allezon.site``) -> one fsynced spool append, like ``POST /tick`` -> ``204``. The query
endpoints ignore their request bodies and need no key (the platform sends none).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from werkzeug.utils import get_content_type

from metronome import metrics
from metronome.access.sites import check_write_key
from metronome.compat.allezon.builder import ANSWER_PARTS, aggregates_body, indices_for
from metronome.compat.allezon.parse import parse_aggregates, parse_profile
from metronome.compat.allezon.profiles import fetch_profile
from metronome.compat.allezon.result import aggregates_result, profile_result
from metronome.compat.allezon.tag import TagError, check_tag, tag_document
from metronome.config import SiteSettings
from metronome.errors import ApiError
from metronome.hits.bodies import JSON_TYPES, DecodedBody, decode_body, media_type
from metronome.hits.pipeline import Document
from metronome.web.fastjson import json_response
from metronome.web.fastpath import FastAnswer, Handler, decoded_once, json_answer, remember
from metronome.web.services import Services, current_services
from metronome.web.views.hits import spool_documents
from metronome.web.views.query import call_elasticsearch, store_unavailable

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

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
    body = decoded_once(
        request.environ,
        DecodedBody,
        lambda: decode_body(
            request.content_type,
            request.get_data(cache=False),
            request.headers.get("Content-Encoding"),
            services.budgets.user_tag,
        ),
    )
    try:
        if body.batch:
            raise TagError("Send one user tag (a JSON object) per request.")
        document = _document(body.hits[0], site)
    except TagError as error:
        metrics.REJECTED.labels("invalid_user_tag").inc()
        raise ApiError(422, "invalid_user_tag", error.message, error.field) from None
    spool_documents(services, [document])
    metrics.accepted_counter(site.name).inc()
    return Response(status=204, content_type=NO_CONTENT_TYPE)


def fast_user_tags(services: Services) -> Handler:
    """``POST /user_tags`` without Flask (``metronome.web.fastpath``) when it is the plain success
    the platform sends a thousand times a second: a key-less site, one JSON tag, no encoding.
    Anything else, and every error, is left to ``user_tags``."""
    settings = services.settings
    budget = services.budgets.user_tag
    no_content = FastAnswer(204, [("Content-Type", NO_CONTENT_TYPE)])
    site = settings.site(settings.allezon.site)  # settings do not change while serving

    def handle(environ: WSGIEnvironment, data: bytes) -> FastAnswer | None:
        if site is None or site.write_auth != "none" or "HTTP_CONTENT_ENCODING" in environ:
            return None
        content_type = environ.get("CONTENT_TYPE")
        try:
            if media_type(content_type) not in JSON_TYPES:
                return None
            body = decode_body(content_type, data, None, budget)
        except ApiError as error:
            remember(environ, error)  # the view answers it, without decoding the body again
            return None
        remember(environ, body)
        try:
            if body.batch:
                return None
            document = _document(body.hits[0], site)
        except (ApiError, TagError):
            return None
        try:
            spool_documents(services, [document])
        except ApiError as error:  # the spool is full or failing: nothing was appended
            return json_answer(error.status, error.body(), error.headers.items())
        metrics.accepted_counter(site.name).inc()
        return no_content

    return handle


def _document(tag: Any, site: SiteSettings) -> Document:
    """The hits document of one tag, or ``TagError`` naming what is wrong with it."""
    now = datetime.now(UTC)
    moment = check_tag(tag, site.limits, now)
    return tag_document(tag, moment, site.name, now)


@bp.post("/user_profiles/<path:cookie>")
def user_profiles(cookie: str) -> Response:
    services = current_services()
    site = _site(services)
    query = parse_profile(cookie, request.args)
    index = indices_for(services.settings.elasticsearch.index_prefix, query.start, query.end)
    tags = fetch_profile(lambda body: _search(services, index, body), site.name, query)
    return json_response(profile_result(query.cookie, tags))


@bp.post("/aggregates")
def aggregates() -> Response:
    services = current_services()
    site = _site(services)
    query = parse_aggregates(request.args)
    index = indices_for(services.settings.elasticsearch.index_prefix, query.start, query.end)
    response = _search(services, index, aggregates_body(site.name, query))
    return json_response(aggregates_result(query, response))


def _search(services: Services, index: str, body: dict[str, Any]) -> dict[str, Any]:
    """One search of the daily indices, whole: a shard that failed fails the answer (503)."""
    response: dict[str, Any] = call_elasticsearch(
        lambda: (
            services.es.search(
                index=index,
                body=body,
                ignore_unavailable=True,
                allow_no_indices=True,
                filter_path=ANSWER_PARTS,
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
