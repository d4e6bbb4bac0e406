"""Alert evaluation against the real Elasticsearch and a real SMTP server, with a walking
clock: threshold, change, anomaly, no-data and source-failure rules fire and resolve on crafted
data; the numbers of each e-mail (parsed as MIME) are what ``POST /api/v1/query`` answers for
the same range; an incident lasting half an hour of one-minute evaluations sends one e-mail; an
evaluator killed after queueing and before saving is followed by one that sends nothing twice;
the SMTP server down during a firing: the e-mail arrives once it is back; ``alert_events``
lists the period's alerts."""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.alerts.channels import build_outbox
from metronome.alerts.evaluate import Evaluator, RuleOutcome
from metronome.alerts.history import alert_events
from metronome.config import Settings
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.notify import Message, Outbox
from metronome.sources.store import LastError, SourceState, StateStore, Versioned
from metronome.web.app import create_app
from tests.conftest import READ_KEY, make_settings
from tests.crash import Crash
from tests.smtp_server import SmtpServer, smtp_server

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
        "channels": ["ops", "managers"],
    },
    "silence": {
        "site": "shop",
        "filters": [["is", "event", ["heartbeat"]]],
        "condition": {"no_data": "15m"},
        "channels": ["ops"],
    },
    "odd-revenue": {
        "site": "shop",
        "metric": "sum:revenue",
        "condition": {"anomaly": {"sensitivity": 4, "min_weeks": 3}},
        "for": 0,
        "tz": "Europe/Warsaw",
        "channels": ["ops"],
    },
}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Any, smtp: SmtpServer) -> Settings:
    return make_settings(
        es_url,
        index_prefix,
        tmp_path / "spool",
        default_site="shop",
        server={"public_url": "https://metronome.example.org"},
        alerts={"rules": RULES, "health": {"channels": ["ops"]}},
        notify={
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                     "sender": "Metronome <metronome@example.org>", "timeout": 5},
            "channels": {
                "ops": {"type": "email", "to": ["ops@example.org"]},
                "managers": {"type": "email", "to": ["managers@example.org"]},
            },
        },
        sources={
            "metrics": {"type": "prometheus", "interval": 600, "url": "http://127.0.0.1:9",
                        "queries": {"up": "up"}, "site": "shop"}
        },
    )  # fmt: skip


@pytest.fixture
def client(settings: Settings, es: Elasticsearch) -> FlaskClient:
    install_templates(es, settings.elasticsearch.index_prefix)
    return create_app(settings, es=es).test_client()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def outbox(settings: Settings, es: Elasticsearch, clock: Clock, client: FlaskClient) -> Outbox:
    return build_outbox(settings, es, clock)


@pytest.fixture
def evaluator(settings: Settings, es: Elasticsearch, outbox: Outbox, clock: Clock) -> Evaluator:
    return Evaluator(settings, es, outbox, clock)


def put(es: Elasticsearch, prefix: str, docs: list[dict[str, Any]]) -> None:
    operations: list[Any] = []
    for number, doc in enumerate(docs):
        at = doc["@timestamp"]
        index = index_for(prefix, "hits", at)
        operations += [
            {"create": {"_index": index, "_id": f"{at.isoformat()}-{number}"}},
            {"site": "shop", **doc, "@timestamp": at.isoformat(), "received_at": at.isoformat()},
        ]
    for start in range(0, len(operations), 2000):
        chunk = operations[start : start + 2000]  # new daily indices: slow on a busy machine
        response = es.options(request_timeout=120).bulk(operations=chunk, refresh=True)
        assert not response["errors"], response


def events_at(start: datetime, count: int, every: timedelta, **fields: Any) -> list[dict[str, Any]]:
    return [{"@timestamp": start + every * n, **fields} for n in range(count)]


def by_rule(outcomes: list[RuleOutcome]) -> dict[str, RuleOutcome]:
    return {outcome.rule.name: outcome for outcome in outcomes}


def delivered(outbox: Outbox, smtp: SmtpServer, count: int) -> list[EmailMessage]:
    outbox.deliver_due()
    return smtp.wait_for(count)


def subject(mail: EmailMessage) -> str:
    return str(mail["Subject"]).strip()


def text_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def html_of(mail: EmailMessage) -> str:
    part = mail.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def fact(mail: EmailMessage, label: str) -> str:
    found = re.search(rf"^{label}: (.*)$", text_of(mail), re.M)
    assert found, text_of(mail)
    return found.group(1).strip()


def number(text: str) -> float:
    return float(text.replace(" ", ""))


