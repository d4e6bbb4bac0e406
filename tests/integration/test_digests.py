"""Digests against the real Elasticsearch: seeded hits with known counts, the digest's numbers
equal to ``POST /api/v1/query`` for its period, one send per period however often
``run_due`` runs, and a weekly digest in Europe/Warsaw walked across the October DST change
by a clock."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.registry import Fixed
from metronome.digests.content import DigestMail
from metronome.digests.runner import DigestRunner
from tests.conftest import READ_KEY, WRITE_KEY, ClientWith

WARSAW = ZoneInfo("Europe/Warsaw")
AUTH = {"Authorization": f"Bearer {READ_KEY}"}
UA = "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
# The week of Oct 19-25, 2026 in Warsaw (169 hours: the clocks go back on the 25th).
WEEK_START = datetime(2026, 10, 19, tzinfo=WARSAW)
PREVIOUS_START = datetime(2026, 10, 12, tzinfo=WARSAW)
DIGESTS = {
    "team": {
        "site": "shop",
        "schedule": "weekly",
        "tz": "Europe/Warsaw",
        "time": "08:00",
        "to": ["team@example.org"],
        "channels": ["ops"],
    }
}


@dataclass
class Queued:
    key: str
    channel: str
    mail: DigestMail
    to: tuple[str, ...]
    at: datetime


@dataclass
class Outbox:
    """Records what is queued, once per (key, channel), as the outbox's contract says."""

    clock: Callable[[], datetime]
    queued: list[Queued] = field(default_factory=list)

    def enqueue(self, key: str, channel: str, message: Any, to: tuple[str, ...] = ()) -> bool:
        if any(q.key == key and q.channel == channel for q in self.queued):
            return False
        self.queued.append(Queued(key, channel, message, to, self.clock()))
        return True

    def send_now(self, channel: str, message: Any, to: tuple[str, ...] = ()) -> None:
        self.queued.append(Queued("now", channel, message, to, self.clock()))


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def send(client: FlaskClient, hits: list[dict[str, Any]]) -> None:
    response = client.post(
        "/tick",
        json=[{"site": "shop", **hit} for hit in hits],
        headers={"X-Metronome-Key": WRITE_KEY, "User-Agent": UA},
    )
    assert response.status_code == 202, response.get_json()


def seeded(start: datetime, pages: dict[str, int], downloads: int) -> list[dict[str, Any]]:
    """Views of each page and downloads spread over the week that begins at ``start``."""
    hits = []
    for page, count in pages.items():
        for n in range(count):
            moment = start + timedelta(days=n % 7, hours=10, minutes=n)
            referrer = "https://ref.example.org/"
            hits.append({"id": page, "event": "view", "time": moment.isoformat(),
                         "visitor_id": f"v{n % 3}", "referrer": referrer})  # fmt: skip
    for n in range(downloads):
        moment = start + timedelta(days=2, hours=12, minutes=n)
        hits.append({"id": "data.csv", "event": "download", "format": "csv",
                     "time": moment.isoformat()})  # fmt: skip
    return hits


@pytest.fixture
def setup(
    client_with: ClientWith, es: Elasticsearch, ship: Callable[[], int]
) -> tuple[Settings, FlaskClient]:
    from metronome.es.templates import install_templates  # noqa: PLC0415

    settings, client = client_with(digests=DIGESTS)
    install_templates(es, settings.elasticsearch.index_prefix)
    send(client, seeded(WEEK_START, {"/a": 5, "/b": 3, "/c": 1}, downloads=2))
    send(client, seeded(PREVIOUS_START, {"/a": 2, "/b": 2}, downloads=4))
    ship()
    return settings, client


def runner(settings: Settings, es: Elasticsearch, clock: Clock) -> tuple[DigestRunner, Outbox]:
    outbox = Outbox(clock)
    return DigestRunner(
        settings, es, outbox, fixed=Fixed(builtin_dashboards()), clock=clock,
        to_message=lambda mail: mail,
    ), outbox  # fmt: skip


