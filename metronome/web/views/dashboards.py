"""``/api/v1/dashboards``: dashboard definitions and their data (docs/dashboards.md).

Reads need a read key of the site (as ``POST /api/v1/query``). The data endpoint answers every
widget of a dashboard at once (``metronome.dashboards.data``), and keeps each answer a few
seconds per (site, dashboard version, request), so a page opened by several people at once,
or reloaded, runs its searches once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from metronome.config import PublicCacheSettings, SiteSettings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import dashboard_data, parse_page
from metronome.dashboards.definition import DASHBOARD_ID
from metronome.dashboards.registry import Entry, Fixed
from metronome.errors import ApiError
from metronome.query.body import query_body
from metronome.query.catalog import FieldKind
from metronome.query.public_cache import Answer, PublicCache
from metronome.query.reads import call_elasticsearch
from metronome.web.services import current_services
from metronome.web.views.query import _reader_site

bp = Blueprint("dashboards", __name__)
EXTENSION_KEY = "metronome.dashboards"
DATA_CACHE = PublicCacheSettings(ttl=10.0, max_entries=500, max_bytes=32 * 1024 * 1024)


@dataclass(frozen=True)
class DashboardServices:
    fixed: Fixed  # built-in and file dashboards
    data_cache: PublicCache  # answers of the data endpoint, a few seconds


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION_KEY] = DashboardServices(
        fixed=Fixed(builtin_dashboards()), data_cache=PublicCache(DATA_CACHE)
    )
    app.register_blueprint(bp)


def dashboard_services() -> DashboardServices:
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, DashboardServices)
    return found


@bp.get("/api/v1/dashboards")
def list_dashboards() -> Response:
    _reader_site(public_ok=False)
    entries = dashboard_services().fixed.all()
    return jsonify({"dashboards": [entry.summary() for entry in entries]})


@bp.get("/api/v1/dashboards/<dashboard_id>")
def get_dashboard(dashboard_id: str) -> Response:
    site = _reader_site(public_ok=False)
    entry = _find(dashboard_id, site)
    response = jsonify(entry.answer())
    response.headers["ETag"] = f'"{entry.version}"'
    return response


@bp.post("/api/v1/dashboards/<dashboard_id>/data")
def dashboard_data_view(dashboard_id: str) -> Response:
    body = query_body(request.mimetype, request.get_data(cache=True))
    name = body.pop("site", None) if isinstance(body, dict) else None
    site = _reader_site(public_ok=False, name=name)
    entry = _find(dashboard_id, site)
    return data_response(entry, site, body)


def data_response(
    entry: Entry, site: SiteSettings, body: Any, fixed_filters: list[list[Any]] | None = None
) -> Response:
    """The data of every widget of ``entry`` for ``site`` (also the shared links' answer)."""
    services = current_services()
    page = parse_page(body, entry.dashboard.defaults)
    fixed = fixed_filters or []
    key = (
        site.name,
        entry.dashboard.id,
        entry.version,
        json.dumps([page.range, page.interval, page.tz, page.compare, page.filters, fixed]),
    )

    def compute() -> Answer:
        def fields_of(stream: str) -> dict[str, FieldKind]:
            return call_elasticsearch(lambda: services.catalog.fields(stream))

        result = dashboard_data(
            services.es,
            services.settings.elasticsearch.index_prefix,
            fields_of,
            entry.dashboard,
            page=page,
            site=site.name,
            now=datetime.now(UTC),
            fixed_filters=fixed,
        )
        return Answer(jsonify(result).get_data(), "application/json")

    answer, _ = dashboard_services().data_cache.get_or_compute(key, compute)
    return Response(answer.body, content_type=answer.mimetype)


def _find(dashboard_id: str, site: SiteSettings) -> Entry:
    entry = (
        dashboard_services().fixed.find(dashboard_id)
        if DASHBOARD_ID.fullmatch(dashboard_id)
        else None
    )
    if entry is None:
        message = f"There is no dashboard {dashboard_id[:64]!r} for site {site.name!r}."
        raise ApiError(404, "unknown_dashboard", message, field="id")
    return entry
