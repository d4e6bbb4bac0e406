"""Digests against the real Elasticsearch and a real SMTP server: seeded hits with known
counts, the e-mail parsed (MIME) and its numbers equal to ``POST /api/v1/query`` for its
period, one send per period however often ``run_due`` runs, and a weekly digest in
Europe/Warsaw walked across the October DST change by a clock."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.registry import Fixed
from metronome.digests.runner import DigestRunner
from metronome.es.templates import install_templates
from metronome.notify import Outbox, channels_from_settings
from tests.conftest import READ_KEY, WRITE_KEY, ClientWith
from tests.smtp_server import SmtpServer, smtp_server

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


def notify_settings(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "smtp": {"host": smtp.host, "port": smtp.port, "security": "none",
                 "sender": "Metronome <metronome@example.org>"},
        "channels": {"ops": {"type": "email", "to": ["ops@example.org"]}},
    }  # fmt: skip


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def setup(
    client_with: ClientWith, es: Elasticsearch, ship: Callable[[], int], smtp: SmtpServer
) -> tuple[Settings, FlaskClient]:
    settings, client = client_with(digests=DIGESTS, notify=notify_settings(smtp))
    install_templates(es, settings.elasticsearch.index_prefix)
    send(client, seeded(WEEK_START, {"/a": 5, "/b": 3, "/c": 1}, downloads=2))
    send(client, seeded(PREVIOUS_START, {"/a": 2, "/b": 2}, downloads=4))
    ship()
    return settings, client


def runner(settings: Settings, es: Elasticsearch, clock: Clock) -> tuple[DigestRunner, Outbox]:
    prefix = settings.elasticsearch.index_prefix
    outbox = Outbox(es, prefix, channels_from_settings(settings.notify, clock), clock)
    fixed = Fixed(builtin_dashboards())
    return DigestRunner(settings, es, outbox, fixed=fixed, clock=clock), outbox


def queued(outbox: Outbox, channel: str = "ops") -> list[Any]:
    """The outbox's entries of ``channel``, oldest first."""
    outbox.client.indices.refresh(index=outbox.index)
    entries = [e for e in outbox.entries(limit=100) if e.channel == channel]
    return sorted(entries, key=lambda entry: entry.created_at)


def parts(message: EmailMessage) -> tuple[str, str, dict[str, bytes], dict[str, bytes]]:
    """The text and HTML parts, the inline images by Content-ID and the attachments by name."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    inline: dict[str, bytes] = {}
    attached: dict[str, bytes] = {}
    for part in message.walk():
        if part.get_content_maintype() == "multipart" or part in (text, html):
            continue
        data = part.get_payload(decode=True)
        assert isinstance(data, bytes)
        if part["Content-ID"]:
            inline[str(part["Content-ID"]).strip("<>")] = data
        else:
            attached[str(part.get_filename())] = data
    return str(text.get_content()), str(html.get_content()), inline, attached


def query(client: FlaskClient, **body: Any) -> Any:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_the_weekly_digest_says_what_the_query_api_answers(
    setup: tuple[Settings, FlaskClient], es: Elasticsearch, smtp: SmtpServer
) -> None:
    settings, client = setup
    clock = Clock(datetime(2026, 10, 26, 7, 0, tzinfo=UTC))  # Monday 08:00 in Warsaw
    digests, outbox = runner(settings, es, clock)
    built = digests.run_due()
    assert [b.period.start for b in built] == [WEEK_START.astimezone(UTC)]
    assert outbox.deliver_due().sent == 2
    received = smtp.wait_for(2)
    assert sorted(str(m["To"]) for m in received) == ["ops@example.org", "team@example.org"]
    entries = queued(outbox, "ops") + queued(outbox, "email")
    assert {e.key for e in entries} == {"digest:team:2026-10-18T22:00:00+00:00"}
    message = received[0]
    assert message["Subject"] == "Weekly digest: Web analytics (shop), Oct 19 \u2013 Oct 25, 2026"
    text, html, inline, attached = parts(message)
    assert set(re.findall(r'src="cid:([^"]+)"', html)) == set(inline)  # no charts: no browser
    assert attached == {}

    period = [WEEK_START.isoformat(), (WEEK_START + timedelta(days=7)).isoformat()]
    views = query(client, metrics=["count"], filters=[["is", "event", ["view"]]],
                  date_range=period, tz="Europe/Warsaw", compare="previous")  # fmt: skip
    row = views["results"][0]
    assert row["metrics"] == [9] and row["compare"]["metrics"] == [4]
    lines = text.splitlines()
    assert any(re.fullmatch(r"Page views +9 +\+125%", line) for line in lines), text
    assert any(re.fullmatch(r"Downloads +2 +\u221250%", line) for line in lines), text
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
    assert "9</div>" in html and "+125%" in html


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
    keys = [entry.key for entry in queued(outbox)]
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
    while clock.now < datetime(2026, 11, 3, tzinfo=UTC):
        clock.now += timedelta(minutes=30)
        digests.run_due()
    sent = [entry.created_at.astimezone(WARSAW) for entry in queued(outbox)[1:]]
    assert [moment.isoformat() for moment in sent] == [
        "2026-10-19T08:00:00+02:00", "2026-10-26T08:00:00+01:00", "2026-11-02T08:00:00+01:00",
    ]  # fmt: skip
