"""``POST /tick``: validate, enrich, store, answer ``202 {"accepted": n}``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metronome.errors import ApiError, error_object
from metronome.es.bulk import StoreUnavailable
from metronome.hits.bodies import decode_body
from metronome.hits.pipeline import HitContext, enrich
from metronome.hits.schema import HitError, load_hit
from metronome.services import current_services
from metronome.sites import check_write_key, find_site

bp = Blueprint("hits", __name__)

AUTH_CODES = frozenset({"missing_key", "invalid_key"})


@bp.post("/tick")
def tick() -> tuple[Response, int]:
    services = current_services()
    settings = services.settings
    body = decode_body(request.content_type, request.get_data(cache=False))
    if body.batch and not body.hits:
        raise ApiError(422, "empty_batch", "The array holds no hits.")
    if len(body.hits) > settings.ingest.max_batch:
        raise ApiError(
            413,
            "batch_too_large",
            f"A batch may hold at most {settings.ingest.max_batch} hits, this one has "
            f"{len(body.hits)}.",
        )
    request_key = request.headers.get("X-Metronome-Key") or request.args.get("key")
    request_site = request.args.get("site")
    received_at = datetime.now(UTC)

    documents: list[dict[str, Any]] = []
    positions: list[int] = []
    rejected: list[dict[str, Any]] = []
    for index, raw in enumerate(body.hits):
        try:
            hit = load_hit(raw)
            site = find_site(settings, hit.get("site") or request_site)
            check_write_key(site, hit.get("key") or request_key)
        except HitError as error:
            rejected.append({"index": index, "error": error.as_error()})
            continue
        except ApiError as error:
            rejected.append({"index": index, "error": error.body()["error"]})
            continue
        documents.append(enrich(hit, HitContext(site=site.name, received_at=received_at)))
        positions.append(index)

    if documents:
        try:
            outcomes = services.sink.write(documents)
        except StoreUnavailable:
            raise ApiError(
                503,
                "store_unavailable",
                "Hits cannot be stored right now; nothing was accepted. Retry later.",
                headers={"Retry-After": "5"},
            ) from None
        for position, outcome in zip(positions, outcomes, strict=True):
            if outcome is not None:
                rejected.append({"index": position, "error": outcome})
        rejected.sort(key=lambda item: int(item["index"]))

    accepted = len(body.hits) - len(rejected)
    if accepted == 0:
        raise _nothing_accepted(rejected, body.batch)
    answer: dict[str, Any] = {"accepted": accepted}
    if rejected:
        answer["rejected"] = rejected
    return jsonify(answer), 202


def _nothing_accepted(rejected: list[dict[str, Any]], batch: bool) -> ApiError:
    codes = {item["error"]["code"] for item in rejected}
    status = 401 if codes <= AUTH_CODES else 422
    if batch:
        error = error_object(
            "no_hit_accepted", f"None of the {len(rejected)} hits was accepted; see rejected."
        )
    else:
        error = rejected[0]["error"]
    return ApiError(
        status,
        error["code"],
        error["message"],
        field=error.get("field"),
        extra={"accepted": 0, "rejected": rejected},
    )
