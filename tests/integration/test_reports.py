"""GET /api/v1/dashboards/<id>.pdf|.png|.xlsx (and the shared links' equivalents) against the
real Elasticsearch and a real headless Chromium: the PDF's text (pdftotext) holds the numbers
of the data endpoint for the same page, its pages are A4 or Letter (pdfinfo), the PNG decodes,
the XLSX reads back (openpyxl) as the data; refusals are JSON.

The rendered pages are written to var/test-output/reports/ (pdftoppm) to be looked at."""

from __future__ import annotations

import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook  # type: ignore[import-untyped]

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.reports import ReportRenderer
from metronome.web.app import create_app
from metronome.web.views.reports import EXTENSION_KEY
from tests.conftest import READ_KEY, ROOT, WRITE_KEY, error_of, make_settings

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
OUTPUT = ROOT / "var" / "test-output" / "reports"
CHROMIUM = Path("/usr/bin/chromium")
APP_BUILT = ROOT / "clients" / "app" / "dist" / "manifest.json"
VIEWS = [["is", "event", ["view"]]]
PAGE = {"range": "30d", "interval": "day", "tz": "Europe/Warsaw", "compare": "previous"}

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.exists() and shutil.which("pdftotext") and APP_BUILT.exists()),
    reason="needs Debian's chromium and poppler-utils (make test-tools) and the app (make app)",
)


def hits(now: datetime) -> list[dict[str, Any]]:
    """Known counts: 8 days of views from two referrers and downloads, 11 pages seen once
    (so the top pages table is cut at its limit of 10), 4 views in the previous period."""
    sent = []
    for day in range(1, 9):
        at = (now - timedelta(days=day)).replace(hour=12, minute=0).isoformat()
        for item, referrer, count in (("page-a", "news.example.org", 3), ("page-b", None, 2)):
            for n in range(count):
                hit = {"id": item, "event": "view", "time": at, "visitor_id": f"v{n}"}
                if referrer:
                    hit["referrer"] = f"https://{referrer}/x"
                sent.append(hit)
        sent.append({"id": "data.csv", "event": "download", "format": "csv", "time": at})
    two_days = (now - timedelta(days=2)).replace(hour=13).isoformat()
    sent += [{"id": f"extra-{n:02d}", "event": "view", "time": two_days} for n in range(11)]
    for day in range(31, 35):
        at = (now - timedelta(days=day)).replace(hour=12).isoformat()
        sent.append({"id": "page-a", "event": "view", "time": at})
    return sent


def build(settings: Settings, es: Elasticsearch) -> Flask:
    install_templates(es, settings.elasticsearch.index_prefix)
    return create_app(settings, es=es)


@pytest.fixture
def client(settings: Settings, es: Elasticsearch, ship: Callable[[], int]) -> Iterator[FlaskClient]:
    app = build(settings, es)
    client = app.test_client()
    sent = client.post(
        "/tick", json=[{"site": "shop", **h} for h in hits(datetime.now(UTC))],
        headers={"X-Metronome-Key": WRITE_KEY},
    )  # fmt: skip
    assert sent.status_code == 202, sent.get_json()
    ship()
    yield client
    app.extensions[EXTENSION_KEY].close()


def data(client: FlaskClient, path: str = "/api/v1/dashboards/web", **page: Any) -> Any:
    shared = not path.startswith("/api/v1/dashboards")
    headers = {} if shared else AUTH
    body = {**PAGE, **page} if shared else {"site": "shop", **PAGE, **page}
    response = client.post(f"{path}/data", json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def download(client: FlaskClient, path: str, **params: Any) -> Any:
    headers = AUTH if path.startswith("/api/v1/dashboards") else {}
    return client.get(f"{path}?{urlencode({**PAGE, **params})}", headers=headers)


def pdf_text(pdf: bytes, tmp_path: Path) -> str:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf)
    run = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, check=True)
    return run.stdout.decode()


def pdf_info(pdf: bytes, tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "info.pdf"
    path.write_bytes(pdf)
    run = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True, text=True)
    return dict(
        (key.strip(), value.strip())
        for key, _, value in (line.partition(":") for line in run.stdout.splitlines())
    )


