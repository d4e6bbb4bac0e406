"""``GET /healthz`` (the process answers) and ``GET /readyz`` (Elasticsearch answers)."""

from __future__ import annotations

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from flask import Blueprint, Response, jsonify

from metronome.services import current_services

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> tuple[Response, int, dict[str, str]]:
    services = current_services()
    try:
        health = services.es.options(request_timeout=2).cluster.health(timeout="1s")
        status = str(health["status"])
    except (TransportError, EsApiError) as error:
        body = {
            "status": "unavailable",
            "error": {
                "code": "store_unavailable",
                "message": f"Elasticsearch is not reachable: {type(error).__name__}",
            },
        }
        return jsonify(body), 503, {"Retry-After": "5"}
    ready = status in ("green", "yellow")
    body = {"status": "ready" if ready else "unavailable", "elasticsearch": status}
    return jsonify(body), (200 if ready else 503), ({} if ready else {"Retry-After": "5"})
