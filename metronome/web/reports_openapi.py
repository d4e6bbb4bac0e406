"""``/openapi.json`` for the reports: ``GET /api/v1/dashboards/{id}.{format}`` and the shared
links' ``GET /api/v1/shared/{token}.{format}`` (metronome.web.views.reports)."""

from __future__ import annotations

from typing import Any

from metronome.query.calendar import INTERVALS
from metronome.query.parse import COMPARE_MODES, RANGE_NAME_PATTERN
from metronome.query.timerange import time_zone_schema
from metronome.reports.report import PAPERS
from metronome.web.dashboards_openapi import FILTERS, ID, READ_KEY, STATUS, TOKEN, _errors, _path

FORMAT = {"type": "string", "enum": ["pdf", "png", "xlsx"]}
REPORT = {
    "description": "The dashboard as a file (Content-Disposition names it)",
    "content": {
        "application/pdf": {},
        "image/png": {},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
    },
}
UNAVAILABLE = (
    "PDF or PNG cannot be rendered now: reports_unavailable (no browser on this server, or "
    "reports turned off), report_failed (the render failed or took too long)."
)
BUSY = "Too many reports are being rendered (reports_busy), or over a rate limit."


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": False, "schema": schema,
            "description": description}  # fmt: skip


def page_parameters(*, site: bool) -> list[dict[str, Any]]:
    """The data endpoint's body as query parameters, plus the paper of a PDF."""
    parameters = [
        _query("range", {"type": "string", "pattern": f"^{RANGE_NAME_PATTERN}$"},
               'A range name (7d, 30d, last_month...); also "from..to" or a JSON pair '
               '["2026-01-01","2026-02-01"] (default: the dashboard\'s).'),
        _query("interval", {"type": "string", "enum": list(INTERVALS)}, "Granularity."),
        _query("tz", time_zone_schema(), "IANA time zone."),
        _query("compare", {"type": "string", "enum": [*COMPARE_MODES, "none"]},
               "Comparison (none: no comparison)."),
        {"in": "query", "name": "filters", "required": False,
         "content": {"application/json": {"schema": FILTERS}},
         "description": 'The page\'s filters as JSON: [["is","event",["view"]]].'},
        _query("paper", {"type": "string", "enum": list(PAPERS)}, "PDF paper (default a4)."),
    ]  # fmt: skip
    if site:
        parameters.insert(0, _query("site", {"type": "string"}, "Site (default: default_site)."))
    return parameters


def report_paths() -> dict[str, dict[str, Any]]:
    errors = _errors(400, 401, 403, 404, 422, 429, 503)
    errors["429"]["description"] = BUSY
    errors["503"]["description"] = f"{STATUS[503]} {UNAVAILABLE}"
    shared_errors = _errors(403, 404, 422, 429, 503)
    shared_errors["429"]["description"] = BUSY
    shared_errors["503"]["description"] = f"{STATUS[503]} {UNAVAILABLE}"
    return {
        "/api/v1/dashboards/{id}.{format}": {
            "get": {
                "summary": "A dashboard as PDF (A4 or Letter), PNG or XLSX for a page state: the "
                "data endpoint's numbers, drawn as the app draws them",
                "security": READ_KEY,
                "parameters": [
                    _path("id", ID),
                    _path("format", FORMAT),
                    *page_parameters(site=True),
                ],
                "responses": {"200": REPORT, **errors},
            }
        },
        "/api/v1/shared/{token}.{format}": {
            "get": {
                "summary": "A shared dashboard as PDF, PNG or XLSX (its fixed filters applied); "
                "no key",
                "parameters": [
                    _path("token", TOKEN),
                    _path("format", FORMAT),
                    *page_parameters(site=True),
                ],
                "responses": {"200": REPORT, **shared_errors},
            }
        },
    }