def query(client: FlaskClient, **body: Any) -> Any:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_weekly_digest_says_what_the_query_api_answers(
    setup: tuple[Settings, FlaskClient], es: Elasticsearch
) -> None:
    settings, client = setup
    clock = Clock(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))  # Monday 08:00 in Warsaw
    digests, outbox = runner(settings, es, clock)
    built = digests.run_due()
    assert [b.period.start for b in built] == [WEEK_START.astimezone(UTC)]
    assert [(q.channel, q.to) for q in outbox.queued] == [
        ("ops", ()), ("email", ("team@example.org",)),
    ]  # fmt: skip
    assert {q.key for q in outbox.queued} == {"digest:team:2026-10-18T22:00:00+00:00"}
    mail = outbox.queued[0].mail
    assert mail.subject == "Weekly digest: Web analytics (shop), Oct 19 \u2013 Oct 25, 2026"

    period = [WEEK_START.isoformat(), (WEEK_START + timedelta(days=7)).isoformat()]
    views = query(client, metrics=["count"], filters=[["is", "event", ["view"]]],
                  date_range=period, tz="Europe/Warsaw", compare="previous")  # fmt: skip
    row = views["results"][0]
    assert row["metrics"] == [9] and row["compare"]["metrics"] == [4]
    lines = mail.text.splitlines()
    assert any(re.fullmatch(r"Page views +9 +\+125%", line) for line in lines), mail.text
    assert any(re.fullmatch(r"Downloads +2 +\u221250%", line) for line in lines), mail.text
    top = query(client, metrics=["count", "visitors"], dimensions=["id"],
                filters=[["is", "event", ["view"]]], date_range=period, tz="Europe/Warsaw",
                order_by=[["count", "desc"]], limit=10)  # fmt: skip
    expected = [
        f"{r['dimensions'][0]}: {r['metrics'][0]}, {r['metrics'][1]}" for r in top["results"]
    ]
    assert expected[0].startswith("/a: 5, ")
    at = lines.index("Top pages")
    shown = [
        line.split(". ", 1)[1].split("  (")[0] for line in lines[at + 2 : at + 2 + len(expected)]
    ]
    assert shown == expected
    assert "9</div>" in mail.html and "+125%" in mail.html


def test_a_period_is_sent_once_however_often_run_due_runs(
    setup: tuple[Settings, FlaskClient], es: Elasticsearch
) -> None:
    settings, _ = setup
    clock = Clock(datetime(2026, 10, 26, 6, 59, tzinfo=UTC))
    digests, outbox = runner(settings, es, clock)
    assert digests.run_due()[0].period.start == (WEEK_START - timedelta(days=7)).astimezone(UTC)
    for minute in range(0, 240, 7):
        clock.now = datetime(2026, 10, 26, 6, 59, tzinfo=UTC) + timedelta(minutes=minute)
        digests.run_due()
    second, _ = runner(settings, es, clock)  # another process, same records
    assert second.run_due() == []
    keys = [q.key for q in outbox.queued if q.channel == "ops"]
    assert keys == [
        "digest:team:2026-10-11T22:00:00+00:00", "digest:team:2026-10-18T22:00:00+00:00",
    ]  # fmt: skip
    records = digests.sent.history("team")
    assert [r.period_start for r in records] == [
        WEEK_START.astimezone(UTC), (WEEK_START - timedelta(days=7)).astimezone(UTC),
    ]  # fmt: skip


def test_the_weekly_digest_walks_across_the_october_dst_change(
    setup: tuple[Settings, FlaskClient], es: Elasticsearch
) -> None:
    settings, _ = setup
    clock = Clock(datetime(2026, 10, 12, 12, tzinfo=UTC))
    digests, outbox = runner(settings, es, clock)
    digests.run_due()  # up to date: the week of Oct 5 goes at once
    outbox.queued.clear()
    while clock.now < datetime(2026, 11, 3, tzinfo=UTC):
        clock.now += timedelta(minutes=30)
        digests.run_due()
    sent = [q.at.astimezone(WARSAW) for q in outbox.queued if q.channel == "ops"]
    assert [moment.isoformat() for moment in sent] == [
        "2026-10-19T08:00:00+02:00", "2026-10-26T08:00:00+01:00", "2026-11-02T08:00:00+01:00",
    ]  # fmt: skip
