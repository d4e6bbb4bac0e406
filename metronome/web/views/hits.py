"""``POST /tick``, ``GET /tick.gif`` and the CORS preflight: thin adapters over the ingest core.

``metronome.hits.ingest`` decides every request (validate, enrich, spool; or refuse). Here:
``fast_tick``, the fast handler (``metronome.web.fastpath``), answers what the core accepted
and hands every refusal to ``tick``, the Flask view, which raises it; the view runs the core
itself for the requests the fast path does not see (a body without a length, too large).
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from flask import Blueprint, Response, g, request

from metronome.access.cors import cors_headers, origin_allowed
from metronome.config import Settings
from metronome.errors import ApiError
from metronome.hits.ingest import (
    Accepted,
    ingest_pixel,
    ingest_tick,
)
from metronome.web.fastpath import (
    FastAnswer,
    Handler,
    json_answer,
    json_text,
)
from metronome.web.ingest import ORIGIN, accepted, decided_in_view, fast_handler, ingest_request
from metronome.web.services import Services, current_services

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

bp = Blueprint("hits", __name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.after_request
def cors(response: Response) -> Response:
    """Every ingest answer, errors included, is readable by a page from an allowed origin."""
    origin = _environ(ORIGIN)
    allowed = _answer_origin(current_services(), origin, _query("site"), g.get("origin_allowed"))
    return _with_cors_headers(response, allowed, preflight=request.method == "OPTIONS")


@bp.route("/tick", methods=["OPTIONS"])
@bp.route("/tick.gif", methods=["OPTIONS"])
def preflight() -> Response:
    origin = _environ(ORIGIN)
    if not _origin_allowed_somewhere(current_services().settings, origin, _query("site")):
        raise ApiError(403, "forbidden_origin", f"Origin {origin!r} may not send hits here.")
    return Response(status=204)


def _answer_origin(
    services: Services, origin: str | None, named: str | None, after_hits: bool | None
) -> str | None:
    """The origin an answer lets read it, or ``None``. After reading hits: was it allowed for
    a site they named? Before (a refused body, a preflight): for any site."""
    allowed = after_hits
    if allowed is None:
        allowed = _origin_allowed_somewhere(services.settings, origin, named)
    return origin if allowed else None


def _origin_allowed_somewhere(settings: Settings, origin: str | None, named: str | None) -> bool:
    """A preflight cannot see which site the body names: the ?site= one, else any site.
    Each hit's own site is checked when the hit is read."""
    if named:
        site = settings.site(named)
        return site is not None and origin_allowed(site, origin)
    return any(origin_allowed(site, origin) for site in settings.sites.values())


@bp.post("/tick")
def tick() -> Response:
    answer = decided_in_view(ingest_tick).answer
    return Response(json_text(answer), status=202, mimetype="application/json")


def fast_tick(services: Services) -> Handler:
    """``POST /tick`` without Flask (``metronome.web.fastpath``): the core's accepted outcome,
    answered with the bytes and CORS headers ``tick`` gives it. A refusal is left, as the core
    decided it, to ``tick``, which answers it."""

    def answer(environ: WSGIEnvironment, outcome: Accepted) -> FastAnswer:
        origin = environ.get(ORIGIN) if outcome.origin_allowed else None
        return json_answer(202, outcome.answer, cors_headers(origin))

    return fast_handler(ingest_tick, services, answer)


@bp.get("/tick.gif")
def pixel() -> Response:
    if request.method == "HEAD":  # link checkers and prefetchers look; they are not visits
        return Response(status=200, mimetype="image/gif")
    args = request.args
    services = current_services()
    trusted = services.settings.rate_limits.trusted_proxies
    incoming = ingest_request(request.environ, _no_body, args.get, trusted)
    accepted(ingest_pixel(services, incoming, args.items(multi=True)))
    response = Response(PIXEL, status=200, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


def _no_body() -> bytes:
    return b""


def _environ(environ_key: str) -> str | None:
    """A request header (or the client address) as ``request.headers.get`` gives it."""
    value: str | None = request.environ.get(environ_key)
    return value


def _query(name: str) -> str | None:
    """``request.args.get(name)``, without parsing an empty query string into a MultiDict."""
    return request.args.get(name) if request.environ.get("QUERY_STRING") else None


def _with_cors_headers(response: Response, origin: str | None, preflight: bool = False) -> Response:
    for name, value in cors_headers(origin, preflight):
        if name == "Vary":
            response.headers.add(name, value)
        else:
            response.headers[name] = value
    return response