def window_of(mail: EmailMessage, label: str = "Window") -> list[str]:
    start, end = fact(mail, label).split(" to ")
    return [start, end]


def query(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    row: dict[str, Any] = response.get_json()["results"][0]
    return row


def test_a_threshold_rule_mails_once_per_incident_and_its_resolution(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, clock: Clock, es: Elasticsearch,
    *, index_prefix: str, client: FlaskClient,
) -> None:  # fmt: skip
    # 12 refunds of 15 in the last minutes: 180 over the last hour, above 100
    put(es, index_prefix, events_at(NOW - timedelta(minutes=6), 12, timedelta(seconds=25),
                                    event="refund", amount=15))  # fmt: skip
    first = by_rule(evaluator.run(only="many-refunds"))["many-refunds"]
    assert first.after.state == "firing" and first.after.value == 180
    (mail,) = delivered(outbox, smtp, 1)
    assert subject(mail).startswith("[FIRING] [shop] many-refunds: sum:amount 180")
    assert mail["To"] == "ops@example.org"
    assert (number(fact(mail, "Value")), number(fact(mail, "Threshold"))) == (180, 100)
    # the e-mail's number is the query API's for the e-mail's window
    answer = query(client, {"metrics": ["sum:amount"], "date_range": window_of(mail),
                            "filters": [["is", "event", ["refund"]]]})  # fmt: skip
    assert answer["metrics"] == [180]
    link = "https://metronome.example.org/?site=shop&amp;view=alerts&amp;rule=many-refunds"
    assert link in html_of(mail) and "Open: https://metronome.example.org/" in text_of(mail)

    # More refunds half an hour on: the rule holds for the whole next hour, evaluated and
    # delivered every minute, and sends no second mail (its repeat interval is 4 hours).
    put(es, index_prefix, events_at(NOW + timedelta(minutes=25), 12, timedelta(seconds=25),
                                    event="refund", amount=15))  # fmt: skip
    for _ in range(60):
        clock.walk(minutes=1)
        held = by_rule(evaluator.run(only="many-refunds"))["many-refunds"]
        assert held.after.state == "firing", held.after
        outbox.deliver_due()
    assert len(smtp.messages) == 1

    clock.walk(hours=1)  # every refund has left the window
    assert by_rule(evaluator.run(only="many-refunds"))["many-refunds"].after.state == "resolved"
    resolved = delivered(outbox, smtp, 2)[1]
    assert subject(resolved).startswith("[RESOLVED] [shop] many-refunds: sum:amount 0")
    answer = query(client, {"metrics": ["sum:amount"], "date_range": window_of(resolved),
                            "filters": [["is", "event", ["refund"]]]})  # fmt: skip
    assert answer["metrics"] == [0] and number(fact(resolved, "Value")) == 0


def test_a_change_rule_compares_with_the_window_before(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, es: Elasticsearch, index_prefix: str,
    *, client: FlaskClient, clock: Clock,
) -> None:  # fmt: skip
    put(es, index_prefix, events_at(NOW - timedelta(minutes=60), 30, timedelta(minutes=1),
                                    event="checkout"))  # fmt: skip
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 6, timedelta(minutes=5),
                                    event="checkout"))  # fmt: skip
    outcome = by_rule(evaluator.run(only="checkout-drop"))["checkout-drop"]
    assert outcome.after.state == "firing"
    mails = delivered(outbox, smtp, 2)
    assert sorted(mail["To"] for mail in mails) == ["managers@example.org", "ops@example.org"]
    mail = mails[0]
    answer = query(client, {
        "metrics": ["count"], "filters": [["is", "event", ["checkout"]]],
        "date_range": window_of(mail),
        "compare": dict(zip(("from", "to"), window_of(mail, "Compared window"), strict=True)),
    })  # fmt: skip
    assert answer["metrics"] == [number(fact(mail, "Value"))] == [6]
    assert answer["compare"]["metrics"] == [number(fact(mail, "Compared with"))] == [30]
    assert answer["compare"]["change"] == [-80.0]
    assert "-80.0 %" in subject(mail)
    clock.walk(hours=2)  # both windows now hold nothing: no change to speak of
    assert by_rule(evaluator.run(only="checkout-drop"))["checkout-drop"].after.state == "resolved"
    assert len(delivered(outbox, smtp, 4)) == 4


