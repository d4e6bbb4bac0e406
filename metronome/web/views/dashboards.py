"""``/api/v1/dashboards``, ``/api/v1/shares`` and ``/api/v1/shared``: dashboards as data
(docs/dashboards.md).

Every call but the shared ones needs a read key of the site (as ``POST /api/v1/query``); the
read key that opens a site's numbers also edits its dashboards. Built-in and file dashboards
are read-only (403 ``readonly``); stored ones change only from the version they were read at
(``If-Match``), so two editors cannot silently overwrite each other.

The data endpoint answers every widget at once (``metronome.dashboards.data``) and keeps each
answer a few seconds per (site, dashboard version, request), so a page opened by several
people at once, or reloaded, runs its searches once. A shared link's token opens one
dashboard of one site for reading, its fixed filters always applied; nothing is written
through it.
"""

from __future__ import annotations

import dataclasses
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from metronome.config import PublicCacheSettings, Settings, SiteSettings, config_origin
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState, dashboard_data, parse_page, widget_body
from metronome.dashboards.definition import (
    DASHBOARD_ID,
    ID_PATTERN,
    MAX_BODY_BYTES,
    RESERVED_IDS,
    Dashboard,
    parse_dashboard,
    to_json,
)
from metronome.dashboards.files import dashboards_dir, load_dashboard_files
from metronome.dashboards.registry import Entry, Fixed
from metronome.dashboards.shares import Share, ShareStore, share_csp, share_url
from metronome.dashboards.store import DashboardStore, parse_version, unknown_dashboard
from metronome.errors import ApiError
from metronome.query import export
from metronome.query.body import query_body
from metronome.query.catalog import FieldKind
from metronome.query.export import XLSX_MEDIA_TYPE
from metronome.query.multi import run_queries
from metronome.query.parse import parse_query
from metronome.query.public_cache import Answer, PublicCache
from metronome.query.reads import call_elasticsearch
from metronome.query.result import flat_rows, header
from metronome.web.json_body import json_body
from metronome.web.readers import reader_site
from metronome.web.services import EXTENSION_KEY as SERVICES_KEY
from metronome.web.services import current_services

bp = Blueprint("dashboards", __name__)


class DashboardIdConverter(BaseConverter):
    """A dashboard id; never ``import``, which is a route of its own (so that its URL matches
    one rule only)."""

    regex = f"(?!{'|'.join(RESERVED_IDS)}$){ID_PATTERN}"


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:
    state.app.url_map.converters["dashboard_id"] = DashboardIdConverter


EXTENSION_KEY = "metronome.dashboards"
DATA_CACHE = PublicCacheSettings(ttl=10.0, max_entries=500, max_bytes=32 * 1024 * 1024)
DOWNLOADS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": XLSX_MEDIA_TYPE,
}
MAX_SUFFIX = 100


@dataclass(frozen=True)
class DashboardServices:
    fixed: Fixed  # built-in and file dashboards
    store: DashboardStore
    shares: ShareStore
    data_cache: PublicCache  # answers of the data endpoint, a few seconds
    embed_origins: tuple[str, ...]


def init_app(app: Flask, settings: Settings) -> None:
    """Load the built-in and file dashboards (a bad file stops here) and serve them."""
    files = load_dashboard_files(dashboards_dir(settings, config_origin()))
    services = app.extensions[SERVICES_KEY]
    prefix = settings.elasticsearch.index_prefix
    app.extensions[EXTENSION_KEY] = DashboardServices(
        fixed=Fixed(builtin_dashboards(), files),
        store=DashboardStore(services.es, prefix),
        shares=ShareStore(services.es, prefix),
        data_cache=PublicCache(DATA_CACHE),
        embed_origins=settings.dashboards.embed_origins,
    )
    app.register_blueprint(bp)

    @app.after_request
    def share_page_policy(response: Response) -> Response:
        if request.path.startswith("/share/"):
            response.headers["Content-Security-Policy"] = share_page_csp()
        return response


def dashboard_services() -> DashboardServices:
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, DashboardServices)
    return found


def share_page_csp() -> str:
    """The Content-Security-Policy of a ``/share/<token>`` page: the app's own, framed only by
    the origins of ``dashboards.embed_origins``."""
    return share_csp(dashboard_services().embed_origins)


# --- definitions --------------------------------------------------------------------------


@bp.get("/api/v1/dashboards")
def list_dashboards() -> Response:
    site = reader_site()
    services = dashboard_services()
    entries = [*services.fixed.all(), *services.store.list(site.name)]
    return jsonify({"dashboards": [entry.summary() for entry in entries]})


