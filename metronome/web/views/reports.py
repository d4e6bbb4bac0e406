"""``GET /api/v1/dashboards/<id>.pdf|.png|.xlsx`` and ``GET /api/v1/shared/<token>.pdf|...``:
a dashboard as a file, for the page state given as query parameters (docs/dashboards.md,
"Reports").

The numbers are the data endpoint's answer for the same page (``data_response``: the same
computation and its few seconds of cache), drawn by ``metronome.reports``. PDF and PNG need
the headless browser: without it they answer 503 ``reports_unavailable`` saying what is
missing (XLSX needs none). Each worker process renders one report at a time; a few more wait
(``reports.queue``), the next is refused with 429 ``reports_busy``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.routing import BaseConverter

from metronome.config import Settings, SiteSettings
from metronome.dashboards.data import PAGE_KEYS, parse_page
from metronome.dashboards.registry import Entry
from metronome.errors import ApiError
from metronome.reports import (
    Paper,
    ReportBusy,
    ReportData,
    ReportFailed,
    ReportRenderer,
    ReportUnavailable,
    report_filename,
    xlsx,
)
from metronome.reports.report import MEDIA_TYPES, PAPERS
from metronome.web.readers import reader_site
from metronome.web.views.dashboards import _find, _shared, data_response

log = logging.getLogger(__name__)
bp = Blueprint("reports", __name__)
EXTENSION_KEY = "metronome.reports"
PARAMETERS = (*PAGE_KEYS, "paper")
RETRY_SECONDS = 5


class ShareTokenConverter(BaseConverter):
    """A shared link's token (``secrets.token_urlsafe``: no dot), so that ``<token>.pdf``
    splits at the dot."""

    regex = r"[A-Za-z0-9_-]+"


def init_app(app: Flask, settings: Settings) -> None:
    """One renderer for this process (its browser starts at the first PDF or PNG); says at
    start when PDF and PNG cannot be rendered, and why."""
    renderer = ReportRenderer(settings.reports)
    app.extensions[EXTENSION_KEY] = renderer
    problem = renderer.problem()
    if problem is not None:
        log.warning(
            "Reports: PDF and PNG downloads are unavailable (%s); XLSX downloads work.", problem
        )
    app.url_map.converters["share_token"] = ShareTokenConverter
    app.register_blueprint(bp)


def report_renderer() -> ReportRenderer:
    found = current_app.extensions[EXTENSION_KEY]
    assert isinstance(found, ReportRenderer)
    return found


@bp.get("/api/v1/dashboards/<dashboard_id:dashboard_id>.<fmt>")
def dashboard_report(dashboard_id: str, fmt: str) -> Response:
    _format(fmt)
    site = reader_site(request.args.get("site"))  # the key first: nothing else to the anonymous
    body, paper = page_parameters(request.args)
    body.pop("site", None)
    return report_response(_find(dashboard_id, site), site, body, fmt, paper, fixed=[])


@bp.get("/api/v1/shared/<share_token:token>.<fmt>")
def shared_report(token: str, fmt: str) -> Response:
    _format(fmt)
    share, entry, site = _shared(token)
    body, paper = page_parameters(request.args)
    if body.pop("site", None) not in (None, share.site):
        message = "A shared link shows the site it was made for; site cannot change."
        raise ApiError(403, "readonly", message, field="site")
    return report_response(entry, site, body, fmt, paper, fixed=share.filters)


def page_parameters(args: Any) -> tuple[dict[str, Any], Paper]:
    """The data endpoint's body from query parameters (``range``: a name, ``from..to`` or a
    JSON pair; ``compare``: a mode or ``none``; ``filters``: JSON), and the paper."""
    body: dict[str, Any] = {}
    for name in args:
        if name not in PARAMETERS and name != "key":  # ?key= is refused as everywhere
            known = ", ".join(PARAMETERS)
            message = f"Unknown parameter {name[:40]!r}; the parameters are {known}."
            raise ApiError(422, "invalid_request", message, field=name[:40])
    for name in ("site", "interval", "tz"):
        if name in args:
            body[name] = args[name]
    if "range" in args:
        body["range"] = _range(args["range"])
    if "compare" in args:
        body["compare"] = None if args["compare"] in ("", "none", "null") else args["compare"]
    if "filters" in args:
        body["filters"] = _json_parameter("filters", args["filters"])
    paper = args.get("paper", "a4").lower()
    if paper not in PAPERS:
        message = f"paper is one of {', '.join(PAPERS)}."
        raise ApiError(422, "invalid_request", message, field="paper")
    return body, paper


def _range(value: str) -> Any:
    if value.startswith("["):
        return _json_parameter("range", value)
    start, dots, end = value.partition("..")
    return [start, end] if dots else value


def _json_parameter(name: str, value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        message = f"{name} is JSON (e.g. {name}=" + (
            '[["is","event",["view"]]]).' if name == "filters" else '["2026-01-01","2026-02-01"]).'
        )
        raise ApiError(422, "invalid_request", message, field=name) from None


def _format(fmt: str) -> None:
    if fmt not in MEDIA_TYPES:
        message = f"A dashboard downloads as .pdf, .png or .xlsx, not .{fmt[:10]}."
        raise ApiError(404, "unknown_format", message, field="format")


def report_response(
    entry: Entry,
    site: SiteSettings,
    body: dict[str, Any],
    fmt: str,
    paper: Paper,
    *,
    fixed: list[list[Any]],
) -> Response:
    page = parse_page(body, entry.dashboard.defaults)  # 422 naming the parameter
    renderer = report_renderer()
    if fmt != "xlsx":
        _check_available(renderer)
    answer = data_response(entry, site, body, fixed or None)
    report = ReportData(
        dashboard=entry.dashboard,
        data=json.loads(answer.get_data()),
        page=page,
        site=site.name,
        title=entry.dashboard.title,
        generated_at=datetime.now(UTC),
        fixed_filters=tuple(fixed),
    )
    content = xlsx(report) if fmt == "xlsx" else _render(renderer, report, fmt, paper)
    response = Response(content, content_type=MEDIA_TYPES[fmt])
    name = report_filename(report, fmt)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _check_available(renderer: ReportRenderer) -> None:
    problem = renderer.problem()
    if problem is not None:
        raise ApiError(
            503,
            "reports_unavailable",
            f"PDF and PNG reports are unavailable on this server: {problem}. XLSX downloads work.",
            headers={"Retry-After": "3600"},
        )


def _render(renderer: ReportRenderer, report: ReportData, fmt: str, paper: Paper) -> bytes:
    retry = {"Retry-After": str(RETRY_SECONDS)}
    try:
        return renderer.pdf(report, paper) if fmt == "pdf" else renderer.png(report)
    except ReportBusy as error:
        raise ApiError(429, "reports_busy", str(error), headers=retry) from None
    except ReportUnavailable as error:
        message = f"PDF and PNG reports are unavailable on this server: {error}."
        raise ApiError(503, "reports_unavailable", message, headers=retry) from None
    except Exception as error:  # ReportFailed, or the browser failing under the render
        log.warning("report %s of %s failed: %s", fmt, report.dashboard.id, error)
        detail = str(error) if isinstance(error, ReportFailed) else "the browser failed"
        message = f"The report could not be rendered ({detail}); try again."
        raise ApiError(503, "report_failed", message, headers=retry) from None