def test_a_no_data_rule_fires_on_silence_and_resolves_when_data_comes(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, clock: Clock, es: Elasticsearch,
    *, index_prefix: str,
) -> None:  # fmt: skip
    silent = by_rule(evaluator.run(only="silence"))["silence"]
    assert silent.after.state == "firing"  # for: 0 by default: the duration is the wait
    (mail,) = delivered(outbox, smtp, 1)
    assert subject(mail) == "[FIRING] [shop] silence: no documents for 15m"
    put(es, index_prefix, events_at(NOW + timedelta(minutes=1), 3, timedelta(minutes=1),
                                    event="heartbeat"))  # fmt: skip
    clock.walk(minutes=5)
    assert by_rule(evaluator.run(only="silence"))["silence"].after.state == "resolved"
    resolved = delivered(outbox, smtp, 2)[1]
    assert subject(resolved) == "[RESOLVED] [shop] silence: 3 documents in the last 15m"


def test_an_anomaly_rule_fires_on_a_spike_against_the_seasonal_baseline(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, es: Elasticsearch,
    *, index_prefix: str, client: FlaskClient, clock: Clock,
) -> None:  # fmt: skip
    hour = NOW.replace(minute=0)
    docs = []
    for back in range(1, 6 * 168 + 1):  # six weeks of hourly revenue with a daily rhythm
        at = hour - timedelta(hours=back)
        usual = 200 + 150 * math.sin(2 * math.pi * (at.hour - 6) / 24) + 3 * (back % 5)
        docs.append({"@timestamp": at + timedelta(minutes=20), "revenue": round(usual, 1)})
    put(es, index_prefix, docs)
    calm = by_rule(evaluator.run(only="odd-revenue"))["odd-revenue"]
    assert calm.after.state == "ok", calm.after.summary
    spike_at = hour - timedelta(hours=1) + timedelta(minutes=40)
    put(es, index_prefix, [{"@timestamp": spike_at, "revenue": 5000.0}])
    spiked = by_rule(evaluator.run(only="odd-revenue"))["odd-revenue"]
    assert spiked.after.state == "firing", spiked.after.summary
    assert spiked.verdict.details["anomaly"] == "spike"
    (mail,) = delivered(outbox, smtp, 1)
    answer = query(client, {"metrics": ["sum:revenue"], "date_range": window_of(mail)})
    assert answer["metrics"] == [number(fact(mail, "Value"))]
    assert number(fact(mail, "Expected")) < 1000
    # the next hour is as usual again: resolved
    usual = 200 + 150 * math.sin(2 * math.pi * (hour.hour - 6) / 24)
    put(
        es, index_prefix, [{"@timestamp": hour + timedelta(minutes=20), "revenue": round(usual, 1)}]
    )
    clock.walk(hours=1)
    again = by_rule(evaluator.run(only="odd-revenue"))["odd-revenue"]
    assert again.after.state == "resolved", again.after.summary
    assert subject(delivered(outbox, smtp, 2)[1]).startswith("[RESOLVED] [shop] odd-revenue")


def test_a_failing_source_mails_the_health_channels_and_resolves(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, es: Elasticsearch,
    *, index_prefix: str, clock: Clock,
) -> None:  # fmt: skip
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
    assert by_rule(evaluator.run(only=name))[name].after.state == "firing"
    (mail,) = delivered(outbox, smtp, 1)
    assert subject(mail).startswith("[FIRING] health:source_failing:metrics: source metrics")
    assert "connection refused" in text_of(mail)
    store.save(saved.with_state(consecutive_failures=0, last_error=None,
                                last_success_at=NOW.isoformat()))  # fmt: skip
    clock.walk(minutes=1)
    assert by_rule(evaluator.run(only=name))[name].after.state == "resolved"
    assert subject(delivered(outbox, smtp, 2)[1]).startswith("[RESOLVED]")
    clock.walk(minutes=31)  # stale: no success for 3 intervals of 10 minutes
    stale = "health:source_stale:metrics"
    assert by_rule(evaluator.run(only=stale))[stale].after.state == "firing"


def test_dead_letters_fire_their_health_rule_until_the_window_passes(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, es: Elasticsearch,
    *, index_prefix: str, clock: Clock,
) -> None:  # fmt: skip
    name = "health:dead_letters"
    assert by_rule(evaluator.run(only=name))[name].after.state == "ok"
    for n in range(3):
        es.index(
            index=f"{index_prefix}-deadletters",
            id=f"letter-{n}",
            document={"failed_at": (NOW - timedelta(minutes=5)).isoformat(), "stream": "hits"},
            refresh=True,
        )
    clock.walk(minutes=1)
    firing = by_rule(evaluator.run(only=name))[name]
    assert firing.after.state == "firing" and firing.after.value == 3
    assert subject(delivered(outbox, smtp, 1)[0]) == (
        "[FIRING] health:dead_letters: 3 documents dead-lettered in the last 1h"
    )
    clock.walk(hours=1)
    assert by_rule(evaluator.run(only=name))[name].after.state == "resolved"


