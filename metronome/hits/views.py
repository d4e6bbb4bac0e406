"""``POST /tick``, ``GET /tick.gif`` and the CORS preflight: validate, enrich, spool, answer.

The flow reads top to bottom: decode the body -> per hit: site, key, origin, schema ->
enrichment pipeline -> one durable spool append for the request -> 202.
"""

from __future__ import annotations

import base64
import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, g, jsonify, request

from metronome import metrics
from metronome.config import SiteSettings
from metronome.cors import add_cors_headers, origin_allowed
from metronome.errors import ApiError, error_object
from metronome.hits.bodies import decode_body, hit_from_pairs
from metronome.hits.pipeline import Document, HitContext, enrich
from metronome.hits.schema import HitError, load_hit
from metronome.services import Services, current_services
from metronome.sites import check_write_key
from metronome.spool.writer import SpoolFull, SpoolWriteError

bp = Blueprint("hits", __name__)

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


@dataclass
class Outcome:
    documents: list[Document] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # one per rejection


@bp.after_request
def cors(response: Response) -> Response:
    """Every ingest answer, errors included, is readable by a page from an allowed origin."""
    origin = request.headers.get("Origin")
    # After reading hits: was the origin allowed for a site they named? Before: any site.
    allowed = g.get("origin_allowed")
    if allowed is None:
        allowed = _origin_allowed_somewhere(origin)
    return add_cors_headers(
        response, origin if allowed else None, preflight=request.method == "OPTIONS"
    )


@bp.route("/tick", methods=["OPTIONS"])
@bp.route("/tick.gif", methods=["OPTIONS"])
def preflight() -> Response:
    origin = request.headers.get("Origin")
    if not _origin_allowed_somewhere(origin):
        raise ApiError(403, "forbidden_origin", f"Origin {origin!r} may not send hits here.")
    return Response(status=204)


def _origin_allowed_somewhere(origin: str | None) -> bool:
    """A preflight cannot see which site the body names: the ?site= one, else any site.
    Each hit's own site is checked when the hit is read."""
    settings = current_services().settings
    named = request.args.get("site")
    if named:
        site = settings.site(named)
        return site is not None and origin_allowed(site, origin)
    return any(origin_allowed(site, origin) for site in settings.sites.values())


@bp.post("/tick")
def tick() -> Response:
    services = current_services()
    ingest = services.settings.ingest
    body = decode_body(
        request.content_type,
        request.get_data(cache=False),
        request.headers.get("Content-Encoding"),
        max_decompressed_bytes=ingest.max_decompressed_bytes,
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
    response = jsonify(answer)
    response.status_code = 202
    return response


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
    settings = services.settings
    received_at = datetime.now(UTC)
    request_key = request.headers.get("X-Metronome-Key") or request.args.get("key")
    request_site = request.args.get("site")
    origin = request.headers.get("Origin")
    base_context = HitContext(
        site=settings.default_site,
        received_at=received_at,
        user_agent=request.headers.get("User-Agent"),
        client_ip=request.remote_addr,
        ip_mode=settings.privacy.ip,
        salt=services.salts.for_day(received_at.date()),
    )
    outcome = Outcome()
    for index, raw in enumerate(raw_hits):
        try:
            if not isinstance(raw, dict):
                load_hit(raw)  # raises: say what is wrong with the hit itself, not its key
            site = _site_of(services, raw, request_site)
            hit_key = _field(raw, "key")
            check_write_key(site, hit_key if isinstance(hit_key, str) and hit_key else request_key)
            allowed = origin_allowed(site, origin)
            g.origin_allowed = bool(g.get("origin_allowed")) or allowed
            if not allowed:
                raise ApiError(
                    403,
                    "forbidden_origin",
                    f"Origin {origin!r} may not send to site {site.name!r}.",
                )
            hit = load_hit(raw, site.limits, now=received_at)
        except HitError as error:
            _reject(outcome, index, error.as_error(), 422)
            continue
        except ApiError as error:
            _reject(outcome, index, error.body()["error"], error.status)
            continue
        outcome.documents.append(enrich(hit, dataclasses.replace(base_context, site=site.name)))
    if outcome.documents:
        spool_documents(services, outcome.documents)
        for site_name, count in Counter(d["site"] for d in outcome.documents).items():
            metrics.ACCEPTED.labels(site_name).inc(count)
    return outcome


def spool_documents(services: Services, documents: list[Document]) -> None:
    try:
        services.sink.append(documents)
    except SpoolFull:
        metrics.SPOOL_FULL.inc()
        raise ApiError(
            503,
            "spool_full",
            "Metronome is holding as many unshipped hits as it may; nothing was accepted. "
            "Retry later.",
            headers={"Retry-After": "30"},
        ) from None
    except SpoolWriteError:
        raise ApiError(
            503,
            "spool_unavailable",
            "Hits cannot be stored durably right now; nothing was accepted. Retry later.",
            headers={"Retry-After": "10"},
        ) from None


def _site_of(services: Services, raw: Any, request_site: str | None) -> SiteSettings:
    named = _field(raw, "site")
    if named is not None and not isinstance(named, str):
        raise ApiError(422, "invalid_hit", "site: Not a valid string.", field="site")
    site = services.settings.site(named or request_site or services.settings.default_site)
    if site is None:
        raise ApiError(
            422, "unknown_site", f"There is no site named {named or request_site!r}.", "site"
        )
    return site


def _field(raw: Any, name: str) -> Any:
    return raw.get(name) if isinstance(raw, dict) else None


def _reject(outcome: Outcome, index: int, error: dict[str, Any], status: int) -> None:
    metrics.REJECTED.labels(error["code"]).inc()
    outcome.rejected.append({"index": index, "error": error})
    outcome.statuses.append(status)


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
