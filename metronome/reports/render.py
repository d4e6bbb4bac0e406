"""``ReportRenderer``: a dashboard drawn by the app's own code in a headless Chromium, then
printed to PDF (A4 or Letter, text selectable) or captured as PNG.

Each render opens a fresh browser context (nothing shared between reports), answers the
page's requests itself (the report page, the app's script and stylesheet from ``clients/app/
dist``) and aborts every other one, so the page reaches no network, not even Metronome: the
data is in the page. The render waits until every widget says it is drawn, within
``reports.timeout`` seconds, and closes its context whatever happens.
"""

from __future__ import annotations

import importlib.util
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from metronome.config import ReportSettings
from metronome.reports.page import (
    FOOTER_MM,
    MARGIN_MM,
    ORIGIN,
    PAGE_PATH,
    PAPER_SIZES,
    PDF_SCALE,
    PNG_WIDTH,
    footer_html,
    pdf_viewport_width,
    report_html,
)
from metronome.reports.report import Paper, ReportData, payload
from metronome.reports.workbook import xlsx
from metronome.reports.worker import (
    BrowserWorker,
    ReportFailed,
    ReportUnavailable,
    register,
)
from metronome.snippet.bundle import APP_DIST, Manifest, read_manifest

__all__ = ["ReportData", "ReportRenderer", "renderer_problem", "xlsx"]

T = TypeVar("T")
DRAWN = "html[data-report-drawn]"
DRAW_POLL = 0.25  # seconds between two looks for a script error while the page draws
PDF_PIXEL_RATIO = 2  # charts are bitmaps: drawn at twice the CSS pixels, sharp on paper


def renderer_problem(settings: ReportSettings, dist: Path = APP_DIST) -> str | None:
    """Why reports cannot be rendered here, or None when they can (checked at start and
    before each render: a browser installed later is picked up)."""
    if not settings.enabled:
        return "reports are turned off (reports.enabled: false)"
    if not (settings.browser.is_file() or shutil.which(str(settings.browser))):
        return (
            f"no browser at {settings.browser} (reports.browser): install Debian's chromium "
            "(`make run` does, as root)"
        )
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e .)"
    if read_manifest(dist) is None:
        return f"the dashboard app is not built in {dist} (`make app`)"
    return None


class ReportRenderer:
    """One per process; holds at most one browser, started at the first render."""

    def __init__(self, settings: ReportSettings, dist: Path = APP_DIST) -> None:
        self.settings = settings
        self.dist = dist
        self.worker = register(
            BrowserWorker(
                settings.browser, queue_limit=settings.queue, idle_seconds=settings.idle_seconds
            )
        )

    def problem(self) -> str | None:
        return renderer_problem(self.settings, self.dist)

    def pdf(self, report: ReportData, paper: Paper = "a4") -> bytes:
        size = PAPER_SIZES[paper]

        def print_pdf(page: Any) -> bytes:
            data: bytes = page.pdf(
                format=size.name,
                print_background=True,
                scale=PDF_SCALE,
                margin={
                    "top": f"{MARGIN_MM}mm",
                    "right": f"{MARGIN_MM}mm",
                    "bottom": f"{FOOTER_MM}mm",
                    "left": f"{MARGIN_MM}mm",
                },
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=footer_html(report.title, report.site),
            )
            return data

        width = pdf_viewport_width(paper)
        return self._render(report, "pdf", width, PDF_PIXEL_RATIO, print_pdf)

    def png(self, report: ReportData) -> bytes:
        def capture(page: Any) -> bytes:
            data: bytes = page.screenshot(full_page=True, type="png")
            return data

        return self._render(report, "png", PNG_WIDTH, 1, capture)

    def widget_pngs(self, report: ReportData) -> dict[str, bytes]:
        """Each widget's card (title and body) as a PNG, by widget id."""

        def capture(page: Any) -> dict[str, bytes]:
            images = {}
            for widget in report.dashboard.widgets:
                card = page.locator(f"section[data-widget='{widget.id}']")
                images[widget.id] = card.screenshot(type="png")
            return images

        return self._render(report, "png", PNG_WIDTH, 1, capture)

    def close(self) -> None:
        self.worker.close()

    def _render(
        self,
        report: ReportData,
        medium: str,
        width: int,
        pixel_ratio: int,
        action: Callable[[Any], T],
    ) -> T:
        problem = self.problem()
        manifest = read_manifest(self.dist)
        if problem is not None or manifest is None:
            raise ReportUnavailable(problem or "the dashboard app is not built (`make app`)")
        html = report_html(manifest, payload(report), medium)
        files = _files(self.dist, manifest)
        timeout_ms = self.settings.timeout * 1000

        def job(browser: Any) -> T:
            context = browser.new_context(
                viewport={"width": width, "height": 900},
                device_scale_factor=pixel_ratio,
                color_scheme="light",
                reduced_motion="reduce",
                locale="en-GB",
                timezone_id="UTC",
            )
            try:
                context.set_default_timeout(timeout_ms)
                context.route("**/*", _answer(html, files))
                page = context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                page.goto(ORIGIN + PAGE_PATH, wait_until="load")
                wait_until_drawn(page, errors, self.settings.timeout)
                return action(page)
            finally:
                context.close()

        return self.worker.run(job, self.settings.timeout)


def wait_until_drawn(page: Any, errors: list[str], timeout: float) -> None:
    """Wait for the page to say it is drawn; a script error on the page fails at once (a page
    that threw will not draw, so waiting out ``timeout`` would only hold a worker)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout  # noqa: PLC0415

    deadline = time.monotonic() + timeout
    while not errors:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ReportFailed(f"The report page did not draw within {timeout:g} s.")
        try:
            page.wait_for_selector(DRAWN, state="attached", timeout=min(DRAW_POLL, left) * 1000)
        except PlaywrightTimeout:
            continue
        return
    raise ReportFailed(f"The report page did not draw: {errors[0]}.")


def _files(dist: Path, manifest: Manifest) -> dict[str, tuple[bytes, str]]:
    try:
        return {
            f"/app/{manifest.js}": ((dist / manifest.js).read_bytes(), "text/javascript"),
            f"/app/{manifest.css}": ((dist / manifest.css).read_bytes(), "text/css"),
        }
    except OSError as error:
        raise ReportUnavailable(f"the dashboard app's files cannot be read ({error})") from None


def _answer(html: str, files: dict[str, tuple[bytes, str]]) -> Callable[[Any], None]:
    """The route handler: the page and the app's two files; every other request aborted."""

    def handle(route: Any) -> None:
        url: str = route.request.url
        path = url[len(ORIGIN) :] if url.startswith(ORIGIN + "/") else None
        if path == PAGE_PATH:
            route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
        elif path in files:
            body, content_type = files[path]
            route.fulfill(status=200, content_type=content_type, body=body)
        else:
            route.abort("blockedbyclient")

    return handle