@bp.get("/api/v1/dashboards/<dashboard_id:dashboard_id>")
def get_dashboard(dashboard_id: str) -> Response:
    site = reader_site()
    return _definition_answer(_find(dashboard_id, site))


@bp.post("/api/v1/dashboards")
def create_dashboard() -> Response:
    raw = json_body("the dashboard", MAX_BODY_BYTES)
    site = _site_of(raw)
    dashboard = _parsed(raw, site, id_required=False)
    services = dashboard_services()
    if "id" not in raw:
        dashboard = dataclasses.replace(dashboard, id=_free_id(_slug(dashboard.title), site))
    elif services.fixed.find(dashboard.id) is not None:
        raise _id_taken(dashboard.id, site)
    entry = services.store.create(dashboard)
    if entry is None:
        raise _id_taken(dashboard.id, site)
    return _definition_answer(entry, 201)


@bp.post("/api/v1/dashboards/import")
def import_dashboard() -> Response:
    raw = json_body("the dashboard", MAX_BODY_BYTES)
    site = reader_site()  # ?site=: the definition's own site is replaced
    if isinstance(raw, dict):
        given = raw.get("site")
        if given is not None and not (isinstance(given, str) and given):
            message = "site: null or a site's name (the import's ?site= replaces it)."
            raise ApiError(422, "invalid_dashboard", message, field="site")
        raw = {**raw, "site": site.name}
    dashboard = _parsed(raw, site, id_required=False)
    base = dashboard.id if "id" in raw else _slug(dashboard.title)
    for _ in range(3):  # an id taken between the check and the write: try the next one
        dashboard = dataclasses.replace(dashboard, id=_free_id(base, site))
        entry = dashboard_services().store.create(dashboard)
        if entry is not None:
            return _definition_answer(entry, 201)
    raise _id_taken(base, site)


@bp.put("/api/v1/dashboards/<dashboard_id:dashboard_id>")
def replace_dashboard(dashboard_id: str) -> Response:
    raw = json_body("the dashboard", MAX_BODY_BYTES)
    site = _site_of(raw)
    current = _find(dashboard_id, site)
    _writable(current)
    header = _if_match(site, dashboard_id)
    version = (
        header if header is not None else (raw.get("version") if isinstance(raw, dict) else None)
    )
    if isinstance(raw, dict) and "id" not in raw:
        raw = {**raw, "id": dashboard_id}
    dashboard = _parsed(raw, site, id_required=True)
    if dashboard.id != dashboard_id:
        message = "id: a dashboard keeps its id (export and import it to copy it)."
        raise ApiError(422, "invalid_dashboard", message, field="id")
    if not isinstance(version, str) or not version:
        raise ApiError(
            428,
            "version_required",
            'Send the version you edited (If-Match: "<version>" or "version" in the body), '
            "so that a change saved by someone else since is not overwritten.",
            field="version",
        )
    entry = dashboard_services().store.replace(dashboard, version)
    return _definition_answer(entry)


@bp.delete("/api/v1/dashboards/<dashboard_id:dashboard_id>")
def delete_dashboard(dashboard_id: str) -> Response:
    site = reader_site()
    _writable(_find(dashboard_id, site))
    dashboard_services().store.delete(site.name, dashboard_id, _if_match(site, dashboard_id))
    return Response(status=204)


@bp.get("/api/v1/dashboards/<dashboard_id:dashboard_id>/export")
def export_dashboard(dashboard_id: str) -> Response:
    site = reader_site()
    entry = _find(dashboard_id, site)
    text = json.dumps(to_json(entry.dashboard), indent=2, ensure_ascii=False) + "\n"
    response = Response(text, content_type="application/json")
    name = f"{entry.dashboard.id}.dashboard.json"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


# --- data ---------------------------------------------------------------------------------


@bp.post("/api/v1/dashboards/<dashboard_id:dashboard_id>/data")
def dashboard_data_view(dashboard_id: str) -> Response:
    body, site = _page_request()
    return data_response(_find(dashboard_id, site), site, body)


@bp.post("/api/v1/dashboards/<dashboard_id:dashboard_id>/widgets/<widget_id>/data.<fmt>")
def widget_download(dashboard_id: str, widget_id: str, fmt: str) -> Response:
    body, site = _page_request()
    return download_response(_find(dashboard_id, site), widget_id, fmt, site, body)


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
        result = dashboard_data(
            services.es,
            services.settings.elasticsearch.index_prefix,
            _fields_of,
            entry.dashboard,
            page=page,
            site=site.name,
            now=datetime.now(UTC),
            fixed_filters=fixed,
            rollups=services.settings.rollups,
        )
        return Answer(jsonify(result).get_data(), "application/json")

    answer, _ = dashboard_services().data_cache.get_or_compute(key, compute)
    return Response(answer.body, content_type=answer.mimetype)


