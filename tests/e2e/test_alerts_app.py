"""The Alerts page of the app in a real Chromium against the real Metronome: rules with their
state badge, last value and since when (as ``GET /api/v1/alerts`` says), one rule's history,
and a threshold rule created from the page. Screenshots in ``var/test-output/screenshots/``."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from elasticsearch import Elasticsearch
from playwright.sync_api import Browser, BrowserContext, Page, expect

from metronome.alerts.evaluate import Evaluator
from metronome.config import settings_from_mapping
from metronome.es.naming import index_for
from metronome.es.templates import install_templates, remove_templates
from tests.conftest import ROOT
from tests.e2e.browser import chromium
from tests.e2e.processes import Metronome, running

READ_KEY = f"sk_alerts_{secrets.token_hex(8)}"
AUTH = {"Authorization": f"Bearer {READ_KEY}"}
SCREENSHOTS = ROOT / "var" / "test-output" / "screenshots"
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
RULES: list[dict[str, Any]] = [
    {"name": "too-many-errors", "filters": [["is", "event", ["error"]]], "window": "1h",
     "condition": {"above": 5}, "for": 0, "severity": "critical",
     "description": "Errors are piling up on the checkout page."},
    {"name": "downloads-stopped", "filters": [["is", "event", ["download"]]],
     "condition": {"no_data": "6h"}},
    {"name": "views-drop", "filters": [["is", "event", ["view"]]], "window": "30m",
     "condition": {"change": {"percent": 50, "direction": "down"}}, "for": 0},
]  # fmt: skip


@pytest.fixture(scope="module")
def site(
    es: Elasticsearch, es_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Metronome]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    install_templates(es, prefix)
    for n in range(12):  # errors in the last hour, downloads an hour ago, steady views
        at = NOW - timedelta(minutes=4 * n + 1)
        for event in ("error", "view"):
            es.index(
                index=index_for(prefix, "hits", at),
                document={"@timestamp": at.isoformat(), "site": "default", "event": event},
            )
    es.indices.refresh(index=f"{prefix}-*")
    try:
        with running(
            es_url, prefix, tmp_path_factory.mktemp("metronome"),
            METRONOME_SITES__DEFAULT__READ_KEYS=READ_KEY,
        ) as metronome:  # fmt: skip
            for rule in RULES:
                answer = requests.post(
                    f"{metronome.base}/api/v1/alerts", json=rule, headers=AUTH, timeout=30
                )
                assert answer.status_code == 201, answer.text
            settings = settings_from_mapping(
                {"elasticsearch": {"url": es_url, "index_prefix": prefix},
                 "sites": {"default": {"write_auth": "none", "read_keys": [READ_KEY]}}}
            )  # fmt: skip
            when = [NOW - timedelta(hours=2)]
            evaluator = Evaluator(settings, es, None, lambda: when[0])
            evaluator.run()  # two hours ago: no errors yet; views drop; no downloads
            when[0] = NOW
            evaluator.run()
            # the history is searched: make the evaluation's events searchable now rather
            # than at the next scheduled refresh, which a loaded machine may delay
            es.indices.refresh(index=f"{prefix}-*")
            yield metronome
    finally:
        names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
        if names:
            es.indices.delete(index=",".join(names))
        remove_templates(es, prefix)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    yield context
    context.close()


def sign_in(page: Page, site: Metronome, path: str) -> None:
    page.goto(site.base + path)
    page.get_by_label("Read key").fill(READ_KEY)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("html[data-drawn]", state="attached", timeout=30_000)


def api_alerts(site: Metronome) -> dict[str, Any]:
    answer = requests.get(f"{site.base}/api/v1/alerts", headers=AUTH, timeout=30)
    answer.raise_for_status()
    return {rule["name"]: rule for rule in answer.json()["alerts"]}


@pytest.mark.e2e
def test_the_alerts_page_shows_each_rule_as_the_api_does(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    sign_in(page, site, "/?view=alerts")
    rows = page.locator("button.alert-row")
    expect(rows).to_have_count(len(RULES))
    expected = api_alerts(site)
    assert expected["too-many-errors"]["status"]["state"] == "firing"
    # firing first; each row's badge and value are the API's
    assert rows.first.get_attribute("data-rule") in {"too-many-errors", "downloads-stopped"}
    for name, rule in expected.items():
        row = page.locator(f"button.alert-row[data-rule='{name}']")
        badge = row.locator(".badge").inner_text()
        assert badge.lower() == rule["status"]["state"], (name, badge)
        value = row.locator(".alert-value").inner_text()
        assert value == ("—" if rule["status"]["value"] is None else f"{rule['status']['value']:g}")
    page.get_by_role("button", name="Alerts").wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "alerts-list.png"), full_page=True)

    page.locator("button.alert-row[data-rule='too-many-errors']").click()
    expect(page.get_by_role("heading", name="too-many-errors")).to_be_visible()
    history = page.get_by_label("History").locator("li")
    expect(history).to_have_count(1)
    assert "Fired" in history.first.inner_text()
    assert "Errors are piling up" in page.locator("main").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "alerts-rule.png"), full_page=True)
    page.get_by_role("button", name="← All alerts").click()
    expect(rows).to_have_count(len(RULES))

    page.emulate_media(color_scheme="dark")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "alerts-list-phone-dark.png"), full_page=True)
    assert errors == []


@pytest.mark.e2e
def test_a_threshold_rule_is_created_from_the_page(
    site: Metronome, context: BrowserContext
) -> None:
    page = context.new_page()
    sign_in(page, site, "/?view=alerts")
    page.get_by_role("button", name="New threshold rule").click()
    dialog = page.get_by_role("dialog", name="New threshold rule")
    dialog.get_by_label("Name", exact=True).fill("Busy Hour")
    dialog.get_by_label("Threshold").fill("1000")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("name")
    dialog.get_by_label("Name", exact=True).fill("busy-hour")
    dialog.get_by_label("Only the event (optional)").fill("view")
    dialog.get_by_label("Channels (names from notify.channels, comma-separated)").fill("pager")
    dialog.get_by_role("button", name="Create").click()
    expect(dialog.get_by_role("alert")).to_contain_text("Unknown channel 'pager'")  # the server's
    dialog.get_by_label("Channels (names from notify.channels, comma-separated)").fill("")
    page.screenshot(path=str(SCREENSHOTS / "alerts-new-rule.png"))
    dialog.get_by_role("button", name="Create").click()
    expect(page.locator("button.alert-row[data-rule='busy-hour']")).to_be_visible()
    rule = api_alerts(site)["busy-hour"]
    assert rule["condition"] == {"above": 1000} and rule["filters"] == [["is", "event", ["view"]]]
    assert rule["window"] == "1h" and rule["for"] == "5m"
