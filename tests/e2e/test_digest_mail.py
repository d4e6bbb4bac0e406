"""A digest with its charts and attachments drawn by the real report renderer (headless
Chromium), from seeded data in the real Elasticsearch, sent through the outbox to a real SMTP
server: in the e-mail received, every ``cid:`` of the HTML is an inline image, the PDF's text
and the XLSX's cells carry the period's numbers, and the HTML part is drawn in Chromium,
light and dark, desktop and phone width, to ``var/test-output/screenshots/digest-*.png``."""

from __future__ import annotations

import base64
import io
import re
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import Elasticsearch
from openpyxl import load_workbook  # type: ignore[import-untyped]

from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.registry import Fixed
from metronome.digests.reports import render_with
from metronome.digests.runner import DigestRunner
from metronome.es.templates import install_templates
from metronome.notify import Outbox, channels_from_settings
from metronome.reports import ReportRenderer
from tests.conftest import ROOT, ClientWith
from tests.e2e.browser import chromium
from tests.integration.test_digests import (
    DIGESTS,
    PREVIOUS_START,
    WEEK_START,
    Clock,
    notify_settings,
    parts,
    seeded,
    send,
)
from tests.smtp_server import smtp_server

SCREENSHOTS = ROOT / "var" / "test-output" / "screenshots"


def viewable(html: str, inline: dict[str, bytes]) -> str:
    """The HTML with each ``cid:`` image as a data URI, as a mail client shows it."""
    for content_id, data in inline.items():
        encoded = base64.b64encode(data).decode()
        html = html.replace(f"cid:{content_id}", f"data:image/png;base64,{encoded}")
    return html


def test_a_digest_with_charts_pdf_and_xlsx(
    client_with: ClientWith, es: Elasticsearch, ship: Callable[[], int], tmp_path: Path
) -> None:
    with smtp_server() as smtp:
        settings, client = client_with(digests=DIGESTS, notify=notify_settings(smtp))
        install_templates(es, settings.elasticsearch.index_prefix)
        send(client, seeded(WEEK_START, {"/a": 5, "/b": 3, "/c": 1}, downloads=2))
        send(client, seeded(PREVIOUS_START, {"/a": 2, "/b": 2}, downloads=4))
        ship()
        clock = Clock(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))
        prefix = settings.elasticsearch.index_prefix
        outbox = Outbox(es, prefix, channels_from_settings(settings.notify, clock), clock)
        renderer = ReportRenderer(settings.reports)
        try:
            runner = DigestRunner(
                settings, es, outbox, fixed=Fixed(builtin_dashboards()), clock=clock,
                render=render_with(renderer),
            )  # fmt: skip
            assert len(runner.run_due()) == 1
        finally:
            renderer.close()
        assert outbox.deliver_due().sent == 2
        message = smtp.wait_for(2)[0]
    text, html, inline, attached = parts(message)

    cids = set(re.findall(r'src="cid:([^"]+)"', html))
    assert cids and cids == set(inline), (cids, set(inline))
    for image in inline.values():
        assert image.startswith(b"\x89PNG\r\n\x1a\n") and len(image) > 1000
    assert "cid:chart.views-over-time.team" in html
    assert "http://" not in html and "https://" not in html  # nothing external
    assert re.search(r"Page views +9 +\+125%", text)

    pdf = next(data for name, data in attached.items() if name.endswith(".pdf"))
    assert pdf.startswith(b"%PDF")
    pdf_text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()
    assert "Page views" in pdf_text and "Top pages" in pdf_text
    book = next(data for name, data in attached.items() if name.endswith(".xlsx"))
    workbook = load_workbook(io.BytesIO(book), read_only=True)
    cells = [
        value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    ]
    assert 9 in cells and "/a" in cells

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_file = tmp_path / "digest.html"
    page_file.write_text(viewable(html, inline), encoding="utf-8")
    with chromium() as browser:
        for scheme in ("light", "dark"):
            for device, width in (("desktop", 900), ("phone", 390)):
                context = browser.new_context(
                    viewport={"width": width, "height": 800}, color_scheme=scheme
                )
                page = context.new_page()
                page.goto(page_file.as_uri())
                overflow = page.evaluate(
                    "document.documentElement.scrollWidth - document.documentElement.clientWidth"
                )
                assert overflow <= 0, f"{scheme} {device}: {overflow}px wider than the screen"
                page.screenshot(
                    path=str(SCREENSHOTS / f"digest-{scheme}-{device}.png"), full_page=True
                )
                context.close()
