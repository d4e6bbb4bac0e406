"""Alert evaluation against the real Elasticsearch, with a walking clock: threshold, change,
no-data and source-failure rules fire and resolve on crafted data; the numbers of a message are
what ``POST /api/v1/query`` answers for the query it carries; an hour of one-minute evaluations
of one incident queues one notification; an evaluator killed after queueing and before saving
is followed by one that queues nothing twice; ``alert_events`` lists the period's alerts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.alerts.evaluate import Evaluator, RuleOutcome
from metronome.alerts.history import alert_events
from metronome.config import Settings
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.sources.store import LastError, SourceState, StateStore, Versioned
from metronome.web.app import create_app
from tests.alert_outbox import Crash, RecordingOutbox
from tests.conftest import READ_KEY, make_settings

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
NOW = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def walk(self, **delta: float) -> None:
        self.at += timedelta(**delta)


RULES: dict[str, Any] = {
    "many-refunds": {
        "site": "shop",
        "metric": "sum:amount",
        "filters": [["is", "event", ["refund"]]],
        "window": "1h",
        "condition": {"above": 100},
        "for": 0,
        "channels": ["ops"],
    },
    "checkout-drop": {
        "site": "shop",
        "filters": [["is", "event", ["checkout"]]],
        "window": "30m",
        "condition": {"change": {"percent": 50, "direction": "down"}},
        "for": 0,
        "channels": ["ops", "chat"],
    },
    "silence": {
        "site": "shop",
        "filters": [["is", "event", ["heartbeat"]]],
        "condition": {"no_data": "15m"},
        "channels": ["ops"],
    },
}


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Any) -> Settings:
    return make_settings(
        es_url,
        index_prefix,
        tmp_path / "spool",
        default_site="shop",
        server={"public_url": "https://metronome.example.org"},
        alerts={"rules": RULES},
        sources={
            "metrics": {
                "type": "prometheus",
                "interval": 600,
                "url": "http://127.0.0.1:9",
                "queries": {"up": "up"},
                "site": "shop",
            }
        },
    )


@pytest.fixture
def client(settings: Settings, es: Elasticsearch) -> FlaskClient:
    install_templates(es, settings.elasticsearch.index_prefix)
    return create_app(settings, es=es).test_client()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


@pytest.fixture
def evaluator(
    settings: Settings,
    es: Elasticsearch,
    client: FlaskClient,
    outbox: RecordingOutbox,
    clock: Clock,
) -> Evaluator:
    return Evaluator(settings, es, outbox, clock)


def put(es: Elasticsearch, prefix: str, docs: list[dict[str, Any]]) -> None:
    operations: list[Any] = []
    for number, doc in enumerate(docs):
        at = doc["@timestamp"]
        operations += [
            {
                "create": {
                    "_index": index_for(prefix, "hits", at),
                    "_id": f"{at.isoformat()}-{number}",
                }
            },
            {"site": "shop", **doc, "@timestamp": at.isoformat(), "received_at": at.isoformat()},
        ]
    response = es.bulk(operations=operations, refresh="wait_for")
    assert not response["errors"], response


def events_at(start: datetime, count: int, every: timedelta, **fields: Any) -> list[dict[str, Any]]:
    return [{"@timestamp": start + every * n, **fields} for n in range(count)]


def by_rule(outcomes: list[RuleOutcome]) -> dict[str, RuleOutcome]:
    return {outcome.rule.name: outcome for outcome in outcomes}


def query_value(client: FlaskClient, body: dict[str, Any]) -> float:
    response = client.post("/api/v1/query", json=body, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return float(response.get_json()["results"][0]["metrics"][0])


def test_a_threshold_rule_fires_once_per_incident_and_resolves(
    evaluator: Evaluator,
    outbox: RecordingOutbox,
    clock: Clock,
    es: Elasticsearch,
    index_prefix: str,
    *,
    client: FlaskClient,
) -> None:
    # 12 refunds of 15 in the last minutes: 180 over the last hour, above 100
    put(es, index_prefix, events_at(NOW - timedelta(minutes=6), 12, timedelta(seconds=25),
                                    event="refund", amount=15))  # fmt: skip
    first = by_rule(evaluator.run(only="many-refunds"))["many-refunds"]
    assert first.after.state == "firing" and first.after.value == 180
    assert [t.kind for t in first.transitions] == ["firing"]
    (message,) = outbox.messages()
    assert message.subject.startswith("[FIRING] [shop] many-refunds: sum:amount 180")
    assert "Threshold: 100" in message.text and "Value: 180" in message.text
    # the e-mail's number is the query API's for the query it carries
    assert query_value(client, message.fields["query"]) == 180 == message.fields["value"]
    assert "https://metronome.example.org/?site=shop&view=alerts&rule=many-refunds" in message.text

    for _ in range(30):  # half an hour of one-minute evaluations: nothing new is queued
        clock.walk(minutes=1)
        evaluator.run(only="many-refunds")
    assert len(outbox.queued) == 1

    clock.walk(hours=1)  # the refunds have left the window
    resolved = by_rule(evaluator.run(only="many-refunds"))["many-refunds"]
    assert resolved.after.state == "resolved" and resolved.after.value == 0
    assert [m.subject.split("]")[0] for m in outbox.messages()] == ["[FIRING", "[RESOLVED"]


def test_a_change_rule_compares_with_the_window_before(
    evaluator: Evaluator, outbox: RecordingOutbox, es: Elasticsearch, index_prefix: str,
    client: FlaskClient,
) -> None:  # fmt: skip
    earlier = NOW - timedelta(minutes=60)
    put(es, index_prefix, events_at(earlier, 30, timedelta(minutes=1), event="checkout"))
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 6, timedelta(minutes=5),
                                    event="checkout"))  # fmt: skip
    outcome = by_rule(evaluator.run(only="checkout-drop"))["checkout-drop"]
    assert outcome.after.state == "firing"
    assert (outcome.after.value, outcome.after.reference) == (6, 30)
    assert outcome.verdict.details["change_percent"] == -80.0
    assert {channel for _, channel in outbox.queued} == {"ops", "chat"}
    message = next(iter(outbox.messages()))
    assert message.fields["compare_window"] == {
        "from": (NOW - timedelta(minutes=60)).isoformat(),
        "to": (NOW - timedelta(minutes=30)).isoformat(),
    }
    body = {**message.fields["query"], "compare": message.fields["compare_window"]}
    answer = client.post("/api/v1/query", json=body, headers=AUTH).get_json()
    row = answer["results"][0]
    assert (row["metrics"][0], row["compare"]["metrics"][0]) == (6, 30)
    assert row["compare"]["change"][0] == -80.0


def test_a_no_data_rule_fires_on_silence_and_resolves_when_data_comes(
    evaluator: Evaluator, outbox: RecordingOutbox, clock: Clock, es: Elasticsearch,
    index_prefix: str,
) -> None:  # fmt: skip
    silent = by_rule(evaluator.run(only="silence"))["silence"]
    assert silent.after.state == "firing"  # for: 0 by default: the duration is the wait
    assert silent.after.summary == "no documents for 15m"
    put(es, index_prefix, events_at(NOW + timedelta(minutes=1), 3, timedelta(minutes=1),
                                    event="heartbeat"))  # fmt: skip
    clock.walk(minutes=5)
    back = by_rule(evaluator.run(only="silence"))["silence"]
    assert back.after.state == "resolved" and back.after.value == 3
    assert len(outbox.queued) == 2


def test_a_failing_source_fires_its_health_rule_and_resolves(
    settings: Settings, es: Elasticsearch, index_prefix: str, clock: Clock, client: FlaskClient
) -> None:
    outbox = RecordingOutbox()
    with_channels = dataclasses.replace(
        settings,
        alerts=dataclasses.replace(
            settings.alerts,
            health=dataclasses.replace(settings.alerts.health, channels=("ops",)),
        ),
    )
    evaluator = Evaluator(with_channels, es, outbox, clock)
    store = StateStore(es, index_prefix)
    failed = SourceState(
        "metrics",
        last_run_at=NOW.isoformat(),
        last_success_at=(NOW - timedelta(minutes=20)).isoformat(),
        consecutive_failures=2,
        last_error=LastError(NOW.isoformat(), "connection refused", "RemoteError"),
    )
    saved = store.save(Versioned(failed))
    name = "health:source_failing:metrics"
    outcome = by_rule(evaluator.run(only=name))[name]
    assert outcome.after.state == "firing"
    assert "connection refused" in outcome.after.summary
    (message,) = outbox.messages()
    assert message.subject.startswith("[FIRING] health:source_failing:metrics")
    store.save(saved.with_state(consecutive_failures=0, last_error=None,
                                last_success_at=NOW.isoformat()))  # fmt: skip
    clock.walk(minutes=1)
    assert by_rule(evaluator.run(only=name))[name].after.state == "resolved"
    assert len(outbox.queued) == 2
    # stale: no success for 3 intervals (30 minutes)
    clock.walk(minutes=31)
    stale = "health:source_stale:metrics"
    assert by_rule(evaluator.run(only=stale))[stale].after.state == "firing"


def test_an_evaluator_killed_after_queueing_is_followed_without_a_double(
    settings: Settings, es: Elasticsearch, index_prefix: str, clock: Clock, client: FlaskClient
) -> None:
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 10, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    shared = RecordingOutbox(fail_after=1)  # the first dies right after queueing
    with pytest.raises(Crash):
        Evaluator(settings, es, shared, clock).run(only="many-refunds")
    shared.fail_after = None
    clock.walk(minutes=1)
    second = by_rule(Evaluator(settings, es, shared, clock).run(only="many-refunds"))
    outcome = second["many-refunds"]
    assert outcome.after.state == "firing" and outcome.saved
    assert [notice.queued for notice in outcome.notices] == [False]  # queued by the first
    assert len(shared.queued) == 1


def test_two_evaluators_at_once_save_one_state(
    settings: Settings, es: Elasticsearch, index_prefix: str, clock: Clock, client: FlaskClient
) -> None:
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 10, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    shared = RecordingOutbox()
    first, second = Evaluator(settings, es, shared, clock), Evaluator(settings, es, shared, clock)
    first.store.ensure_states(["many-refunds"])
    read_by_second = second.store.states(["many-refunds"])
    assert by_rule(first.run(only="many-refunds"))["many-refunds"].saved
    # the second evaluates from the state it read before the first saved
    outcome = second._advance(  # the race, made deterministic
        first.rules()[0],
        read_by_second["many-refunds"],
        by_rule(first.run(only="many-refunds", dry_run=True))["many-refunds"].verdict,
        clock(),
        dry_run=False,
    )
    assert not outcome.saved
    assert len(shared.queued) == 1


def test_alert_events_list_the_periods_firings_and_resolutions(
    evaluator: Evaluator, clock: Clock, es: Elasticsearch, index_prefix: str
) -> None:
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 10, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    evaluator.run(only="many-refunds")
    clock.walk(hours=2)
    evaluator.run(only="many-refunds")
    evaluator.store.refresh()
    events = alert_events(es, index_prefix, site="shop", start=NOW - timedelta(hours=1),
                          end=NOW + timedelta(hours=3))  # fmt: skip
    assert [(e.rule, e.state) for e in events] == [
        ("many-refunds", "firing"),
        ("many-refunds", "resolved"),
    ]
    assert events[0].value == 500 and events[0].at == NOW
    assert (
        alert_events(es, index_prefix, site="default", start=NOW, end=NOW + timedelta(hours=3))
        == []
    )
