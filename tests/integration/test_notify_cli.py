"""``metronome notify test CHANNEL [--to]``, ``channels``, ``deliver`` and ``outbox``: what a
user runs right after configuring a channel, against a real SMTP server and webhook
receiver."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner, Result
from elasticsearch import Elasticsearch

from metronome.cli import cli
from metronome.config import settings_from_mapping
from metronome.notify import Message, Outbox, channels_from_settings
from tests.conftest import free_port
from tests.smtp_server import smtp_server
from tests.webhook_receiver import webhook_receiver

PASSWORD = "smtp-pa55word-0001"
SECRET = "hook-s3cret-0123456789"


def configure(tmp_path: Path, smtp_port: int, hook_url: str, **extra: Any) -> Path:
    config = tmp_path / "metronome.yml"
    notify = {
        "smtp": {
            "host": "localhost",
            "port": smtp_port,
            "security": "starttls",
            "sender": "Metronome <metronome@example.org>",
            "username": "metronome",
            "password": PASSWORD,
            "timeout": 5,
            **extra,
        },
        "channels": {
            "ops": {"type": "email", "to": ["ops@example.org"]},
            "chat": {"type": "webhook", "url": hook_url, "format": "slack", "secret": SECRET},
        },
    }
    config.write_text(yaml.safe_dump({"notify": notify}))
    return config


def run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), "notify", *args])


def test_notify_test_sends_at_once_and_says_so(tmp_path: Path) -> None:
    with (
        smtp_server(security="starttls", auth=("metronome", PASSWORD)) as smtp,
        webhook_receiver(SECRET) as hook,
    ):
        config = configure(tmp_path, smtp.port, hook.url, ca_file=str(smtp.ca_file))
        mail = run(config, "test", "ops")
        other = run(config, "test", "ops", "--to", "ann@example.org")
        chat = run(config, "test", "chat")
        (first, second) = smtp.received
        (request,) = hook.requests
    assert mail.exit_code == 0, mail.output
    assert "Warning: notify.channels.chat.url is plain http" in mail.output  # on stderr
    assert mail.output.endswith(
        f"Sending a test message on 'ops': e-mail via localhost:{smtp.port} (starttls) to "
        "ops@example.org\nSent: accepted\n"
    )
    assert first.rcpt_tos == ("ops@example.org",) and second.rcpt_tos == ("ann@example.org",)
    assert first.message["Subject"] == "Metronome test message (ops)"
    assert other.exit_code == 0 and "(to ann@example.org)" in other.output
    assert chat.exit_code == 0, chat.output
    assert "Sent: 200 from http://127.0.0.1" in chat.output
    assert request.signature_ok and "Metronome test message (chat)" in request.json()["text"]
    for result in (mail, other, chat):
        for secret in (PASSWORD, SECRET, "secret-token", "query-s3cret"):
            assert secret not in result.output


def test_notify_test_says_why_it_failed(tmp_path: Path) -> None:
    with webhook_receiver() as hook:
        config = configure(tmp_path, free_port(), hook.url)
        hook.answer = 403
        mail = run(config, "test", "ops")
        chat = run(config, "test", "chat")
        unknown = run(config, "test", "pager")
        webhook_to = run(config, "test", "chat", "--to", "ann@example.org")
    assert mail.exit_code == 1
    assert "Error: not sent: channel 'ops': localhost:" in mail.output
    assert "connection refused" in mail.output
    assert chat.exit_code == 1
    assert (
        f"Error: not sent: channel 'chat': 403 from http://127.0.0.1:{hook.port}/…" in chat.output
    )
    assert unknown.exit_code == 1
    assert "channel 'pager': no such channel in notify.channels (configured: chat, email, ops)" in (
        unknown.output
    )
    assert "'to' applies to e-mail channels only" in webhook_to.output
    for result in (mail, chat, unknown):
        assert PASSWORD not in result.output and "secret-token" not in result.output


def test_a_bad_channel_stops_the_command_with_its_name(tmp_path: Path) -> None:
    config = tmp_path / "metronome.yml"
    config.write_text(
        yaml.safe_dump({"notify": {"channels": {"sms": {"type": "webhook", "url": "sms://x"}}}})
    )
    result = run(config, "test", "sms")
    assert result.exit_code == 1
    assert "notify.channels.sms.url: Use an http:// or https:// URL." in result.output


def test_notify_channels_lists_them_without_secrets(tmp_path: Path) -> None:
    config = configure(
        tmp_path, 2525, "https://user:url-pa55@hooks.example/t0ken?k=qu3ry", verify=False
    )
    result = run(config, "channels")
    assert result.exit_code == 0, result.output
    assert "ops: e-mail via localhost:2525 (starttls) to ops@example.org" in result.output
    assert "chat: webhook (slack, signed) to https://hooks.example/…" in result.output
    assert "email: e-mail via localhost:2525 (starttls) to the recipients each message names" in (
        result.output
    )
    assert "Warning: notify.smtp.verify is false" in result.output
    for secret in (PASSWORD, SECRET, "url-pa55", "t0ken", "qu3ry"):
        assert secret not in result.output


def test_notify_deliver_and_outbox(
    tmp_path: Path, es: Elasticsearch, es_url: str, index_prefix: str
) -> None:
    with webhook_receiver(SECRET) as hook:
        raw = {
            "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
            "notify": {
                "channels": {"chat": {"type": "webhook", "url": hook.url, "secret": SECRET}}
            },
        }
        config = tmp_path / "metronome.yml"
        config.write_text(yaml.safe_dump(raw))
        settings = settings_from_mapping(raw)
        box = Outbox(es, index_prefix, channels_from_settings(settings.notify))
        box.enqueue("alert:views-high:1", "chat", Message("Views high", "1234 views"))
        box.enqueue("alert:views-high:2", "chat", Message("Views high", "1234 views"))
        hook.fail_next(1, 500)
        delivered = run(config, "deliver")
        listed = run(config, "outbox")
        pending = run(config, "outbox", "--status", "pending")
    assert delivered.exit_code == 0, delivered.output
    assert delivered.output.startswith(
        "sent 0, to retry 1, failed 0, taken by another process 0, waiting for a failing channel 1"
    )
    assert "alert:views-high:1: 500 from http://127.0.0.1" in delivered.output
    assert listed.exit_code == 0, listed.output
    assert len(listed.output.splitlines()) == 2
    assert "pending chat alert:views-high:1 (attempts 1), next at " in pending.output
    assert ": 500 from http://127.0.0.1" in pending.output
