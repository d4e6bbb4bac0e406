"""The three routes: read the request, call the pure parts, reach the spool or Elasticsearch.

``POST /user_tags`` is decided by its core, ``metronome.compat.allezon.ingest``: the fast
handler (``metronome.web.fastpath``) answers what it stored with the view's 204 and hands every
refusal to the view, which raises it. The query endpoints ignore their request bodies and need
no key (the platform sends none).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, request
from werkzeug.utils import get_content_type

from metronome.compat.allezon.builder import ANSWER_PARTS, aggregates_body, indices_for
from metronome.compat.allezon.ingest import allezon_site, ingest_user_tag
from metronome.compat.allezon.parse import parse_aggregates, parse_profile
from metronome.compat.allezon.profiles import fetch_profile
from metronome.compat.allezon.result import aggregates_result, profile_result
from metronome.config import SiteSettings
from metronome.query.reads import call_elasticsearch, store_unavailable
from metronome.web.fastjson import json_response
from metronome.web.fastpath import FastAnswer, Handler
from metronome.web.ingest import decided_in_view, fast_handler
from metronome.web.services import Services, current_services

if TYPE_CHECKING:
    pass

bp = Blueprint("allezon", __name__)
log = logging.getLogger(__name__)
# The Content-Type a bare Response(status=204) gets, worked out once instead of per tag.
NO_CONTENT_TYPE = get_content_type(Response.default_mimetype or "text/plain", "utf-8")


@bp.post("/user_tags")
def user_tags() -> Response:
    decided_in_view(ingest_user_tag)
    return Response(status=204, content_type=NO_CONTENT_TYPE)


def fast_user_tags(services: Services) -> Handler:
    """``POST /user_tags`` without Flask (``metronome.web.fastpath``): the core's stored tag,
    answered as ``user_tags`` answers it; a refusal is left, as the core decided it, to
    ``user_tags``."""
    no_content = FastAnswer(204, [("Content-Type", NO_CONTENT_TYPE)])

    return fast_handler(ingest_user_tag, services, lambda environ, outcome: no_content)


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
    return allezon_site(services.settings)