class DyingOutbox:
    """The real outbox, in a process killed right after its first enqueue."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def enqueue(self, key: str, channel: str, message: Message, to: tuple[str, ...] = ()) -> bool:
        self.outbox.enqueue(key, channel, message, to)
        raise Crash(f"killed after queueing {key}")


def test_an_evaluator_killed_after_queueing_is_followed_without_a_double(
    settings: Settings, es: Elasticsearch, index_prefix: str, clock: Clock, outbox: Outbox,
    *, smtp: SmtpServer,
) -> None:  # fmt: skip
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 10, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    with pytest.raises(Crash):
        Evaluator(settings, es, DyingOutbox(outbox), clock).run(only="many-refunds")
    clock.walk(minutes=1)
    outcome = by_rule(Evaluator(settings, es, outbox, clock).run(only="many-refunds"))
    after = outcome["many-refunds"]
    assert after.after.state == "firing" and after.saved
    assert [notice.queued for notice in after.notices] == [False]  # queued by the first
    delivered(outbox, smtp, 1)
    clock.walk(minutes=1)
    outbox.deliver_due()
    assert len(smtp.messages) == 1


def test_two_evaluators_at_once_save_one_state(
    settings: Settings, es: Elasticsearch, index_prefix: str, clock: Clock, outbox: Outbox,
    *, smtp: SmtpServer,
) -> None:  # fmt: skip
    put(es, index_prefix, events_at(NOW - timedelta(minutes=30), 10, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    first, second = Evaluator(settings, es, outbox, clock), Evaluator(settings, es, outbox, clock)
    first.store.ensure_states(["many-refunds"])
    read_by_second = second.store.states(["many-refunds"])
    assert by_rule(first.run(only="many-refunds"))["many-refunds"].saved
    rule = next(rule for rule in first.rules() if rule.name == "many-refunds")
    verdict = by_rule(first.run(only="many-refunds", dry_run=True))["many-refunds"].verdict
    # the second evaluates from the state it read before the first saved: the race, made
    # deterministic
    outcome = second._advance(rule, read_by_second["many-refunds"], verdict, clock(), False)
    assert not outcome.saved
    delivered(outbox, smtp, 1)
    assert len(smtp.messages) == 1


def test_the_smtp_server_down_during_a_firing_delivers_once_it_is_back(
    evaluator: Evaluator, outbox: Outbox, smtp: SmtpServer, clock: Clock, es: Elasticsearch,
    *, index_prefix: str,
) -> None:  # fmt: skip
    put(es, index_prefix, events_at(NOW - timedelta(minutes=5), 4, timedelta(minutes=1),
                                    event="refund", amount=50))  # fmt: skip
    smtp.stop()
    evaluator.run(only="many-refunds")
    assert outbox.deliver_due().retrying == 1
    for _ in range(10):  # down for ten minutes of evaluations and delivery attempts
        clock.walk(minutes=1)
        evaluator.run(only="many-refunds")
        outbox.deliver_due()
    smtp.start()
    clock.walk(hours=1)  # past any backoff; the refunds have left the window meanwhile
    outbox.deliver_due()
    evaluator.run(only="many-refunds")
    outbox.deliver_due()
    subjects = [subject(mail).split("]")[0] for mail in smtp.wait_for(2)]
    assert subjects == ["[FIRING", "[RESOLVED"]


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
    later = NOW + timedelta(hours=3)
    assert alert_events(es, index_prefix, site="default", start=NOW, end=later) == []


def test_a_rule_whose_stream_lost_its_field_reports_why_and_keeps_its_state(
    settings: Settings, es: Elasticsearch, clock: Clock, outbox: Outbox, client: FlaskClient
) -> None:
    broken = dataclasses.replace(
        settings,
        alerts=dataclasses.replace(
            settings.alerts, rules={"odd": {**RULES["many-refunds"], "metric": "sum:missing"}}
        ),
    )
    (outcome,) = Evaluator(broken, es, outbox, clock).run(only="odd")
    assert outcome.after.state == "ok" and outcome.verdict.holds is None
    assert outcome.after.error is not None and "missing" in outcome.after.error
