"""``POST /tick``, ``GET /tick.gif`` and the CORS preflight: validate, enrich, spool, answer.

The flow reads top to bottom: decode the body -> per hit (``accept.accept_hits``): site, key,
origin, validation -> enrichment pipeline -> one durable spool append for the request -> 202.
"""

from __future__ import annotations

import base64
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Response, g, request
from werkzeug.wrappers import Request

from metronome import metrics
from metronome.access.cors import add_cors_headers, cors_headers, origin_allowed
from metronome.config import Settings
from metronome.errors import ApiError, error_object
from metronome.hits.accept import Outcome, RequestFacts, accept_hits
from metronome.hits.bodies import DecodedBody, decode_body, hit_from_pairs
from metronome.hits.pipeline import Document
from metronome.spool.http_errors import durable_append
from metronome.web.fastpath import (
    FastAnswer,
    Handler,
    decoded_once,
    json_answer,
    json_text,
    remember,
)
from metronome.web.services import Services, current_services

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

bp = Blueprint("hits", __name__)

# WSGI environ keys of the request headers and address ingest reads.
CONTENT_TYPE = "CONTENT_TYPE"
CONTENT_ENCODING = "HTTP_CONTENT_ENCODING"
KEY = "HTTP_X_METRONOME_KEY"
ORIGIN = "HTTP_ORIGIN"
USER_AGENT = "HTTP_USER_AGENT"
REMOTE_ADDR = "REMOTE_ADDR"

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@bp.after_request
def cors(response: Response) -> Response:
    """Every ingest answer, errors included, is readable by a page from an allowed origin."""
    origin = _environ(ORIGIN)
    allowed = _answer_origin(current_services(), origin, _query("site"), g.get("origin_allowed"))
    return add_cors_headers(response, allowed, preflight=request.method == "OPTIONS")


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
    services = current_services()
    ingest = services.settings.ingest
    body = decoded_once(
        request.environ,
        DecodedBody,
        lambda: decode_body(
            _environ(CONTENT_TYPE),
            request.get_data(cache=False),
            _environ(CONTENT_ENCODING),
            services.budgets.tick,
        ),
    )
    if body.batch and not body.hits:
        raise ApiError(422, "empty_batch", "The batch holds no hits.")
    if len(body.hits) > ingest.max_batch:
        raise ApiError(
            413,
            "batch_too_large",
            f"A batch may hold at most {ingest.max_batch} hits, this one has {len(body.hits)}.",
        )
    outcome = _accept(services, body.hits)
    if not outcome.documents:
        raise _nothing_accepted(outcome, body.batch)
    answer: dict[str, Any] = {"accepted": len(outcome.documents)}
    if outcome.rejected:
        answer["rejected"] = outcome.rejected
    return _answer(answer, 202)


def fast_tick(services: Services) -> Handler:
    """``POST /tick`` without Flask (``metronome.web.fastpath``) when every hit is accepted: the
    same decoding, checks, enrichment and one durable append as ``tick``, and the same answer
    and CORS headers. A body, batch or hit that is refused is left to ``tick``, which answers
    it (and counts it) as it always has."""
    settings = services.settings
    ingest = settings.ingest
    budget = services.budgets.tick

    def handle(environ: WSGIEnvironment, data: bytes) -> FastAnswer | None:
        try:
            body = decode_body(
                environ.get(CONTENT_TYPE), data, environ.get(CONTENT_ENCODING), budget
            )
        except ApiError as error:
            remember(environ, error)  # the view answers it, without decoding the body again
            return None
        remember(environ, body)
        if not body.hits or len(body.hits) > ingest.max_batch:
            return None
        args = Request(environ).args if environ.get("QUERY_STRING") else None
        named = args.get("site") if args is not None else None
        key = args.get("key") if args is not None else None
        outcome = accept_hits(settings, _facts(services, environ, key, named), body.hits)
        if outcome.rejected or not outcome.documents:
            return None
        cors = cors_headers(
            _answer_origin(services, environ.get(ORIGIN), named, outcome.origin_allowed)
        )
        try:
            spool_documents(services, outcome.documents)
        except ApiError as error:  # the spool is full or failing: nothing was appended
            return json_answer(error.status, error.body(), [*error.headers.items(), *cors])
        _count_accepted(outcome.documents)
        return json_answer(202, {"accepted": len(outcome.documents)}, cors)

    return handle