def download_response(
    entry: Entry,
    widget_id: str,
    fmt: str,
    site: SiteSettings,
    body: Any,
    *,
    fixed_filters: list[list[Any]] | None = None,
) -> Response:
    """Every row of one widget on this page, as CSV or XLSX (the query API's export)."""
    if fmt not in DOWNLOADS:
        message = f"Download a widget as data.csv or data.xlsx, not data.{fmt[:10]}."
        raise ApiError(404, "unknown_format", message, field="format")
    widget = entry.dashboard.widget(widget_id)
    if widget is None:
        message = f"Dashboard {entry.dashboard.id!r} has no widget {widget_id[:64]!r}."
        raise ApiError(404, "unknown_widget", message, field="widget")
    page: PageState = parse_page(body, entry.dashboard.defaults)
    known = _fields_of(entry.dashboard.stream_of(widget))
    query_json = widget_body(
        entry.dashboard, widget, page=page, site=site.name, known=known,
        fixed_filters=fixed_filters or [],
    )  # fmt: skip
    query, _ = parse_query({**query_json, "exact": True}, site.name, known, datetime.now(UTC))
    services = current_services()
    settings = services.settings
    prefix = settings.elasticsearch.index_prefix
    (outcome,) = run_queries(services.es, prefix, [query], settings.rollups)
    if isinstance(outcome, ApiError):
        raise outcome
    columns, rows = header(query), flat_rows(query, outcome)
    content: Any
    if fmt == "xlsx":
        content = export.rows_to_xlsx([(widget.title or widget.id, columns, rows)])
    else:
        content = "".join(export.rows_to_csv(columns, rows))
    response = Response(content, content_type=DOWNLOADS[fmt])
    name = f"{entry.dashboard.id}-{widget.id}-{query.range.start:%Y%m%d}-{query.range.end:%Y%m%d}"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}.{fmt}"'
    return response


def _page_request() -> tuple[Any, SiteSettings]:
    body = query_body(request.mimetype, request.get_data(cache=True))
    name = body.pop("site", None) if isinstance(body, dict) else None
    return body, reader_site(name)


def _fields_of(stream: str) -> dict[str, FieldKind]:
    catalog = current_services().catalog
    return call_elasticsearch(lambda: catalog.fields(stream))


# --- shares -------------------------------------------------------------------------------


@bp.post("/api/v1/dashboards/<dashboard_id:dashboard_id>/shares")
def create_share(dashboard_id: str) -> Response:
    body = query_body(request.mimetype, request.get_data(cache=True))
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_share", 'The body is {"site": ..., "filters": [...]}.')
    unknown = sorted(set(body) - {"site", "filters"})
    if unknown:
        message = f"Unknown key {unknown[0][:40]!r}; a share takes site and filters."
        raise ApiError(422, "invalid_share", message, field=unknown[0][:40])
    site = reader_site(body.get("site"))
    entry = _find(dashboard_id, site)
    # their grammar (422 otherwise), each filter's values as a list
    filters = list(
        parse_page({"filters": body.get("filters", [])}, entry.dashboard.defaults).filters
    )
    share, token = dashboard_services().shares.create(site.name, entry.dashboard.id, filters)
    answer = {**share.answer(), "token": token, "url": share_url(token)}
    response = jsonify(answer)
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"  # the token is shown this once
    return response


@bp.get("/api/v1/dashboards/<dashboard_id:dashboard_id>/shares")
def list_shares(dashboard_id: str) -> Response:
    site = reader_site()
    entry = _find(dashboard_id, site)
    shares = dashboard_services().shares.list(site.name, entry.dashboard.id)
    return jsonify({"shares": [share.answer() for share in shares]})


@bp.delete("/api/v1/shares/<share_id>")
def revoke_share(share_id: str) -> Response:
    site = reader_site()
    if not dashboard_services().shares.revoke(site.name, share_id):
        message = f"Site {site.name!r} has no shared link {share_id[:40]!r}."
        raise ApiError(404, "unknown_share", message, field="id")
    return Response(status=204)


@bp.get("/api/v1/shared/<token>")
def shared_dashboard(token: str) -> Response:
    share, entry, _ = _shared(token)
    definition = {**entry.answer(), "readonly": True}
    return jsonify({"dashboard": definition, "site": share.site, "filters": share.filters})


@bp.post("/api/v1/shared/<token>/data")
def shared_data(token: str) -> Response:
    share, entry, site = _shared(token)
    return data_response(entry, site, _shared_body(share), share.filters)


