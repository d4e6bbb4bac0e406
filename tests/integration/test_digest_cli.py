"""``metronome digest list | send`` against the real Elasticsearch and a real SMTP server: a
daily digest of yesterday's seeded hits, sent once (a second send says it was), to one address
with --to, and as a dry run (text printed, HTML and XLSX written, nothing sent)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from metronome.cli import cli
from metronome.cli.digest import scheduler_task
from metronome.config import load_settings
from metronome.es.templates import install_templates
from metronome.notify import Outbox
from tests.conftest import ADMIN_KEY, METRICS_TOKEN, TEST_SITES, ClientWith
from tests.integration.test_digests import send
from tests.smtp_server import SmtpServer, smtp_server

DAILY = {"site": "shop", "schedule": "daily", "time": "00:00", "to": ["team@example.org"]}


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def config(
    client_with: ClientWith,
    *,
    es: Elasticsearch,
    es_url: str,
    index_prefix: str,
    ship: Callable[[], int],
    smtp: SmtpServer,
    tmp_path: Path,
) -> Path:
    raw: dict[str, Any] = {
        "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
        "spool": {"dir": str(tmp_path / "spool")},
        "sites": TEST_SITES,
        "admin_keys": [ADMIN_KEY],
        "metrics": {"token": METRICS_TOKEN},
        "dashboards": {"dir": str(tmp_path / "no-dashboards")},
        "reports": {"enabled": False},  # no browser here: the e2e test draws the charts
        "notify": {"smtp": {"host": smtp.host, "port": smtp.port, "security": "none",
                            "sender": "Metronome <metronome@example.org>"}},
        "digests": {"daily": DAILY},
    }  # fmt: skip
    path = tmp_path / "metronome.yml"
    path.write_text(yaml.safe_dump(raw))
    _, client = client_with(**{k: v for k, v in raw.items() if k not in ("elasticsearch",)})
    install_templates(es, index_prefix)
    yesterday = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
    yesterday -= timedelta(days=1)
    send(client, [{"id": f"/p{n % 2}", "event": "view", "time": yesterday.isoformat()}
                  for n in range(7)])  # fmt: skip
    ship()
    return path


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "digest", *args])


def test_list_send_once_and_again_to_one_address(config: Path, smtp: SmtpServer) -> None:
    listed = run(config, "list")
    assert listed.exit_code == 0, listed.output
    assert "daily: daily, 00:00 UTC; dashboard web of site shop; to email to team@example.org" in (
        listed.output
    )
    assert "never sent" in listed.output

    sent = run(config, "send", "daily")
    assert sent.exit_code == 0, sent.output
    assert "delivered now: 1 sent" in sent.output
    (message,) = smtp.wait_for(1)
    assert message["To"] == "team@example.org"
    body = message.get_body(("plain",))
    assert body is not None
    assert re.search(r"^Page views +7 ", body.get_content(), re.M), body.get_content()
    assert str([p.get_filename() for p in message.iter_attachments()][-1]).endswith(".xlsx")

    again = run(config, "send", "daily")
    assert again.exit_code == 0 and "was already sent" in again.output
    assert "last sent: the period from" in run(config, "list").output

    one = run(config, "send", "daily", "--to", "boss@example.org")
    assert one.exit_code == 0, one.output
    assert [m["To"] for m in smtp.wait_for(2)] == ["team@example.org", "boss@example.org"]


def test_a_dry_run_sends_nothing_and_writes_the_parts(
    config: Path, smtp: SmtpServer, tmp_path: Path
) -> None:
    out = tmp_path / "dry"
    result = run(config, "send", "daily", "--dry-run", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "Subject: Daily digest: Web analytics (shop)" in result.output
    assert re.search(r"^Page views +7 ", result.output, re.M)
    assert "dry run: nothing sent" in result.output
    names = sorted(path.name for path in out.iterdir())
    assert "digest.html" in names and "digest.txt" in names
    assert any(name.endswith(".xlsx") for name in names)
    so_far = run(config, "send", "daily", "--now", "--dry-run", "--out", str(tmp_path / "now"))
    assert so_far.exit_code == 0 and "(so far)" in so_far.output
    assert smtp.messages == []


def test_an_unknown_digest_is_named(config: Path) -> None:
    result = run(config, "send", "weekly")
    assert result.exit_code == 1
    assert "no digest 'weekly' (digests: daily)" in result.output


def test_the_scheduler_task_sends_the_due_period_once(
    config: Path, es: Elasticsearch, smtp: SmtpServer
) -> None:
    settings = load_settings(config)
    assert scheduler_task(replace(settings, digests={}), es, str(config)) is None
    task = scheduler_task(settings, es, str(config))
    assert task is not None and task.name == "digests"
    task.run()
    task.run()
    outbox = Outbox(es, settings.elasticsearch.index_prefix, {})
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    assert [e.key for e in outbox.entries()] == [f"digest:daily:{yesterday}T00:00:00+00:00"]
    assert smtp.messages == []  # queued: the notifications task delivers
