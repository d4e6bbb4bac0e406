"""The report renderer's part of a digest: its charts as images (inline in the HTML), the
dashboard as PDF and its data as XLSX (attachments).

Without a browser (``reports.enabled: false``, no Chromium) or when a render fails, the digest
goes without charts and PDF, and says nothing false: the XLSX needs no browser and is always
attached."""

from __future__ import annotations

import dataclasses
import logging

from metronome.dashboards.definition import Dashboard, Layout, Widget
from metronome.digests.content import CHART_TYPES, WIDE_CHARTS, File
from metronome.digests.runner import RenderReport, Report, ReportRequest
from metronome.reports import (
    ReportBusy,
    ReportData,
    ReportFailed,
    ReportRenderer,
    ReportUnavailable,
    report_filename,
    xlsx,
)
from metronome.reports.report import MEDIA_TYPES

log = logging.getLogger(__name__)

# The e-mail's column is 576 px; the report page is 1200 px on 12 columns. A series over time
# drawn on 6 columns is about as wide as the column (its labels at their size), a pie or a bar
# on 3 columns fits twice side by side.
WIDE_COLUMNS, NARROW_COLUMNS, CHART_ROWS = 6, 3, 3


def chart_dashboard(dashboard: Dashboard) -> Dashboard:
    """The dashboard's charts alone, laid out at the sizes the e-mail shows them."""
    widgets: list[Widget] = []
    x = y = 0
    for widget in dashboard.widgets:
        if widget.type not in CHART_TYPES:
            continue
        w = WIDE_COLUMNS if widget.type in WIDE_CHARTS else NARROW_COLUMNS
        if x + w > 12:
            x, y = 0, y + CHART_ROWS
        widgets.append(dataclasses.replace(widget, layout=Layout(x=x, y=y, w=w, h=CHART_ROWS)))
        x += w
    return dataclasses.replace(dashboard, widgets=tuple(widgets))


def render_with(renderer: ReportRenderer) -> RenderReport:
    def render(request: ReportRequest) -> Report:
        report = ReportData(
            dashboard=request.dashboard,
            data=request.data,
            page=request.page,
            site=request.site,
            title=request.title,
            generated_at=request.generated_at,
        )
        charts: dict[str, bytes] = {}
        files = []
        try:
            charts = renderer.widget_pngs(
                dataclasses.replace(report, dashboard=chart_dashboard(request.dashboard))
            )
            pdf = renderer.pdf(report)
            files.append(File(report_filename(report, "pdf"), MEDIA_TYPES["pdf"], pdf))
        except (ReportUnavailable, ReportFailed, ReportBusy) as error:
            log.warning("digest of %r without charts and PDF: %s", request.dashboard.id, error)
        files.append(File(report_filename(report, "xlsx"), MEDIA_TYPES["xlsx"], xlsx(report)))
        return Report(charts, tuple(files))

    return render