def save_pages(pdf: bytes, name: str) -> list[Path]:
    """The PDF's pages as PNG images in var/test-output/reports/ (to be looked at)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    for old in OUTPUT.glob(f"{name}-*.png"):
        old.unlink()
    (OUTPUT / f"{name}.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", str(OUTPUT / f"{name}.pdf"), str(OUTPUT / name)],
        check=True,
    )
    return sorted(OUTPUT.glob(f"{name}-*.png"))


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height of a PNG, after checking that its pixels decompress to the size its
    header promises (8-bit RGB or RGBA, one filter byte per row)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, color = struct.unpack(">IIBB", png[16:26])
    chunks, at = [], 8
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind = png[at + 4 : at + 8]
        if kind == b"IDAT":
            chunks.append(png[at + 8 : at + 8 + length])
        at += 12 + length
    channels = {2: 3, 6: 4}[color]
    assert depth == 8
    assert len(zlib.decompress(b"".join(chunks))) == height * (1 + width * channels)
    return width, height


def total(answer: Any, widget: str) -> tuple[float, float | None]:
    row = answer["widgets"][widget]["total"]["results"][0]
    return row["metrics"][0], row["compare"]["change"][0]


def change_text(change: float) -> str:
    """As the app writes a rise (format.ts formatChange): +12.5%, +1,100% from 100 up."""
    if abs(change) >= 100:
        return f"+{round(change):,}%"
    return f"+{round(change * 10) / 10:g}%"


def test_the_pdf_holds_the_numbers_of_the_data_endpoint(
    client: FlaskClient, tmp_path: Path
) -> None:
    answer = data(client, filters=[])
    response = download(client, "/api/v1/dashboards/web.pdf", site="shop")
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype == "application/pdf"
    name = re.fullmatch(
        r'attachment; filename="web-shop-\d{8}-\d{8}\.pdf"',
        response.headers["Content-Disposition"],
    )
    assert name is not None, response.headers["Content-Disposition"]
    pdf = response.data
    text = pdf_text(pdf, tmp_path)
    flat = " ".join(text.split())
    for fact in ("Web analytics", "shop", "Europe/Warsaw", "Last 30 days", "previous period"):
        assert fact in flat, fact
    views, change = total(answer, "views")
    assert views == 8 * 5 + 11
    assert change is not None
    assert f"{int(views):,}" in flat and change_text(change) in flat, (views, change)
    downloads, _ = total(answer, "downloads")
    assert downloads == 8
    # Each table row as the data endpoint answered it: its label, then its numbers.
    for widget in ("top-pages", "referrers"):
        rows = answer["widgets"][widget]["results"]
        for row in rows:
            label = row["dimensions"][0] or "(direct)"
            numbers = r"\s+".join(f"{int(m):,}" for m in row["metrics"])
            assert re.search(rf"{re.escape(label)}\s+{numbers}\b", text), (widget, row)
    top = answer["widgets"]["top-pages"]
    assert len(top["results"]) == 10 and top["meta"]["total_rows"] == 13
    assert "Showing the top 10 of 13" in flat
    pages = save_pages(pdf, "web-a4")
    assert len(pages) == int(pdf_info(pdf, tmp_path)["Pages"]) >= 2


def test_a4_and_letter_pages_and_filters_are_said(client: FlaskClient, tmp_path: Path) -> None:
    news = [["is", "referrer.host", ["news.example.org"]]]
    filters = json.dumps(news)
    a4 = download(client, "/api/v1/dashboards/web.pdf", site="shop", filters=filters)
    bare = json.dumps([["is", "referrer.host", "news.example.org"]])  # one value, no list
    letter = download(client, "/api/v1/dashboards/web.pdf", site="shop", filters=bare,
                      paper="letter")  # fmt: skip
    assert a4.status_code == letter.status_code == 200, letter.data[:300]
    size = pdf_info(a4.data, tmp_path)["Page size"]
    width, height = (float(v) for v in re.findall(r"[\d.]+", size)[:2])
    assert abs(width - 595.3) < 2 and abs(height - 841.9) < 2, size  # 210 x 297 mm
    size = pdf_info(letter.data, tmp_path)["Page size"]
    width, height = (float(v) for v in re.findall(r"[\d.]+", size)[:2])
    assert abs(width - 612) < 2 and abs(height - 792) < 2, size  # 8.5 x 11 in
    text = " ".join(pdf_text(letter.data, tmp_path).split())
    assert "Referrer is news.example.org" in text
    answer = data(client, filters=news)
    views, _ = total(answer, "views")
    assert views == 8 * 3
    assert "24" in text
    save_pages(letter.data, "web-letter-filtered")


def test_the_png_decodes_at_the_report_width_and_the_xlsx_is_the_data(
    client: FlaskClient,
) -> None:
    png = download(client, "/api/v1/dashboards/web.png", site="shop")
    assert png.status_code == 200 and png.mimetype == "image/png"
    width, height = png_size(png.data)
    assert width == 1200 and height > 1200
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "web.png").write_bytes(png.data)

    answer = data(client, filters=[])
    sheet = download(client, "/api/v1/dashboards/web.xlsx", site="shop")
    assert sheet.status_code == 200
    assert sheet.headers["Content-Disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(sheet.data))
    assert book.sheetnames[0] == "Report"
    summary = dict(row for row in book["Report"].iter_rows(min_row=2, values_only=True))
    assert summary["Site"] == "shop" and summary["Time zone"] == "Europe/Warsaw"
    web = client.get("/api/v1/dashboards/web?site=shop", headers=AUTH).get_json()
    for index, widget in enumerate(web["widgets"], start=1):
        rows = list(book.worksheets[index].iter_rows(values_only=True))
        widget_answer = answer["widgets"][widget["id"]]
        if "error" in widget_answer:
            assert rows[1][0] == widget_answer["error"]["code"]
            continue
        expected = [
            [*r["dimensions"], *r["metrics"], *r["compare"]["metrics"], *r["compare"]["change"]]
            if "compare" in r
            else [*r["dimensions"], *r["metrics"]]
            for r in widget_answer["results"]
        ]
        got = [list(row) for row in rows[1 : 1 + len(expected)]]
        assert got == expected, widget["id"]
    views = [list(row) for row in book.worksheets[1].iter_rows(values_only=True)]
    assert views[-1][0] == "Total" and views[-1][1] == total(answer, "views")[0]


def test_a_shared_link_downloads_with_its_fixed_filters(
    client: FlaskClient, tmp_path: Path
) -> None:
    fixed = [["is", "id", "page-b"]]  # one value, no list: kept as [op, field, [values]]
    made = client.post("/api/v1/dashboards/web/shares", json={"site": "shop", "filters": fixed},
                       headers=AUTH).get_json()  # fmt: skip
    assert made["filters"] == [["is", "id", ["page-b"]]]
    base = f"/api/v1/shared/{made['token']}"
    pdf = download(client, f"{base}.pdf")
    assert pdf.status_code == 200, pdf.data[:300]
    text = " ".join(pdf_text(pdf.data, tmp_path).split())
    assert "Item is page-b" in text
    answer = data(client, base)
    views, _ = total(answer, "views")
    assert views == 8 * 2 and f"{int(views):,}" in text
    save_pages(pdf.data, "web-shared")
    sheet = download(client, f"{base}.xlsx")
    book = load_workbook(io.BytesIO(sheet.data))
    last = list(book.worksheets[1].iter_rows(values_only=True))[-1]
    assert last[:2] == ("Total", views)
    other_site = download(client, f"{base}.pdf", site="default")
    assert other_site.status_code == 403
    assert client.get("/api/v1/shared/" + "x" * 32 + ".pdf").status_code == 404


def test_bad_requests_are_json_refusals_naming_the_problem(client: FlaskClient) -> None:
    cases = [
        ("/api/v1/dashboards/web.doc", {}, 404, "unknown_format"),
        ("/api/v1/dashboards/nope.pdf", {}, 404, "unknown_dashboard"),
        ("/api/v1/dashboards/web.pdf", {"paper": "a3"}, 422, "invalid_request"),
        ("/api/v1/dashboards/web.pdf", {"filters": "[oops"}, 422, "invalid_request"),
        ("/api/v1/dashboards/web.pdf", {"color": "red"}, 422, "invalid_request"),
        ("/api/v1/dashboards/web.xlsx", {"interval": "fortnight"}, 422, "invalid_request"),
        ("/api/v1/dashboards/web.xlsx", {"range": "2026-02-01..2026-01-01"}, 422, None),
    ]
    for path, params, status, code in cases:
        response = client.get(f"{path}?{urlencode({'site': 'shop', **params})}", headers=AUTH)
        assert response.status_code == status, (path, params, response.get_json())
        error = error_of(response)
        assert code is None or error["code"] == code, (path, error)
    assert error_of(client.get("/api/v1/dashboards/web.pdf?site=shop"))["code"] == "missing_key"
    # Without a key nothing but the missing key is said, whatever else is wrong.
    anonymous = client.get("/api/v1/dashboards/web.pdf?site=shop&paper=a3&color=red")
    assert anonymous.status_code == 401 and error_of(anonymous)["code"] == "missing_key"
    keyed = client.get(f"/api/v1/dashboards/web.pdf?site=shop&key={READ_KEY}")
    assert keyed.status_code == 400 and error_of(keyed)["code"] == "key_in_url"
    field = error_of(client.get("/api/v1/dashboards/web.pdf?site=shop&paper=a3", headers=AUTH))
    assert field["field"] == "paper" and "a4, letter" in field["message"]


def test_without_a_browser_pdf_and_png_say_so_and_xlsx_still_works(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(es_url, index_prefix, tmp_path / "spool",
                             reports={"browser": str(tmp_path / "no-chromium")})  # fmt: skip
    app = build(settings, es)  # starts: the missing browser is no reason not to
    client = app.test_client()
    for fmt in ("pdf", "png"):
        response = client.get(f"/api/v1/dashboards/web.{fmt}?site=shop", headers=AUTH)
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        error = error_of(response)
        assert error["code"] == "reports_unavailable"
        assert "no browser at" in error["message"] and "chromium" in error["message"]
    assert client.get("/api/v1/dashboards/web.xlsx?site=shop", headers=AUTH).status_code == 200
    assert app.extensions[EXTENSION_KEY].worker.launches == 0


def test_one_browser_per_process_its_pages_closed(client: FlaskClient) -> None:
    for _ in range(2):
        assert download(client, "/api/v1/dashboards/web.png", site="shop").status_code == 200
    renderer: ReportRenderer = client.application.extensions[EXTENSION_KEY]
    assert renderer.worker.launches == 1
    assert renderer.worker.run(lambda browser: len(browser.contexts), timeout=10) == 0
