"""One dashboard answered for one page state (``ReportData``), and what the report page is
given about it (``payload``, pure): the definition, the data endpoint's answer, the page's
range, zone, comparison and filters, the site, a title and when it was made."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from metronome.dashboards.data import PageState
from metronome.dashboards.definition import Dashboard, to_json
from metronome.query.export import XLSX_MEDIA_TYPE

Paper = Literal["a4", "letter"]
PAPERS: tuple[Paper, ...] = ("a4", "letter")
# what each report format is sent as (an e-mail attachment or a download)
MEDIA_TYPES = {"pdf": "application/pdf", "png": "image/png", "xlsx": XLSX_MEDIA_TYPE}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class ReportData:
    dashboard: Dashboard
    data: Mapping[str, Any]  # what metronome.dashboards.data.dashboard_data answered
    page: PageState
    site: str
    title: str
    generated_at: datetime  # aware
    # A shared link's fixed filters: applied to ``data`` and shown apart from the page's own.
    fixed_filters: Sequence[list[Any]] = field(default=())


def payload(report: ReportData) -> dict[str, Any]:
    """The JSON the report page draws (clients/app/src/report.tsx, ``ReportPayload``)."""
    page = report.page
    return {
        "dashboard": to_json(report.dashboard),
        "data": dict(report.data),
        "page": {
            "range": list(page.range) if isinstance(page.range, list | tuple) else page.range,
            "interval": page.interval,
            "tz": page.tz,
            "compare": page.compare,
            "filters": [list(item) for item in page.filters],
        },
        "fixed_filters": [list(item) for item in report.fixed_filters],
        "site": report.site,
        "title": report.title,
        "generated_at": report.generated_at.isoformat(),
    }


def report_filename(report: ReportData, extension: str) -> str:
    """``<dashboard>-<site>-<first day>-<last day>.<ext>`` from the answered range (its end
    excluded, so the last day is the one before it when the range ends at midnight)."""
    answered = report.data.get("range") if isinstance(report.data, Mapping) else None
    days = ""
    if isinstance(answered, Mapping):
        start = str(answered.get("from", ""))[:10].replace("-", "")
        end = str(answered.get("to", ""))[:10].replace("-", "")
        if start and end:
            days = f"-{start}-{end}"
    name = _UNSAFE.sub("-", f"{report.dashboard.id}-{report.site}{days}").strip("-")
    return f"{name or 'report'}.{extension}"
