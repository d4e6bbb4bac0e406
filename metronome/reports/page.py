"""The report page (pure): the app's built files and the report's data in one HTML document,
and the page geometry of each paper size.

The page loads nothing but the app's script and stylesheet, both answered by the renderer
from disk; the data is a JSON script element the app reads (``#report-data``), written so
that no text in it can end the element."""

from __future__ import annotations

import json
from dataclasses import dataclass
from html import escape
from typing import Any

from metronome.reports.report import Paper
from metronome.snippet.bundle import Manifest

ORIGIN = "https://report.metronome.invalid"  # never resolved: every request is answered locally
PAGE_PATH = "/report"
MM = 96 / 25.4  # CSS pixels per millimetre


@dataclass(frozen=True)
class PaperSize:
    name: str  # Playwright's format name
    width_mm: float
    height_mm: float


PAPER_SIZES: dict[str, PaperSize] = {
    "a4": PaperSize("A4", 210.0, 297.0),
    "letter": PaperSize("Letter", 215.9, 279.4),
}
MARGIN_MM = 10.0
FOOTER_MM = 14.0  # the bottom margin holds the footer (title, page numbers)
PDF_SCALE = 0.78  # the page is laid out wider than the paper and printed smaller
PNG_WIDTH = 1200  # CSS pixels of the PNG of the whole dashboard (and of its widgets)
PNG_PADDING = 24


def pdf_viewport_width(paper: Paper) -> int:
    """The layout width whose print fills the paper's printable width at ``PDF_SCALE``: the
    screen layout and the printed one are the same, so the charts are drawn once, at their
    final size."""
    size = PAPER_SIZES[paper]
    return int((size.width_mm - 2 * MARGIN_MM) * MM / PDF_SCALE)


def report_html(manifest: Manifest, data: dict[str, Any], medium: str) -> str:
    """The document: the app's stylesheet and script, the data, a mount point."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # Inside <script>, only "</" can end the element; "<!--" could open a comment state.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    title = escape(str(data.get("title", "Report")))
    return f"""<!doctype html>
<html lang="en" data-medium="{escape(medium)}">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app/{escape(manifest.css)}">
<script type="application/json" id="report-data">{text}</script>
<script type="module" src="/app/{escape(manifest.js)}"></script>
</head>
<body>
<div id="app"></div>
</body>
</html>
"""


def footer_html(title: str, site: str) -> str:
    """Chromium's footer template: title and site left, page numbers right."""
    return (
        '<div style="width:100%;font-size:8px;color:#5f6878;font-family:sans-serif;'
        f'padding:0 {MARGIN_MM}mm;display:flex;justify-content:space-between">'
        f"<span>{escape(title)} · {escape(site)} · Metronome</span>"
        '<span>Page <span class="pageNumber"></span> of <span class="totalPages"></span></span>'
        "</div>"
    )