@bp.get("/tick.gif")
def pixel() -> Response:
    if request.method == "HEAD":  # link checkers and prefetchers look; they are not visits
        return Response(status=200, mimetype="image/gif")
    # Parameters starting with "_" are cache-busters (?_=1700000000), not data.
    pairs = [(k, v) for k, v in request.args.items(multi=True) if not k.startswith("_")]
    outcome = _accept(current_services(), [hit_from_pairs(pairs)])
    if not outcome.documents:
        raise _nothing_accepted(outcome, batch=False)
    response = Response(PIXEL, status=200, mimetype="image/gif")
    response.headers["Cache-Control"] = "no-store, max-age=0"
    return response


def _accept(services: Services, raw_hits: list[Any]) -> Outcome:
    """Validate and enrich every hit, then spool the valid ones in one durable append."""
    facts = _facts(services, request.environ, _query("key"), _query("site"))
    outcome = accept_hits(services.settings, facts, raw_hits)
    if outcome.origin_allowed is not None:
        g.origin_allowed = outcome.origin_allowed
    for rejection in outcome.rejected:
        metrics.REJECTED.labels(rejection["error"]["code"]).inc()
    if outcome.documents:
        spool_documents(services, outcome.documents)
        _count_accepted(outcome.documents)
    return outcome


def _facts(
    services: Services, environ: WSGIEnvironment, key: str | None, site: str | None
) -> RequestFacts:
    """What the request says about its hits: the key header (else ``?key=``), ``?site=``..."""
    received_at = datetime.now(UTC)
    return RequestFacts(
        received_at=received_at,
        salt=services.salts.for_day(received_at.date()),
        key=environ.get(KEY) or key,
        site=site,
        origin=environ.get(ORIGIN),
        user_agent=environ.get(USER_AGENT),
        client_ip=environ.get(REMOTE_ADDR),
    )


def _count_accepted(documents: list[Document]) -> None:
    if len(documents) == 1:  # most requests: no Counter
        metrics.accepted_counter(documents[0]["site"]).inc()
        return
    for site_name, count in Counter(d["site"] for d in documents).items():
        metrics.accepted_counter(site_name).inc(count)


def _environ(environ_key: str) -> str | None:
    """A request header (or the client address) as ``request.headers.get`` (``remote_addr``)
    gives it, read straight from the WSGI environ: werkzeug's header view costs several times
    more, and every ingest request reads five of them."""
    value: str | None = request.environ.get(environ_key)
    return value


def _query(name: str) -> str | None:
    """``request.args.get(name)``, without parsing an empty query string into a MultiDict."""
    return request.args.get(name) if request.environ.get("QUERY_STRING") else None


def _answer(body: dict[str, Any], status: int) -> Response:
    return Response(json_text(body), status=status, mimetype="application/json")


def spool_documents(services: Services, documents: list[Document]) -> None:
    with durable_append("hits"):
        services.sink.append(documents)


def _nothing_accepted(outcome: Outcome, batch: bool) -> ApiError:
    statuses = set(outcome.statuses)
    status = statuses.pop() if len(statuses) == 1 else 422
    if batch:
        error = error_object(
            "no_hit_accepted",
            f"None of the {len(outcome.rejected)} hits was accepted; see rejected.",
        )
    else:
        error = outcome.rejected[0]["error"]
    return ApiError(
        status,
        error["code"],
        error["message"],
        field=error.get("field"),
        extra={"accepted": 0, "rejected": outcome.rejected},
    )
