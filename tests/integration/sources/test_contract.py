"""The source contract (contract.py), run for every scenario in ``scenarios/``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.sources.lease import LeaseStore
from metronome.sources.store import StateStore
from tests.conftest import READ_KEY
from tests.integration.sources.contract import (
    Scenario,
    iter_scenarios,
    make_source,
    other_source,
    run,
    services,
    stored_documents,
)

SCENARIOS = dict(iter_scenarios())
DEAD_LEASE_TTL = 2.5  # seconds: room for the dead run's second page, on a busy machine
WHOLE_TIME = ["2000-01-01", "2100-01-01"]
ENVELOPE = ("@timestamp", "@version", "type", "site", "source", "source_type", "received_at")


class SimulatedKill(BaseException):
    """Escapes the run loop's error handling, as a kill -9 would stop it dead."""


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest, tmp_path: Path, app: Any) -> Iterator[Scenario]:
    # `app` installs the index templates of this test's prefix (tests/conftest.py)
    with SCENARIOS[request.param](tmp_path) as built:
        yield built


def test_first_run_stores_every_document_once_and_it_is_queryable(
    scenario: Scenario, es: Elasticsearch, index_prefix: str, client: FlaskClient
) -> None:
    source = make_source(scenario)
    report = run(source, services(es, index_prefix))
    assert report.outcome == "ok", report.error
    assert report.pages >= scenario.min_pages
    assert report.created == scenario.expected_documents
    documents = stored_documents(es, index_prefix, source)
    assert len(documents) == scenario.expected_documents
    for document in documents:
        assert all(name in document for name in ENVELOPE), sorted(document)
        assert document["@version"] == "1" and document["type"] == source.stream
        assert document["site"] == "shop" and document["source"] == source.name
    answer = client.post(
        "/api/v1/query",
        json={
            "site": "shop",
            "stream": source.stream,
            "metrics": ["count"],
            "date_range": WHOLE_TIME,
        },
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["results"][0]["metrics"] == [scenario.expected_documents]


def test_a_second_run_duplicates_nothing_and_new_data_is_picked_up(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    source = make_source(scenario)
    assert run(source, services(es, index_prefix)).ok
    again = run(source, services(es, index_prefix))
    assert again.ok, again.error
    assert again.created == 0
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents
    added = scenario.add_data()
    assert added > 0
    third = run(source, services(es, index_prefix))
    assert third.ok, third.error
    assert third.created == added
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents + added


def test_a_run_killed_between_storing_and_saving_resumes_without_gaps_or_duplicates(
    scenario: Scenario, es: Elasticsearch, index_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_source(scenario)
    original = StateStore.save
    saves = {"count": 0}

    def save_then_die(self: StateStore, versioned: Any) -> Any:
        saves["count"] += 1
        if saves["count"] == 2:  # the first page is stored, its cursor not yet saved
            raise SimulatedKill
        return original(self, versioned)

    monkeypatch.setattr(StateStore, "save", save_then_die)
    dead = services(es, index_prefix, holder="dead-process", lease_ttl=DEAD_LEASE_TTL)
    with pytest.raises(SimulatedKill):
        run(source, dead)
    monkeypatch.setattr(StateStore, "save", original)
    partial = len(stored_documents(es, index_prefix, source))
    assert 0 < partial < scenario.expected_documents

    lease = LeaseStore(es, index_prefix).current(f"source:{source.name}")
    assert lease is not None and lease.holder == "dead-process"
    if lease.expires_at > time.time() + 0.2:  # (a slow page 2 may have outlived the lease)
        busy = run(source, services(es, index_prefix, holder="next-process"))
        assert busy.outcome == "busy"  # the dead run's lease has not expired yet
    time.sleep(max(0.0, lease.expires_at - time.time()) + 0.05)
    resumed = run(source, services(es, index_prefix, holder="next-process"))
    assert resumed.ok, resumed.error
    documents = stored_documents(es, index_prefix, source)
    assert len(documents) == scenario.expected_documents
    assert len({document["_id"] for document in documents}) == scenario.expected_documents


def test_a_failing_remote_is_recorded_retried_and_does_not_stop_other_sources(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    source = make_source(scenario)
    other = other_source()
    scenario.fail()
    failed = run(source, services(es, index_prefix))
    assert failed.outcome == "failed" and failed.error
    assert failed.requests >= 2  # retried before giving up
    assert run(other, services(es, index_prefix)).ok  # the other source is unaffected
    state = StateStore(es, index_prefix).load(source.name).state
    assert state.last_error is not None and state.consecutive_failures == 1
    assert state.last_success_at is None

    scenario.recover()
    recovered = run(source, services(es, index_prefix))
    assert recovered.ok, recovered.error
    state = StateStore(es, index_prefix).load(source.name).state
    assert state.last_error is None and state.consecutive_failures == 0
    assert state.last_success_at is not None
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents


def test_a_remote_failing_mid_run_is_recorded_and_the_next_run_resumes_where_it_stopped(
    scenario: Scenario, es: Elasticsearch, index_prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_source(scenario)
    original = StateStore.save

    def save_then_break_the_remote(self: StateStore, versioned: Any) -> Any:
        saved = original(self, versioned)
        scenario.fail()  # the first page is stored and its cursor saved; the rest will fail
        return saved

    monkeypatch.setattr(StateStore, "save", save_then_break_the_remote)
    failed = run(source, services(es, index_prefix))
    monkeypatch.setattr(StateStore, "save", original)
    assert failed.outcome == "failed" and failed.pages >= 1
    state = StateStore(es, index_prefix).load(source.name).state
    assert state.last_error is not None and state.consecutive_failures == 1
    assert state.documents_total == failed.created > 0
    assert state.last_run["outcome"] == "failed"

    scenario.recover()
    resumed = run(source, services(es, index_prefix))
    assert resumed.ok, resumed.error
    assert failed.created + resumed.created == scenario.expected_documents
    documents = stored_documents(es, index_prefix, source)
    assert len(documents) == scenario.expected_documents


def test_a_backfill_of_stored_days_adds_nothing_and_keeps_the_cursor(
    scenario: Scenario, es: Elasticsearch, index_prefix: str
) -> None:
    if scenario.backfill is None:
        pytest.skip(f"{scenario.source_type} has no back-fill window")
    source = make_source(scenario)
    assert run(source, services(es, index_prefix)).ok
    states = StateStore(es, index_prefix)
    cursor = states.load(source.name).state.cursor
    report = run(source, services(es, index_prefix), backfill=scenario.backfill)
    assert report.ok, report.error
    assert report.created == 0 and report.documents > 0
    assert states.load(source.name).state.cursor == cursor
    assert len(stored_documents(es, index_prefix, source)) == scenario.expected_documents