@bp.post("/api/v1/shared/<token>/widgets/<widget_id>/data.<fmt>")
def shared_download(token: str, widget_id: str, fmt: str) -> Response:
    share, entry, site = _shared(token)
    body = _shared_body(share)
    return download_response(entry, widget_id, fmt, site, body, fixed_filters=share.filters)


@bp.route("/api/v1/shared/<token>", methods=["POST", "PUT", "PATCH", "DELETE"])
@bp.route("/api/v1/shared/<token>/data", methods=["PUT", "PATCH", "DELETE"])
def shared_write(token: str) -> Response:
    raise ApiError(403, "readonly", "A shared link only reads: nothing is changed through it.")


def _shared(token: str) -> tuple[Share, Entry, SiteSettings]:
    share = dashboard_services().shares.find(token)
    site = current_services().settings.site(share.site) if share else None
    if share is None or site is None:
        raise ApiError(404, "unknown_share", "This link does not open a dashboard (revoked?).")
    entry = _find(share.dashboard, site)
    return share, entry, site


def _shared_body(share: Share) -> Any:
    body = query_body(request.mimetype, request.get_data(cache=True))
    if isinstance(body, dict) and "site" in body:
        if body["site"] not in (None, share.site):
            message = "A shared link shows the site it was made for; site cannot change."
            raise ApiError(403, "readonly", message, field="site")
        body = {key: value for key, value in body.items() if key != "site"}
    return body


# --- helpers ------------------------------------------------------------------------------


def _find(dashboard_id: str, site: SiteSettings) -> Entry:
    services = dashboard_services()
    if not DASHBOARD_ID.fullmatch(dashboard_id):
        raise unknown_dashboard(dashboard_id, site.name)
    entry = services.fixed.find(dashboard_id) or services.store.get(site.name, dashboard_id)
    if entry is None:
        raise unknown_dashboard(dashboard_id, site.name)
    return entry


def _definition_answer(entry: Entry, status: int = 200) -> Response:
    response = jsonify(entry.answer())
    response.status_code = status
    response.headers["ETag"] = f'"{entry.version}"'
    return response


def _site_of(raw: Any) -> SiteSettings:
    """The site of a definition sent: ``?site=``, else its ``site``, else the default (the
    request must be allowed to read it); both given must agree."""
    named = raw.get("site") if isinstance(raw, dict) else None
    asked = request.args.get("site") or None
    site = reader_site(asked if asked is not None else named)
    if named is not None and named != site.name:
        message = f"The body's site {str(named)[:64]!r} is not the request's ({site.name!r})."
        raise ApiError(422, "invalid_dashboard", message, field="site")
    return site


def _parsed(raw: Any, site: SiteSettings, *, id_required: bool) -> Dashboard:
    if isinstance(raw, dict):
        raw = {**raw, "site": site.name}
    dashboard = parse_dashboard(raw, _known_fields, id_required=id_required, generated_id="new")
    return dataclasses.replace(dashboard, site=site.name)


def _known_fields(stream: str) -> dict[str, FieldKind] | None:
    """A stream's fields for checking a definition; None (grammar only) when it has none yet."""
    return _fields_of(stream) or None


def _writable(entry: Entry) -> None:
    if entry.readonly:
        raise ApiError(
            403,
            "readonly",
            f"Dashboard {entry.dashboard.id!r} is {entry.source} and read-only: export it and "
            "import the copy to change it.",
        )


def _if_match(site: SiteSettings, dashboard_id: str) -> str | None:
    """The version ``If-Match`` names, None without the header. A value that names no version
    (empty, ``*``, another ETag's form) cannot match the current one: the precondition fails,
    409 ``version_conflict`` with the current version."""
    value = request.headers.get("If-Match")
    if value is None:
        return None
    if parse_version(value) is None:
        raise dashboard_services().store.conflict(site.name, dashboard_id)
    return value.strip()


def _slug(title: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50].strip("-")
    return slug or "dashboard"


def _free_id(base: str, site: SiteSettings) -> str:
    services = dashboard_services()
    for number in range(1, MAX_SUFFIX + 1):
        candidate = base if number == 1 else f"{base[:55]}-{number}"
        taken = services.fixed.find(candidate) or services.store.get(site.name, candidate)
        if taken is None:
            return candidate
    raise _id_taken(base, site)


def _id_taken(dashboard_id: str, site: SiteSettings) -> ApiError:
    return ApiError(
        409,
        "id_taken",
        f"Site {site.name!r} already has a dashboard {dashboard_id!r}; choose another id.",
        field="id",
    )
