"""The JS snippet in a real Chromium against the real Metronome (gunicorn, shipper,
Elasticsearch): what a visit does ends up counted exactly once, even when Metronome is away
while the visitor browses."""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch
from playwright.sync_api import Browser, Page, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from metronome.es.templates import install_templates
from tests.e2e.browser import SNIPPET, PageServer, chromium
from tests.e2e.processes import Metronome

READ_KEY = f"sk_browser_{secrets.token_hex(8)}"  # given to the example config's default site
KEY_ENV = {"METRONOME_SITES__DEFAULT__READ_KEYS": READ_KEY}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


def page_html(script_src: str, endpoint: str = "", body: str = "") -> str:
    endpoint_attribute = f' data-endpoint="{endpoint}"' if endpoint else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<script defer src="{script_src}"{endpoint_attribute} data-flush-interval="200"
        data-retry-base="300" data-retry-max="1500"></script>
</head><body>{body}</body></html>"""


def record_trouble(page: Page) -> list[str]:
    """What went wrong while the page loaded (failed requests, error answers, script
    errors), so a snippet that never starts fails with its cause rather than a bare timeout."""
    trouble: list[str] = []
    page.on("requestfailed", lambda r: trouble.append(f"{r.url}: {r.failure}"))

    def note_refusal(response: Response) -> None:
        if response.status >= 400:
            trouble.append(f"{response.url}: HTTP {response.status}")

    page.on("response", note_refusal)
    page.on("pageerror", lambda error: trouble.append(f"script error: {error}"))
    return trouble


def wait_for_tracker(page: Page, trouble: list[str]) -> None:
    try:
        page.wait_for_function("typeof window.metronome?.pending === 'function'")
    except PlaywrightTimeout:
        raise AssertionError(f"the snippet never started; the page saw {trouble}") from None


def counts_by_event_and_id(base: str) -> Counter[tuple[str, str]]:
    now = datetime.now(UTC)
    query = {
        "site": "default",
        "metrics": ["count"],
        "dimensions": ["event", "id"],
        "date_range": [
            (now - timedelta(days=1)).isoformat(),
            (now + timedelta(hours=1)).isoformat(),
        ],
    }
    response = requests.post(
        f"{base}/api/v1/query",
        json=query,
        headers={"Authorization": f"Bearer {READ_KEY}"},
        timeout=10,
    )
    response.raise_for_status()
    return Counter({tuple(r["dimensions"]): r["metrics"][0] for r in response.json()["results"]})


def wait_for_counts(
    base: str, es_url: str, prefix: str, expected: dict[tuple[str, str], int]
) -> Counter[tuple[str, str]]:
    """Polls until the counts equal ``expected`` (or 30 s pass), then checks they stay put:
    resends (beacons, retries) must not be counted twice."""
    deadline = time.monotonic() + 30
    found: Counter[tuple[str, str]] = Counter()
    while time.monotonic() < deadline:
        requests.post(f"{es_url}/{prefix}-*/_refresh", timeout=10)
        found = counts_by_event_and_id(base)
        if found == Counter(expected):
            break
        time.sleep(0.3)
    time.sleep(1.5)  # anything still in flight arrives now
    requests.post(f"{es_url}/{prefix}-*/_refresh", timeout=10)
    return counts_by_event_and_id(base)


def stored_hits(es_url: str, prefix: str) -> list[dict[str, Any]]:
    response = requests.get(
        f"{es_url}/{prefix}-hits-*/_search", json={"size": 100, "sort": ["@timestamp"]}, timeout=10
    )
    return [hit["_source"] for hit in response.json()["hits"]["hits"]]


def test_a_visit_is_counted_exactly(
    browser: Browser, es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    install_templates(es, index_prefix)
    metronome = Metronome(es_url, index_prefix, tmp_path / "metronome", **KEY_ENV)
    body = """
      <button id="spa" onclick="history.pushState({}, '', '/shop/item-1')">item</button>
      <a id="csv" href="/files/prices.csv" download>prices</a>
      <button id="boom" onclick="undefinedFunction()">break</button>
      <a id="partner" href="http://localhost:PAGE_PORT/partner.html">partner</a>"""
    try:
        metronome.start_web()
        metronome.start_shipper()
        with PageServer(tmp_path / "site") as site:
            site.add("files/prices.csv", "sku,price\n1,10\n")
            site.add("partner.html", "<!doctype html><p>another site</p>")
            page_url = site.add(
                "shop/index.html",
                page_html(
                    f"{metronome.base}/metronome.js",
                    body=body.replace("PAGE_PORT", str(site.port)),
                ),
            )
            context = browser.new_context(accept_downloads=True)
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            trouble = record_trouble(page)

            page.goto(page_url, wait_until="load")
            wait_for_tracker(page, trouble)
            page.click("#spa")  # SPA route change: a view of /shop/item-1
            page.evaluate("history.replaceState({}, '', '/shop/item-1')")  # same route: none
            with page.expect_download():
                page.click("#csv")  # download, format csv, on /shop/item-1
            page.click("#boom")  # an uncaught error
            page.go_back()  # popstate: a view of /shop/index.html again
            page.wait_for_function("location.pathname === '/shop/index.html'")
            page.click("#partner")  # outbound click; the page is left at once
            page.wait_for_url("**/partner.html")
            context.close()

        assert errors and "undefinedFunction" in errors[0]
        found = wait_for_counts(
            metronome.base,
            es_url,
            index_prefix,
            expected := {
                ("view", "/shop/index.html"): 2,
                ("view", "/shop/item-1"): 1,
                ("download", "/shop/item-1"): 1,
                ("error", "/shop/item-1"): 1,
                ("click", "/shop/index.html"): 1,
                ("timing", "/shop/index.html"): 1,
            },
        )
        assert found == Counter(expected)

        tock = requests.get(f"{metronome.base}/tock//shop/item-1", timeout=10).json()
        assert tock["totals"]["views"] == 1
        assert tock["downloads"] == {"csv": 1}
        by_event = {hit["event"]: hit for hit in stored_hits(es_url, index_prefix)}
        assert by_event["click"]["link"] == f"http://localhost:{site.port}/partner.html"
        assert "undefinedFunction" in by_event["error"]["message"]
        assert by_event["timing"]["load_ms"] >= 0
        assert by_event["view"]["user_agent"]["name"]  # enriched server-side
        assert len({hit["session"] for hit in stored_hits(es_url, index_prefix)}) == 1
    finally:
        metronome.stop()


def test_nothing_is_lost_or_doubled_when_metronome_is_down_at_first(
    browser: Browser, es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    install_templates(es, index_prefix)
    metronome = Metronome(
        es_url, index_prefix, tmp_path / "metronome", **KEY_ENV
    )  # not started yet
    try:
        with PageServer(tmp_path / "site") as site:
            # Metronome is down, so the page takes the snippet from its own server.
            site.add("metronome.js", SNIPPET.read_bytes())
            first = site.add("one.html", page_html("/metronome.js", metronome.base))
            second = site.add("two.html", page_html("/metronome.js", metronome.base))
            context = browser.new_context()
            page = context.new_page()
            page.goto(first, wait_until="load")
            page.evaluate("metronome.track('signup', {plan: 'pro'})")
            page.wait_for_timeout(400)  # a failed send
            page.goto(second, wait_until="load")  # leaving: a beacon that fails too
            page.wait_for_timeout(400)
            waiting = page.evaluate("JSON.parse(localStorage.getItem('metronome:outbox')).length")
            # view and timing of each page, and the signup: all kept in localStorage
            assert waiting == 5

            metronome.start_web()
            metronome.start_shipper()
            # The page's own retries (backoff <= 1.5 s) deliver everything, nothing twice.
            expected = {
                ("view", "/one.html"): 1,
                ("signup", "/one.html"): 1,
                ("timing", "/one.html"): 1,
                ("view", "/two.html"): 1,
                ("timing", "/two.html"): 1,
            }
            assert wait_for_counts(metronome.base, es_url, index_prefix, expected) == Counter(
                expected
            )
            page.wait_for_function("window.metronome.pending() === 0")
            # The next page finds nothing left to send, and reloading counts one more view.
            page.goto(first, wait_until="load")
            expected[("view", "/one.html")] = 2
            expected[("timing", "/one.html")] = 2
            found = wait_for_counts(metronome.base, es_url, index_prefix, expected)
            assert found == Counter(expected)
            context.close()
    finally:
        metronome.stop()
