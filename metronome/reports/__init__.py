"""Dashboards as files: PDF and PNG drawn by the app's own code in a headless Chromium, and
XLSX with the numbers of the data endpoint (docs/dashboards.md, "Reports").

``ReportData`` is one dashboard answered for one page state; ``ReportRenderer`` (one per
process) turns it into PDF pages, a PNG of the whole dashboard, or one PNG per widget;
``xlsx`` into a workbook. No Flask: ``metronome.web.views.reports`` serves them."""

from metronome.reports.render import ReportRenderer, renderer_problem
from metronome.reports.report import Paper, ReportData, report_filename
from metronome.reports.workbook import xlsx
from metronome.reports.worker import ReportBusy, ReportFailed, ReportUnavailable

__all__ = [
    "Paper",
    "ReportBusy",
    "ReportData",
    "ReportFailed",
    "ReportRenderer",
    "ReportUnavailable",
    "renderer_problem",
    "report_filename",
    "xlsx",
]
