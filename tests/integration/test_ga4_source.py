"""The ga4 source against the fake Data API and the real Elasticsearch, beyond the contract:
revised figures, quota and permission errors, paging, catch-up, back-fill, authentication."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.sources.base import Source, Window
from metronome.sources.store import StateStore
from tests.fakes.ga4 import FakeGa4, write_service_account
from tests.integration.sources.contract import (
    Scenario,
    make_source,
    run,
    services,
    stored_documents,
)
from tests.integration.sources.scenarios.ga4 import scenario as ga4_scenario


@pytest.fixture
def scenario(tmp_path: Path, app: Any) -> Iterator[Scenario]:
    with ga4_scenario(tmp_path) as built:
        yield built


@pytest.fixture
def source(scenario: Scenario, es: Elasticsearch, index_prefix: str) -> Source:
    """The scenario's source after a complete first run: every row stored once."""
    first = make_source(scenario)
    assert run(first, services(es, index_prefix)).ok
    return first


def fake_of(scenario: Scenario) -> FakeGa4:
    fake = scenario.extra["fake"]
    assert isinstance(fake, FakeGa4)
    return fake


def today_of(scenario: Scenario) -> date:
    today = scenario.extra["today"]
    assert isinstance(today, date)
    return today


def by_key(documents: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["date"], d["country"], d["deviceCategory"]): d for d in documents}


def offsets_of(fake: FakeGa4, day: date) -> list[str]:
    return [
        body["offset"]
        for body in fake.report_requests()
        if body["dateRanges"][0]["startDate"] == day.isoformat()
    ]


def test_rows_are_typed_documents_and_revised_figures_replace_them(
    scenario: Scenario, source: Source, es: Elasticsearch, index_prefix: str
) -> None:
    fake, today = fake_of(scenario), today_of(scenario)
    recent, old = today - timedelta(days=2), today - timedelta(days=6)
    document = by_key(stored_documents(es, index_prefix, source))[
        (recent.isoformat(), "Japan", "mobile")
    ]
    assert document["@timestamp"] == f"{recent.isoformat()}T00:00:00.000Z"
    assert document["kind"] == "row" and document["property_id"] == "123456789"
    assert document["activeUsers"] == 22 and isinstance(document["activeUsers"], int)
    assert document["averageSessionDuration"] == 32.5
    assert document["purchaseRevenue"] == 24.5
    assert document["time_zone"] == "America/Los_Angeles" and document["currency_code"] == "USD"
    mapping = es.indices.get_mapping(index=f"{index_prefix}-ga4-*")
    properties = next(iter(mapping.body.values()))["mappings"]["properties"]
    assert properties["date"]["type"] == "date"
    assert properties["country"]["type"] == "keyword"

    fake.set_metric(recent, "activeUsers", 999, country="Japan", deviceCategory="desktop")
    fake.set_metric(old, "activeUsers", 555, country="Japan", deviceCategory="desktop")

    again = run(source, services(es, index_prefix))
    assert again.ok, again.error
    assert again.created == 0
    assert again.updated == 3  # the revised day is written again, over the stored one
    assert again.duplicates == 3
    documents = by_key(stored_documents(es, index_prefix, source))
    assert len(documents) == scenario.expected_documents
    assert documents[(recent.isoformat(), "Japan", "desktop")]["activeUsers"] == 999
    # six days ago is out of the lookback window: a regular run does not read it again
    assert documents[(old.isoformat(), "Japan", "desktop")]["activeUsers"] == 61

    unchanged = run(source, services(es, index_prefix))
    assert unchanged.ok and unchanged.created == unchanged.updated == 0
    assert unchanged.duplicates == 6  # same figures: the remembered versions, nothing rewritten


def test_a_backfill_reads_exactly_its_days_and_takes_revisions_of_final_ones(
    scenario: Scenario, source: Source, es: Elasticsearch, index_prefix: str
) -> None:
    fake, today = fake_of(scenario), today_of(scenario)
    cursor = StateStore(es, index_prefix).load(source.name).state.cursor
    fake.requests.clear()
    day = today - timedelta(days=5)  # final: regular runs do not read it again
    fake.set_metric(day, "activeUsers", 4321, country="France", deviceCategory="desktop")
    report = run(source, services(es, index_prefix), backfill=Window(day, day))
    assert report.ok and report.documents == 3
    assert (report.created, report.updated) == (0, 3)  # rewritten as GA4 has them now
    assert {body["dateRanges"][0]["startDate"] for body in fake.report_requests()} == {
        day.isoformat()
    }
    assert StateStore(es, index_prefix).load(source.name).state.cursor == cursor
    documents = by_key(stored_documents(es, index_prefix, source))
    assert documents[(day.isoformat(), "France", "desktop")]["activeUsers"] == 4321
    assert len(documents) == scenario.expected_documents

    regular = run(source, services(es, index_prefix))  # the back-fill left it consistent
    assert regular.ok and regular.created == regular.updated == 0


