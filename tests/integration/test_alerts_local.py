"""The checks every instance makes for itself (spool filling, Elasticsearch unreachable,
forward listener down): state on the instance's disk, e-mail sent at once (no outbox), a
failed send tried again; and ``metronome alerts list | check``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from elasticsearch import Elasticsearch

from metronome.alerts.channels import build_outbox
from metronome.alerts.local import LocalChecks, read_states
from metronome.cli import cli
from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.spool.writer import SpoolWriter
from tests.conftest import free_port, make_settings
from tests.smtp_server import SmtpServer, smtp_server

START = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


def notify(smtp: SmtpServer) -> dict[str, Any]:
    return {
        "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none",
                 "sender": "metronome@example.org", "timeout": 5},
        "channels": {"ops": {"type": "email", "to": ["ops@example.org"]}},
    }  # fmt: skip


def local_settings(es_url: str, prefix: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return make_settings(
        es_url,
        prefix,
        tmp_path / "var" / "spool",
        spool={"dir": str(tmp_path / "var" / "spool"), "max_bytes": 65_536},
        logs={"forward": {"enabled": True, "port": free_port()}},  # nothing listens there
        alerts={"health": {"channels": ["ops"], "spool_filling": {"for": 0}}},
        notify=notify(smtp),
    )


def test_the_spool_filling_and_a_forward_listener_down_are_mailed_at_once(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = local_settings(es_url, index_prefix, tmp_path, smtp)
    at = [START]
    checks = LocalChecks(settings, es, build_outbox(settings, es), lambda: at[0], instance="i-1")
    writer = SpoolWriter(Path(settings.spool.dir), 16_384, settings.spool.max_bytes)
    writer.append([b"x" * 56_000])  # 85 % of 64 KiB
    writer.close()
    outcomes = {o.rule.name: o for o in checks.run()}
    assert outcomes["health:spool_filling"].after.state == "firing"
    assert outcomes["health:forward_down"].after.state == "pending"  # for: 1m by default
    assert outcomes["health:elasticsearch_unreachable"].after.state == "ok"
    (mail,) = smtp.wait_for(1)
    assert str(mail["Subject"]).strip().startswith("[FIRING] health:spool_filling: spool 8")
    assert "Instance: i-1" in mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    at[0] += timedelta(minutes=2)
    checks.run()
    assert len(smtp.wait_for(2)) == 2  # the listener, down for its minute
    states = read_states(checks.path)
    assert states["health:forward_down"].state == "firing"
    at[0] += timedelta(minutes=2)
    checks.run()
    assert len(smtp.messages) == 2  # nothing new while they keep firing


def test_elasticsearch_unreachable_is_told_without_elasticsearch(
    es_url: str, index_prefix: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    settings = local_settings(es_url, index_prefix, tmp_path, smtp)
    nowhere = Elasticsearch(f"http://127.0.0.1:{free_port()}", request_timeout=1)
    at = [START]
    checks = LocalChecks(settings, nowhere, build_outbox(settings, nowhere), lambda: at[0])
    first = {o.rule.name: o for o in checks.run()}
    assert first["health:elasticsearch_unreachable"].after.state == "pending"  # for: 2m
    at[0] += timedelta(minutes=3)
    smtp.stop()  # and the mail server away too: tried again at the next run
    second = {o.rule.name: o for o in checks.run()}
    assert not second["health:elasticsearch_unreachable"].saved
    assert read_states(checks.path)["health:elasticsearch_unreachable"].state == "pending"
    smtp.start()
    at[0] += timedelta(seconds=30)
    checks.run()
    subjects = [str(m["Subject"]).strip() for m in smtp.wait_for(2)]  # and the listener
    unreachable = [s for s in subjects if "health:elasticsearch_unreachable" in s]
    assert unreachable == [
        "[FIRING] health:elasticsearch_unreachable: Elasticsearch does not answer (ConnectionError)"
    ]


def test_the_alerts_commands(
    es_url: str, es: Elasticsearch, index_prefix: str, tmp_path: Path, smtp: SmtpServer
) -> None:
    install_templates(es, index_prefix)
    config = tmp_path / "metronome.yml"
    raw: dict[str, Any] = {
        "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
        "spool": {"dir": str(tmp_path / "var" / "spool")},
        "logs": {"forward": {"enabled": False}},
        "notify": notify(smtp),
        "alerts": {"rules": {"quiet-site": {"site": "default", "condition": {"no_data": "1h"},
                                            "channels": ["ops"]}}},
    }  # fmt: skip
    config.write_text(yaml.safe_dump(raw))
    runner = CliRunner()
    dry = runner.invoke(cli, ["--config", str(config), "alerts", "check", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "quiet-site: ok -> firing; no documents for 1h" in dry.output
    assert "would send to ops: [FIRING] [default] quiet-site: no documents for 1h" in dry.output
    assert "pipeline-health alerts are recorded and shown" in dry.output
    assert smtp.messages == []
    sent = runner.invoke(cli, ["--config", str(config), "alerts", "check", "--rule", "quiet-site"])
    assert sent.exit_code == 0, sent.output
    assert "queued to ops" in sent.output
    assert len(smtp.wait_for(1)) == 1
    listed = runner.invoke(cli, ["--config", str(config), "alerts", "list"])
    assert "quiet-site [default]: FIRING" in listed.output, listed.output
    assert "health:spool_filling: OK" in listed.output
    unknown = runner.invoke(cli, ["--config", str(config), "alerts", "check", "--rule", "nope"])
    assert unknown.exit_code == 2 and "no rule named 'nope'" in unknown.output
    raw["alerts"]["rules"]["quiet-site"]["channels"] = ["pager"]
    config.write_text(yaml.safe_dump(raw))
    bad = runner.invoke(cli, ["--config", str(config), "alerts", "list"])
    assert bad.exit_code == 1
    assert "alerts.rules.quiet-site.channels: Unknown channel 'pager'" in bad.output
    # No Elasticsearch URL and no embedded node running: one line says how to start it.
    del raw["elasticsearch"]["url"]
    raw["elasticsearch"]["embedded"] = {"data_dir": str(tmp_path / "es"), "http_port": free_port()}
    raw["alerts"]["rules"]["quiet-site"]["channels"] = ["ops"]
    config.write_text(yaml.safe_dump(raw))
    stopped = runner.invoke(cli, ["--config", str(config), "alerts", "check", "--dry-run"])
    assert stopped.exit_code == 1 and isinstance(stopped.exception, SystemExit), stopped.output
    assert "the embedded node is not running" in stopped.output
