"""``GET /api/v1/sources`` and ``GET /api/v1/sources/<name>``: the configured sources with
their last run, last success, lag, failures and cursor (docs/api.md section 6; read key of the
admin site). What the alerting issue will notify on."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import TransportError
from flask import Blueprint, Response, jsonify, request

from metronome.access.sites import check_read_key, find_site, read_key
from metronome.config import Settings
from metronome.errors import ApiError
from metronome.sources.lease import LeaseStore
from metronome.sources.scheduler import LEASE_NAME
from metronome.sources.status import source_rows
from metronome.web.services import current_services

bp = Blueprint("sources", __name__)


@bp.get("/api/v1/sources")
def list_sources() -> Response:
    settings = _authorised()
    return jsonify(_overview(settings, settings.sources.keys()))


@bp.get("/api/v1/sources/<name>")
def one_source(name: str) -> Response:
    settings = _authorised()
    if name not in settings.sources:
        raise ApiError(404, "unknown_source", f"There is no source named {name!r}.")
    return jsonify(_overview(settings, [name])["sources"][0])


def _overview(settings: Settings, names: Any) -> dict[str, Any]:
    es = current_services().es.options(request_timeout=5)
    try:
        rows = source_rows(settings, es, names)
        lease = LeaseStore(es, settings.elasticsearch.index_prefix).current(LEASE_NAME)
    except (TransportError, EsApiError) as error:
        raise ApiError(
            503,
            "elasticsearch_unavailable",
            f"Source state is kept in Elasticsearch, which did not answer "
            f"({type(error).__name__}).",
            headers={"Retry-After": "5"},
        ) from None
    now = datetime.now(UTC).timestamp()
    scheduler = (
        {"holder": lease.holder, "lease_expires_at": _iso(lease.expires_at)}
        if lease is not None and lease.expires_at > now
        else None
    )
    return {"scheduler": scheduler, "sources": rows}


def _authorised() -> Settings:
    settings = current_services().settings
    site = find_site(settings, settings.admin_site or settings.default_site)
    key = read_key(request.headers.get("Authorization"), request.args)
    check_read_key(site, key)
    return settings


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
