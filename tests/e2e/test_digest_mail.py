"""A digest with its charts and attachments drawn by the real report renderer (headless
Chromium), from seeded data in the real Elasticsearch: the e-mail's inline images exist for
every ``cid:`` of the HTML, the PDF's text and the XLSX's cells carry the period's numbers,
and the HTML part is drawn in Chromium, light and dark, desktop and phone width, to
``var/test-output/screenshots/digest-*.png`` to be looked at."""

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
from metronome.digests.content import DigestMail
from metronome.digests.reports import render_with
from metronome.digests.runner import DigestRunner
from metronome.es.templates import install_templates
from metronome.reports import ReportRenderer
from tests.conftest import ROOT, ClientWith
from tests.e2e.browser import chromium
from tests.integration.test_digests import (
    DIGESTS,
    PREVIOUS_START,
    WEEK_START,
    Clock,
    Outbox,
    seeded,
    send,
)

SCREENSHOTS = ROOT / "var" / "test-output" / "screenshots"


def viewable(mail: DigestMail) -> str:
    """The HTML with each ``cid:`` image as a data URI, as a mail client shows it."""
    html = mail.html
    for file in mail.files:
        if file.inline_id:
            data = base64.b64encode(file.data).decode()
            html = html.replace(f"cid:{file.inline_id}", f"data:{file.content_type};base64,{data}")
    return html


def test_a_digest_with_charts_pdf_and_xlsx(
    client_with: ClientWith, es: Elasticsearch, ship: Callable[[], int], tmp_path: Path
) -> None:
    settings, client = client_with(digests=DIGESTS)
    install_templates(es, settings.elasticsearch.index_prefix)
    send(client, seeded(WEEK_START, {"/a": 5, "/b": 3, "/c": 1}, downloads=2))
    send(client, seeded(PREVIOUS_START, {"/a": 2, "/b": 2}, downloads=4))
    ship()
    clock = Clock(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))
    outbox = Outbox(clock)
    renderer = ReportRenderer(settings.reports)
    try:
        runner = DigestRunner(
            settings, es, outbox, fixed=Fixed(builtin_dashboards()), clock=clock,
            to_message=lambda mail: mail, render=render_with(renderer),
        )  # fmt: skip
        (built,) = runner.run_due()
    finally:
        renderer.close()
    mail = built.mail

    cids = set(re.findall(r'src="cid:([^"]+)"', mail.html))
    inline = {f.inline_id: f for f in mail.files if f.inline_id}
    assert cids and cids == set(inline), (cids, set(inline))
    for image in inline.values():
        assert image.data.startswith(b"\x89PNG\r\n\x1a\n") and len(image.data) > 1000
    assert "cid:views-over-time.team@metronome" in mail.html
    assert "http://" not in mail.html and "https://" not in mail.html  # nothing external

    attached = {f.filename: f for f in mail.files if not f.inline_id}
    pdf = next(f for name, f in attached.items() if name.endswith(".pdf"))
    assert pdf.data.startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf.data, capture_output=True, check=True
    ).stdout.decode()
    assert "Page views" in text and "Top pages" in text
    book = next(f for name, f in attached.items() if name.endswith(".xlsx"))
    workbook = load_workbook(io.BytesIO(book.data), read_only=True)
    cells = [
        value
        for sheet in workbook.worksheets
        for row in sheet.iter_rows(values_only=True)
        for value in row
    ]
    assert 9 in cells and "/a" in cells

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page_file = tmp_path / "digest.html"
    page_file.write_text(viewable(mail), encoding="utf-8")
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
