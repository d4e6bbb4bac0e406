"""The dashboard app in a real Chromium against the real Metronome (gunicorn, Elasticsearch)
with known hits: sign-in, the numbers against ``POST /api/v1/query``, granularity and overlay,
drill-down and back, an expired session; then editing (a dashboard with every widget type, two
tabs in conflict), public links, and screenshots of every ready-made dashboard.

Screenshots go to ``var/test-output/screenshots/`` (light and dark, desktop and phone)."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect

from metronome.es.naming import index_for
from metronome.es.templates import install_templates, remove_templates
from tests.conftest import ROOT
from tests.e2e.browser import chromium
from tests.e2e.demo_data import STORAGE, demo_documents
from tests.e2e.processes import Metronome, running

READ_KEY = f"sk_app_{secrets.token_hex(8)}"
# The screenshots' sites: a realistic month of every stream (the tests' numbers stay on
# "default", whose few known hits they check), and a shop with Allezon's user tags.
DEMO_KEY = f"sk_demo_{secrets.token_hex(8)}"
DEMO, SHOP = "demo", "shop"
SCREENSHOTS = ROOT / "var" / "test-output" / "screenshots"
APP_DIST = ROOT / "clients" / "app" / "dist" / "manifest.json"
DESKTOP: ViewportSize = {"width": 1360, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
VIEW_FILTER = [["is", "event", ["view"]]]

# Per day, for the 8 days before today: (id, referrer host or None, event, format, count).
DAILY = [
    ("page-a", "news.example.org", "view", None, 3),
    ("page-b", "search.example.com", "view", None, 2),
    ("page-a", None, "view", None, 1),
    ("page-a", "news.example.org", "download", "csv", 1),
]
AGENTS = [
    {"name": "Firefox", "os": "Linux", "device": "desktop"},
    {"name": "Chrome", "os": "Android", "device": "mobile"},
]


def documents(prefix: str, now: datetime) -> Iterator[dict[str, Any]]:
    """Hits shaped as the pipeline stores them, at known times."""
    number = 0
    moments = [now.replace(hour=12, minute=0) - timedelta(days=days) for days in range(1, 9)]
    moments += [now - timedelta(minutes=10)]  # the realtime panel's
    for moment in moments:
        recent = moment > now - timedelta(hours=1)
        for item, referrer, event, fmt, count in DAILY[:1] if recent else DAILY:
            for _ in range(count):
                number += 1
                at = moment + timedelta(seconds=number)
                source: dict[str, Any] = {
                    "@timestamp": at.isoformat(),
                    "received_at": at.isoformat(),
                    "site": "default",
                    "type": "hits",
                    "event": event,
                    "id": item,
                    "url": {"host": "data.example.org", "path": f"/{item}"},
                    "visitor": f"visitor-{number % 7}",
                    "bot": False,
                    "user_agent": AGENTS[number % 2],
                    "hit_id": uuid.uuid4().hex,
                }
                if referrer:
                    source["referrer"] = {"host": referrer, "path": "/"}
                if fmt:
                    source["format"] = fmt
                yield {
                    "_index": index_for(prefix, "hits", at, STORAGE.period_of("hits")),
                    "_source": source,
                }


# A little of every other stream, so the screenshots of their dashboards show something.
OTHER_STREAMS: dict[str, list[dict[str, Any]]] = {
    "logs": [
        {
            "event": "view",
            "http": {"method": "GET", "status": 200, "bytes": 5120},
            "url": {"path": "/"},
            "referrer": {"host": "news.example.org"},
            "user_agent": {"name": "Firefox"},
            "bot": False,
        },
        {
            "event": "download",
            "format": "csv",
            "http": {"method": "GET", "status": 200, "bytes": 88000},
            "url": {"path": "/data.csv"},
            "user_agent": {"name": "curl"},
            "bot": True,
        },
        {
            "event": "view",
            "http": {"method": "GET", "status": 404, "bytes": 310},
            "url": {"path": "/missing"},
            "user_agent": {"name": "Chrome"},
            "bot": False,
        },
        {
            "event": "view",
            "http": {"method": "POST", "status": 302, "bytes": 0},
            "url": {"path": "/login"},
            "user_agent": {"name": "Chrome"},
            "bot": False,
        },
    ],
    "s3": [
        {
            "kind": "request",
            "event": "download",
            "format": "zip",
            "bucket": "open-data",
            "key": "2026/all.zip",
            "operation": "REST.GET.OBJECT",
            "http": {"status": 200},
            "bytes_sent": 1_200_000,
            "total_time_ms": 840,
        },
        {
            "kind": "request",
            "event": "download",
            "format": "csv",
            "bucket": "open-data",
            "key": "2026/prices.csv",
            "operation": "REST.GET.OBJECT",
            "http": {"status": 200},
            "bytes_sent": 52_000,
            "total_time_ms": 65,
        },
        {
            "kind": "request",
            "bucket": "open-data",
            "key": "private.txt",
            "operation": "REST.GET.OBJECT",
            "http": {"status": 403},
            "error_code": "AccessDenied",
            "bytes_sent": 0,
            "total_time_ms": 12,
        },
    ],
    "github": [
        {"kind": "star", "repo": "acme/metronome", "user": "alice"},
        {
            "kind": "webhook",
            "event": "issues",
            "action": "opened",
            "repo": "acme/metronome",
            "sender": "bob",
            "issue": {"state": "open"},
        },
        {
            "kind": "webhook",
            "event": "pull_request",
            "action": "opened",
            "repo": "acme/metronome",
            "sender": "carol",
            "pull_request": {"state": "open"},
        },
        {
            "kind": "webhook",
            "event": "push",
            "repo": "acme/metronome",
            "sender": "alice",
            "push": {"commits": 3},
        },
    ],
    "prometheus": [
        {"metric_name": "metronome_hits_accepted_total", "series": "web", "value": 1200},
        {"metric_name": "metronome_shipped_total", "series": "shipper", "value": 1180},
        {"metric_name": "metronome_ship_retries_total", "series": "shipper", "value": 4},
        {"metric_name": "metronome_hits_rejected_total", "series": "web", "value": 7},
    ],
}


def other_documents(prefix: str, now: datetime) -> Iterator[dict[str, Any]]:
    for stream, shapes in OTHER_STREAMS.items():
        for days in range(1, 9):
            for hour in (3, 9, 15, 21):
                for n, shape in enumerate(shapes):
                    at = now.replace(hour=hour, minute=n) - timedelta(days=days)
                    source = {**json.loads(json.dumps(shape)), "@timestamp": at.isoformat()}
                    source.update(
                        {"received_at": at.isoformat(), "site": "default", "type": stream}
                    )
                    if "value" in source:
                        source["value"] *= 1 + days / 10
                    index = index_for(prefix, stream, at, STORAGE.period_of(stream))
                    yield {"_index": index, "_source": source}


@pytest.fixture(scope="module")
def site(
    es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Metronome]:
    assert APP_DIST.exists(), f"{APP_DIST} is missing: `make app` builds it"
    prefix = f"t{uuid.uuid4().hex[:12]}"
    install_templates(es, prefix)
    now = datetime.now(UTC)
    # Two months of every stream, in the indices of each stream's default period (the few a
    # real install has; an index a day was ~250 indices, a minute of creating them). On a busy
    # machine this takes longer than the client's usual timeout. One refresh at the end.
    seeding = es.options(request_timeout=180)
    bulk(seeding, [*documents(prefix, now), *other_documents(prefix, now)])
    bulk(seeding, demo_documents(prefix, DEMO, SHOP, now), chunk_size=2000)
    es.indices.refresh(index=f"{prefix}-*")
    env = {"METRONOME_SITES__DEFAULT__READ_KEYS": READ_KEY}
    for name in (DEMO, SHOP):
        env[f"METRONOME_SITES__{name.upper()}__READ_KEYS"] = DEMO_KEY
        env[f"METRONOME_SITES__{name.upper()}__WRITE_AUTH"] = "none"
    try:
        with running(es_url, prefix, tmp_path_factory.mktemp("metronome"), **env) as metronome:
            yield metronome
    finally:
        names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
        for start in range(0, len(names), 40):  # many indices: a long URL
            es.indices.delete(index=",".join(names[start : start + 40]))
        remove_templates(es, prefix)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    yield context
    context.close()


def query(site: Metronome, body: dict[str, Any]) -> dict[str, Any]:
    response = requests.post(
        f"{site.base}/api/v1/query",
        json={"site": "default", "date_range": "30d", "tz": "UTC", **body},
        headers={"Authorization": f"Bearer {READ_KEY}"},
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


def total(site: Metronome, metric: str, filters: list[list[Any]]) -> float:
    results = query(site, {"metrics": [metric], "filters": filters})["results"]
    return float(results[0]["metrics"][0]) if results else 0.0


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    return errors


def drawn(page: Page) -> None:
    page.wait_for_selector("html[data-drawn]", state="attached", timeout=30_000)


def sign_in(page: Page, site: Metronome, path: str = "/") -> None:
    page.goto(site.base + path)
    page.get_by_label("Read key").fill(READ_KEY)
    page.get_by_role("button", name="Sign in").click()
    drawn(page)


def sign_in_demo(page: Page, site: Metronome, path: str) -> None:
    page.goto(site.base + path)
    page.get_by_label("Read key").fill(DEMO_KEY)
    page.get_by_role("button", name="Sign in").click()
    drawn(page)


def number_of(page: Page, widget: str) -> float:
    title = page.locator(f"section[data-widget='{widget}'] .number-value").get_attribute("title")
    assert title is not None
    return float(title.replace(",", ""))


def table_of(page: Page, widget: str) -> list[tuple[str, list[str]]]:
    rows = []
    for row in page.locator(f"section[data-widget='{widget}'] .table-row").all():
        label = row.locator(".label-text").inner_text()
        rows.append((label, [cell.inner_text() for cell in row.locator(".num").all()]))
    return rows


def series_of(page: Page, widget: str) -> dict[str, Any]:
    raw = page.locator(f"section[data-widget='{widget}'] canvas").get_attribute("data-series")
    assert raw is not None
    return dict(json.loads(raw))


def test_a_wrong_key_is_refused_and_the_right_one_opens_the_site_dashboard(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    page.goto(site.base + "/")
    page.get_by_label("Read key").fill("sk_not_a_key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    assert not context.cookies()
    page.get_by_label("Read key").fill(READ_KEY)
    page.get_by_role("button", name="Sign in").click()
    drawn(page)
    assert READ_KEY not in page.url
    expect(page.get_by_role("heading", name="Web analytics")).to_be_visible()
    assert [c["name"] for c in context.cookies()] == ["metronome_session"]
    assert errors == []


def test_the_numbers_shown_equal_the_query_api(site: Metronome, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, site)
    assert number_of(page, "views") == total(site, "count", VIEW_FILTER) == 8 * 6 + 3
    assert number_of(page, "visitors") == total(site, "visitors", VIEW_FILTER)
    assert number_of(page, "downloads") == total(site, "count", [["is", "event", ["download"]]])
    answer = query(
        site,
        {
            "metrics": ["count", "visitors"],
            "dimensions": ["referrer.host"],
            "filters": VIEW_FILTER,
            "order_by": [["count", "desc"]],
            "limit": 10,
        },
    )
    expected = [
        (row["dimensions"][0] or "(direct)", [f"{int(m):,}" for m in row["metrics"]])
        for row in answer["results"]
    ]
    assert table_of(page, "referrers") == expected
    assert expected[0] == ("news.example.org", ["27", expected[0][1][1]])


def test_granularity_and_overlay_change_the_series(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site)
    daily = series_of(page, "views-over-time")
    assert len(daily["labels"]) == 30
    assert [s["dashed"] for s in daily["series"]] == [False, True, False, True]

    page.get_by_label("Granularity").select_option("week")
    drawn(page)
    assert "interval=week" in page.url
    weekly = series_of(page, "views-over-time")
    expected = query(
        site,
        {
            "metrics": ["count", "visitors"],
            "dimensions": ["time:week"],
            "filters": VIEW_FILTER,
            "compare": "previous",
        },
    )["results"]
    assert len(weekly["labels"]) == len(expected) < 30
    assert weekly["series"][0]["values"] == [row["metrics"][0] for row in expected]
    assert weekly["series"][1]["values"] == [row["compare"]["metrics"][0] for row in expected]

    page.get_by_label("Compare").select_option(label="No comparison")
    drawn(page)
    assert "compare=none" in page.url
    assert [s["dashed"] for s in series_of(page, "views-over-time")["series"]] == [False, False]

    page.go_back()  # back to the weekly view with its overlay
    drawn(page)
    assert [s["dashed"] for s in series_of(page, "views-over-time")["series"]] == [
        False,
        True,
        False,
        True,
    ]


def test_clicking_a_referrer_filters_every_widget(site: Metronome, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, site)
    page.locator("section[data-widget='referrers'] .table-row", has_text="news.example.org").click()
    drawn(page)
    assert "f=is,referrer.host,news.example.org" in page.url
    expect(page.get_by_role("list", name="Filters")).to_contain_text("news.example.org")
    news = [["is", "referrer.host", ["news.example.org"]]]
    assert number_of(page, "views") == total(site, "count", [*VIEW_FILTER, *news]) == 8 * 3 + 3
    assert number_of(page, "downloads") == total(
        site, "count", [["is", "event", ["download"]], *news]
    )
    assert [label for label, _ in table_of(page, "referrers")] == ["news.example.org"]
    assert [label for label, _ in table_of(page, "top-pages")] == ["page-a"]

    # Keyboard: Enter on a focused row adds a filter too; the chip removes it.
    page.get_by_role("button", name="Remove filter").first.click()
    drawn(page)
    assert number_of(page, "views") == 8 * 6 + 3
    row = page.locator("section[data-widget='top-pages'] .table-row", has_text="page-b")
    row.focus()
    page.keyboard.press("Enter")
    drawn(page)
    assert number_of(page, "views") == 8 * 2
    page.go_back()
    drawn(page)
    assert number_of(page, "views") == 8 * 6 + 3
    expect(page.get_by_role("list", name="Filters")).to_have_count(0)


def test_an_expired_session_returns_to_sign_in_with_a_message(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site)
    context.clear_cookies()
    page.get_by_label("Granularity").select_option("week")
    expect(page.get_by_role("status")).to_contain_text("session has expired")
    page.get_by_label("Read key").fill(READ_KEY)
    page.get_by_role("button", name="Sign in").click()
    drawn(page)
    assert "interval=week" in page.url  # the view is kept


# One widget of each type: title, type, metrics, dimensions, stacked.
EVERY_TYPE = [
    ("Views and visitors", "line", "count, visitors", "time", False),
    ("Events over time", "area", "count", "time, event", True),
    ("Referrers", "bar", "count", "referrer.host", False),
    ("Formats", "pie", "count", "format", False),
    ("Browsers", "donut", "count", "user_agent.name", False),
    ("Pages", "scatter", "count, visitors", "id", False),
    ("Pages table", "table", "count, visitors", "id", False),
]


def api_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {READ_KEY}"}


def stored(site: Metronome, dashboard_id: str) -> dict[str, Any]:
    response = requests.get(
        f"{site.base}/api/v1/dashboards/{dashboard_id}?site=default",
        headers=api_headers(),
        timeout=30,
    )
    response.raise_for_status()
    return dict(response.json())


def add_widget(page: Page, spec: tuple[str, str, str, str, bool]) -> None:
    title, kind, metrics, dims, stacked = spec
    page.get_by_role("button", name="+ Add widget").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_label("Title").fill(title)
    dialog.get_by_label("Type").select_option(kind)
    dialog.get_by_label("Metrics (comma-separated)").fill(metrics)
    dialog.get_by_label("Dimensions (comma-separated)").fill(dims)
    if stacked:
        dialog.get_by_label("Stacked").check()
    dialog.get_by_role("button", name="Apply").click()
    expect(page.get_by_role("dialog")).to_have_count(0)


def test_a_dashboard_with_every_widget_type_is_still_there_after_a_reload(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    errors = watch_errors(page)
    sign_in(page, site)
    page.get_by_label("Dashboard").select_option("__new")
    page.get_by_role("dialog").get_by_label("Title").fill("Every type")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("button", name="+ Add widget")).to_be_visible()
    assert "edit=1" in page.url
    for spec in EVERY_TYPE:
        add_widget(page, spec)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("button", name="Edit", exact=True)).to_be_visible()
    dashboard_id = page.url.split("d=")[1].split("&")[0]

    page.reload()
    drawn(page)
    titles = ["Total", *[spec[0] for spec in EVERY_TYPE]]
    for title in titles:
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
    assert page.locator(".state.error").count() == 0
    assert page.locator("section canvas").count() == 6  # line, area, bar, pie, donut, scatter
    definition = stored(site, dashboard_id)
    assert [w["type"] for w in definition["widgets"]] == [
        "number",
        *[spec[1] for spec in EVERY_TYPE],
    ]
    assert definition["widgets"][2]["options"]["stacked"] is True
    area = series_of(page, definition["widgets"][2]["id"])
    assert {s["label"] for s in area["series"]} == {"view", "download"}
    assert errors == []


def test_a_second_tab_editing_the_same_dashboard_is_told_of_the_conflict(
    site: Metronome, context: BrowserContext
) -> None:
    dashboard_id = f"conflict-{uuid.uuid4().hex[:6]}"
    body: dict[str, Any] = {
        "id": dashboard_id,
        "title": "Shared work",
        "stream": "hits",
        "site": "default",
        "widgets": [
            {
                "id": "views",
                "title": "Views",
                "type": "number",
                "query": {"metrics": ["count"]},
                "layout": {"x": 0, "y": 0, "w": 3, "h": 2},
            }
        ],
    }
    created = requests.post(
        f"{site.base}/api/v1/dashboards", json=body, headers=api_headers(), timeout=30
    )
    assert created.status_code == 201, created.text
    first = context.new_page()
    sign_in(first, site, f"/?d={dashboard_id}&edit=1")
    second = context.new_page()
    second.goto(f"{site.base}/?d={dashboard_id}&edit=1")
    drawn(second)
    for page, title in ((first, "Saved first"), (second, "Saved second")):
        page.get_by_label("Dashboard title").fill(title)
    first.get_by_role("button", name="Save").click()
    expect(first.get_by_role("heading", name="Saved first")).to_be_visible()

    second.get_by_role("button", name="Save").click()
    conflict = second.get_by_role("dialog", name="Someone else saved this dashboard")
    expect(conflict).to_be_visible()
    assert stored(site, dashboard_id)["title"] == "Saved first"
    conflict.get_by_role("button", name="Overwrite with mine").click()
    expect(second.get_by_role("heading", name="Saved second")).to_be_visible()
    assert stored(site, dashboard_id)["title"] == "Saved second"


def test_a_public_link_works_without_a_key_refuses_edits_and_stops_when_revoked(
    site: Metronome, browser: Browser, context: BrowserContext
) -> None:
    owner = context.new_page()
    sign_in(owner, site)
    owner.get_by_role("button", name="Share").click()
    dialog = owner.get_by_role("dialog")
    dialog.get_by_role("button", name="Create a public link").click()
    link = dialog.get_by_label("The link (shown once: copy it now)").input_value()
    assert "/share/" in link and READ_KEY not in link
    token = link.rsplit("/", 1)[1]

    public = browser.new_context(viewport=DESKTOP)
    try:
        page = public.new_page()
        errors = watch_errors(page)
        page.goto(link)
        drawn(page)
        assert number_of(page, "views") == total(site, "count", VIEW_FILTER)
        for name in ("Edit", "Copy to edit", "Share", "Sign out"):
            expect(page.get_by_role("button", name=name, exact=True)).to_have_count(0)
        write = public.request.put(f"{site.base}/api/v1/shared/{token}", data={"title": "x"})
        assert write.status == 403
        anonymous = public.request.post(f"{site.base}/api/v1/dashboards", data={"title": "x"})
        assert anonymous.status == 401
        assert errors == []

        dialog.get_by_role("button", name="Revoke").click()
        expect(dialog).to_contain_text("No public links yet.")
        page.reload()
        expect(page.get_by_role("alert")).to_contain_text("This link does not work")
    finally:
        public.close()


def test_a_widget_downloads_its_rows_as_csv_and_xlsx(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site)
    page.get_by_role("button", name="Download Referrers").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Download CSV").click()
    text = Path(download.value.path()).read_text()
    lines = text.strip().splitlines()
    assert lines[0].startswith("referrer.host,")
    assert lines[1].startswith("news.example.org,27")
    page.get_by_role("button", name="Download Referrers").click()
    with page.expect_download() as download:
        page.get_by_role("menuitem", name="Download XLSX").click()
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"  # a zip: an .xlsx


def test_the_dashboard_downloads_as_pdf_png_and_xlsx_for_the_page_shown(
    site: Metronome, browser: Browser, context: BrowserContext, tmp_path: Path
) -> None:
    page = context.new_page()
    sign_in(page, site, "/?site=default&d=web&range=7d&tz=Europe/Warsaw")
    starts = {".pdf": b"%PDF", ".png": b"\x89PNG", ".xlsx": b"PK"}
    files: dict[str, bytes] = {}
    for label, suffix in (("Download PDF (A4)", ".pdf"), ("Download PNG", ".png"),
                          ("Download XLSX", ".xlsx")):  # fmt: skip
        page.get_by_role("button", name="Download", exact=True).click()
        with page.expect_download(timeout=90_000) as download:
            page.get_by_role("menuitem", name=label).click()
        name = download.value.suggested_filename
        assert re.fullmatch(rf"web-default-\d{{8}}-\d{{8}}\{suffix}", name), name
        files[suffix] = Path(download.value.path()).read_bytes()
        assert files[suffix].startswith(starts[suffix])
    (tmp_path / "page.pdf").write_bytes(files[".pdf"])
    text = subprocess.run(["pdftotext", str(tmp_path / "page.pdf"), "-"], capture_output=True,
                          check=True, text=True).stdout  # fmt: skip
    flat = " ".join(text.split())
    assert "Last 7 days" in flat and "Europe/Warsaw" in flat
    shown = number_of(page, "views")  # the same number as the page shows
    assert shown > 0 and f"{int(shown):,}" in flat

    # A shared link's page downloads the same way, without a key.
    share = requests.post(
        f"{site.base}/api/v1/dashboards/web/shares", json={"site": "default"},
        headers={"Authorization": f"Bearer {READ_KEY}"}, timeout=30,
    ).json()  # fmt: skip
    public = browser.new_context(viewport=DESKTOP, accept_downloads=True)
    try:
        shared = public.new_page()
        shared.goto(f"{site.base}/share/{share['token']}")
        drawn(shared)
        shared.get_by_role("button", name="Download", exact=True).click()
        with shared.expect_download(timeout=90_000) as download:
            shared.get_by_role("menuitem", name="Download PDF (Letter)").click()
        assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    finally:
        public.close()


def test_the_theme_follows_the_system_until_the_toggle_picks_one(
    site: Metronome, browser: Browser
) -> None:
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    try:
        page = context.new_page()
        sign_in(page, site)
        background = "getComputedStyle(document.body).backgroundColor"
        dark = page.evaluate(background)
        page.get_by_role("button", name="Switch to the light theme").click()
        assert page.get_attribute("html", "data-theme") == "light"
        light = page.evaluate(background)
        assert light != dark
        page.reload()
        drawn(page)
        assert page.evaluate(background) == light  # the choice is remembered
        expect(page.get_by_role("button", name="Switch to the dark theme")).to_be_visible()
    finally:
        context.close()


def test_sparse_counters_are_drawn_and_a_week_by_hour_is_whole(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site, "/?d=health")
    for widget in ("accepted-over-time", "shipped-over-time"):
        drawn_series = series_of(page, widget)
        # 7 days by hour: the query's first page of 100 rows used to cut it short.
        assert len(drawn_series["labels"]) >= 7 * 24
        line = drawn_series["series"][0]
        samples = [v for v in line["values"] if v is not None]
        assert len(samples) >= 8 * 4 - 8 and None in line["values"]  # 4 samples a day
        assert line["joined"]  # a gauge's samples are joined across empty hours


def test_number_cards_say_new_when_the_period_before_had_nothing(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site)
    change = page.locator("section[data-widget='views'] .change")
    expect(change).to_contain_text("new")
    expect(change).to_contain_text("vs previous period")


def test_a_series_split_by_hour_is_zero_filled_with_the_api_s_keys(
    site: Metronome, context: BrowserContext
) -> None:
    dashboard_id = f"hourly-{uuid.uuid4().hex[:6]}"
    widget = {
        "id": "events-by-hour",
        "title": "Events by hour",
        "type": "area",
        "query": {"metrics": ["count"], "dimensions": ["time", "event"]},
        "layout": {"x": 0, "y": 0, "w": 12, "h": 4},
        "options": {"stacked": True},
    }
    body = {"id": dashboard_id, "title": "Hourly", "stream": "hits", "site": "default"}
    created = requests.post(
        f"{site.base}/api/v1/dashboards",
        json={**body, "widgets": [widget]},
        headers=api_headers(),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    page = context.new_page()
    sign_in(page, site, f"/?d={dashboard_id}&range=7d&interval=hour&tz=America/New_York")
    split = series_of(page, "events-by-hour")
    # Every hour of the week is drawn (the API's keys, with their offset), not only those with
    # hits: 7 x 24, one more for the partial hours at both ends.
    assert 7 * 24 <= len(split["labels"]) <= 7 * 24 + 1
    views = next(s for s in split["series"] if s["label"] == "view")
    assert sum(views["values"]) >= 6 * 6  # six views on each of the last 6 whole days


def test_screenshots_of_every_ready_made_dashboard(site: Metronome, browser: Browser) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    listed = requests.get(
        f"{site.base}/api/v1/dashboards",
        headers={"Authorization": f"Bearer {READ_KEY}"},
        timeout=30,
    ).json()["dashboards"]
    builtins = [d["id"] for d in listed if d["source"] == "builtin"]
    assert "web" in builtins
    for scheme in ("light", "dark"):
        for device, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context = browser.new_context(viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            errors = watch_errors(page)
            sign_in_demo(page, site, f"/?site={DEMO}&d=web")
            for dashboard in builtins:
                owner = SHOP if dashboard == "allezon" else DEMO
                page.goto(f"{site.base}/?site={owner}&d={dashboard}")
                drawn(page)
                page.wait_for_timeout(200)
                assert page.locator(".state.error").count() == 0, dashboard
                path = SCREENSHOTS / f"{dashboard}-{scheme}-{device}.png"
                page.screenshot(path=str(path), full_page=True)
                if device == "phone":  # the first screen, as a phone shows it
                    page.screenshot(path=str(SCREENSHOTS / f"{dashboard}-{scheme}-phone-top.png"))
                    picker = page.locator("select[aria-label='Site']")
                    width = picker.evaluate("s => s.clientWidth")
                    assert width >= 96, f"the site picker is {width}px wide on a phone"
            assert errors == []
            context.close()


def test_views_and_visitors_both_show_and_long_labels_stay_in_their_table(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in_demo(page, site, f"/?site={DEMO}&d=web")
    chart = series_of(page, "views-over-time")
    by_label = {series["label"]: series for series in chart["series"]}
    views, visitors = by_label["Views"], by_label["Visitors"]
    pairs = zip(views["values"], visitors["values"], strict=True)
    assert any(v and w and v != w for v, w in pairs)  # not one line hiding the other
    assert sum(visitors["values"]) > 0
    table = page.locator("section[data-widget='top-pages'] .table")
    long_row = table.locator(".table-row", has_text="historic-weather-observations")
    expect(long_row).to_have_count(1)
    overflow = table.evaluate("t => t.scrollWidth - t.clientWidth")
    assert overflow <= 0
    label = long_row.locator(".label-text")
    assert label.evaluate("e => e.scrollWidth > e.clientWidth")  # cut with an ellipsis


def test_the_editor_offers_the_stream_s_fields_and_the_dialogs_are_captured(
    site: Metronome, browser: Browser
) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=DESKTOP, color_scheme="light")
    try:
        page = context.new_page()
        sign_in_demo(page, site, f"/?site={DEMO}&d=logs")
        page.get_by_role("button", name="Copy to edit").click()
        expect(page.get_by_role("button", name="+ Add widget")).to_be_visible()
        expect(page.locator("section[data-widget='paths'] .table-row").first).to_be_visible()
        page.get_by_role("button", name="Edit Top paths").click()
        dialog = page.get_by_role("dialog")
        metrics = dialog.get_by_label("Metrics (comma-separated)")
        list_id = metrics.get_attribute("list")
        page.wait_for_function(
            "id => [...document.getElementById(id).options]"
            ".some(o => o.value === 'p95:http.bytes')",
            arg=list_id,
        )
        values = page.locator(f"datalist[id='{list_id}'] option").evaluate_all(
            "options => options.map(o => o.value)"
        )
        assert "sum:http.bytes" in values
        assert not any(v.endswith((":event", ":url.path", ":bot")) for v in values)
        metrics.fill("count, avg:event")
        expect(dialog).to_contain_text("Not a number in logs: avg:event")
        page.screenshot(path=str(SCREENSHOTS / "editor-dialog-light-desktop.png"))
        dialog.get_by_role("button", name="Cancel").click()
        page.screenshot(path=str(SCREENSHOTS / "editor-page-light-desktop.png"), full_page=True)
    finally:
        context.close()
    context = browser.new_context(viewport=DESKTOP, color_scheme="dark")
    try:
        page = context.new_page()
        sign_in_demo(page, site, f"/?site={DEMO}&d=web")
        page.get_by_role("button", name="Share").click()
        dialog = page.get_by_role("dialog")
        dialog.get_by_role("button", name="Create a public link").click()
        expect(dialog.get_by_label("The link (shown once: copy it now)")).to_be_visible()
        page.screenshot(path=str(SCREENSHOTS / "share-dialog-dark-desktop.png"))
    finally:
        context.close()