def test_paging_by_offset_covers_row_count_exactly(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    fake, today = fake_of(scenario), today_of(scenario)
    busy = today - timedelta(days=3)
    for n in range(4):  # 3 + 4 = 7 rows that day, read 3 at a time
        fake.add_row(busy, {"activeUsers": n}, country=f"C{n}", deviceCategory="desktop")
    scenario.options["page_size"] = 3
    source = make_source(scenario)
    messages: list[str] = []
    report = run(source, services(es, index_prefix, progress=messages.append))
    assert report.ok, report.error
    assert offsets_of(fake, busy) == ["0", "3", "6"]
    assert offsets_of(fake, today - timedelta(days=2)) == ["0"]  # 3 rows: one full page
    assert offsets_of(fake, today - timedelta(days=1)) == ["0"]  # no rows, no rowCount
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents + 4
    assert any(f"{busy} (4 of 6 days), rows 7-7 of 7; quota: " in m for m in messages), messages
    assert any("tokens left today" in message for message in messages)


def test_a_run_after_downtime_catches_up_one_page_per_day(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    today = today_of(scenario)
    scenario.options["page_size"] = 10
    source = make_source(scenario)
    back_then = datetime.combine(today - timedelta(days=4), time(9), UTC)
    first = run(source, services(es, index_prefix, clock=lambda: back_then))
    assert first.ok and first.pages == 2  # six and five days ago: "yesterday" back then
    messages: list[str] = []
    caught_up = run(source, services(es, index_prefix, progress=messages.append))
    assert caught_up.ok, caught_up.error
    # the cursor day (five days ago) and the two before it again, then the four missed ones
    assert caught_up.pages == 7
    assert [m.split(";")[0] for m in messages] == [
        f"property 123456789: {today - timedelta(days=ago)} ({n} of 7 days)"
        for n, ago in enumerate(range(7, 0, -1), start=1)
    ]
    # six and five days ago are final now: written once more, with their final version
    assert (caught_up.created, caught_up.updated) == (scenario.expected_documents - 6, 6)
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents


def test_an_exhausted_quota_is_retried_then_recorded(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    fake = fake_of(scenario)
    fake.failing = 429
    source = make_source(scenario)
    report = run(source, services(es, index_prefix))
    assert report.outcome == "failed"
    assert len(fake.report_requests()) == 2  # the policy's two attempts
    assert report.error is not None and "QuotaExhausted" in report.error
    state = StateStore(es, index_prefix).load(source.name).state
    assert state.last_error is not None
    assert "GA4 property 123456789: quota exhausted (RESOURCE_EXHAUSTED: Exhausted" in (
        state.last_error.message
    )
    assert state.cursor == {}


def test_permission_denied_names_the_property(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    scenario.options["property_id"] = "987"
    report = run(make_source(scenario), services(es, index_prefix))
    assert report.outcome == "failed" and report.error is not None
    assert "GA4 property 987: permission denied (PERMISSION_DENIED: User does not" in report.error


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"kind": "analyticsData#runReport", "rows": {"oops": 1}}', "rows is not a list"),
        ("<html>Service Unavailable</html>", "the runReport answer is not JSON"),
    ],
)
def test_a_malformed_answer_fails_the_run_clearly(
    scenario: Scenario, es: Elasticsearch, index_prefix: str, body: str, message: str
) -> None:
    fake_of(scenario).garbage = body
    report = run(make_source(scenario), services(es, index_prefix))
    assert report.outcome == "failed" and report.error is not None
    assert report.error.startswith("BadReport: GA4 property 123456789: ")
    assert message in report.error


def test_the_service_account_token_is_cached_renewed_when_refused_and_before_expiry(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    fake = fake_of(scenario)
    source = make_source(scenario)
    assert run(source, services(es, index_prefix)).ok
    assert run(source, services(es, index_prefix)).ok
    assert fake.token_requests == 1
    assert {entry["auth"] for entry in fake.requests} == {"Bearer ya29.fake-1"}
    fake.access_tokens.clear()  # revoked: the next request is a 401, then a new token
    assert run(source, services(es, index_prefix)).ok
    assert fake.token_requests == 2

    later = datetime.now(UTC).timestamp() + 3590  # the token has less than a minute left
    source.clock = lambda: later  # type: ignore[attr-defined]
    fake.service_account = None  # (the fake refuses it: only the attempt counts here)
    report = run(source, services(es, index_prefix))
    assert fake.token_requests == 3 and report.outcome == "failed"
    assert report.error is not None and "Google refused a token for" in report.error


def test_a_key_google_does_not_know_is_refused_clearly(
    scenario: Scenario, es: Elasticsearch, index_prefix: str, tmp_path: Path
) -> None:
    fake = fake_of(scenario)
    assert fake.service_account is not None
    other = write_service_account(
        tmp_path / "other.json", fake.service_account.token_uri, fake.service_account.client_email
    )
    scenario.options["credentials_file"] = str(other.path)
    report = run(make_source(scenario), services(es, index_prefix))
    assert report.outcome == "failed" and report.error is not None
    assert "TokenRefused: Google refused a token for metronome@example.iam.gserviceaccount.com" in (
        report.error
    )
    assert "invalid_grant: Invalid JWT Signature." in report.error


def test_a_static_access_token_is_sent_as_bearer(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    fake = fake_of(scenario)
    scenario.options.pop("credentials_file")
    scenario.options["access_token"] = "static-token"
    scenario.options["start_date"] = (today_of(scenario) - timedelta(days=1)).isoformat()
    source: Source = make_source(scenario)
    assert run(source, services(es, index_prefix)).ok
    assert fake.token_requests == 0
    assert {entry["auth"] for entry in fake.requests} == {"Bearer static-token"}
    scenario.options["access_token"] = "expired"
    report = run(make_source(scenario, name="expired"), services(es, index_prefix))
    assert report.error is not None and "the access token was refused (UNAUTHENTICATED" in (
        report.error
    )
