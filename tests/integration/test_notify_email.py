"""The e-mail channel against a real SMTP server (aiosmtpd, tests/smtp_server.py): each
security mode, AUTH, certificates, the MIME structure parsed back, failures sorted into
retried and permanent, and no secret in errors or logs."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from metronome.config import settings_from_mapping
from metronome.notify import Attachment, Channel, Message, SendFailed, channels_from_settings
from metronome.notify.mime import message_id
from tests.conftest import free_port
from tests.smtp_server import Security, SmtpServer, smtp_server

USER, PASSWORD = "metronome", "smtp-pa55word-0001"
SENDER = "Metronome <metronome@example.org>"
PNG = bytes.fromhex("89504e470d0a1a0a") + b"chart-bytes" * 50
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40


def channel(
    server: SmtpServer | None,
    security: Security = "none",
    *,
    port: int | None = None,
    trust: bool = True,
    **smtp: Any,
) -> Channel:
    settings = settings_from_mapping(
        {
            "notify": {
                "smtp": {
                    "host": "127.0.0.1" if server is None or security == "none" else "localhost",
                    "port": port or (server.port if server else free_port()),
                    "security": security,
                    "sender": SENDER,
                    "timeout": 5,
                    **({"ca_file": str(server.ca_file)} if server and trust else {}),
                    **smtp,
                },
                "channels": {"ops": {"type": "email", "to": ["Ops <ops@example.org>"]}},
            }
        }
    )
    return channels_from_settings(settings.notify)["ops"]


@pytest.mark.parametrize("security", ["none", "starttls", "tls"])
@pytest.mark.parametrize("auth", [False, True])
def test_each_security_mode_delivers(security: Security, auth: bool) -> None:
    credentials = (USER, PASSWORD) if auth else None
    with smtp_server(security=security, auth=credentials) as server:
        login: dict[str, Any] = {"username": USER, "password": PASSWORD} if auth else {}
        note = channel(server, security, **login).send(Message("Hi", "Hello."), key="k1")
        (received,) = server.received
    assert note == "accepted"
    assert received.tls == (security != "none")
    assert received.login == (USER if auth else None)
    assert received.mail_from == "metronome@example.org"
    assert received.rcpt_tos == ("ops@example.org",)
    assert received.message["To"] == "Ops <ops@example.org>"


def test_a_server_that_requires_auth_refuses_a_channel_without_it() -> None:
    with smtp_server(security="starttls", auth=(USER, PASSWORD)) as server:
        with pytest.raises(SendFailed) as caught:
            channel(server, "starttls").send(Message("Hi", "Hello."), key="k1")
        assert not server.received
    assert not caught.value.permanent


def test_starttls_is_never_given_up_for_a_plain_session() -> None:
    with smtp_server(security="none") as server:
        with pytest.raises(SendFailed, match="does not offer STARTTLS") as caught:
            channel(server, "starttls").send(Message("Hi", "Hello."), key="k1")
        assert not server.received
    assert not caught.value.permanent


def test_the_certificate_is_verified(caplog: pytest.LogCaptureFixture) -> None:
    with smtp_server(security="tls") as server:
        with pytest.raises(SendFailed, match=r"certificate does not verify.*ca_file"):
            channel(server, "tls", trust=False).send(Message("Hi", "Hello."), key="k1")
        assert not server.received
        # verify: false trusts any certificate, with a warning
        with caplog.at_level(logging.WARNING):
            insecure = channel(server, "tls", trust=False, verify=False)
        insecure.send(Message("Hi", "Hello."), key="k1")
        assert len(server.received) == 1
    assert "notify.smtp.verify is false" in caplog.text


def test_the_mime_structure_is_parsed_back() -> None:
    message = Message(
        subject="Weekly digest: ünïcode & co",
        text="Views: 1234 (+5 %)",
        html='<p>Views: <b>1234</b></p><img src="cid:chart-views" alt="views">',
        attachments=(
            Attachment("views.png", "image/png", PNG, inline_id="chart-views"),
            Attachment("report.pdf", "application/pdf", PDF),
            Attachment("data.csv", "text/csv", b"day,views\n2026-10-24,1234\n"),
        ),
    )
    with smtp_server() as server:
        channel(server).send(message, key="digest:weekly:2026-10-19")
        (mail,) = server.messages
    assert mail["Subject"] == "Weekly digest: ünïcode & co"
    assert mail["Message-ID"] == message_id("digest:weekly:2026-10-19", "ops", SENDER)
    assert mail["Message-ID"].endswith("@example.org>")
    assert mail.get_content_type() == "multipart/mixed"
    text = mail.get_body(preferencelist=("plain",))
    html = mail.get_body(preferencelist=("html",))
    assert text is not None and text.get_content().strip() == "Views: 1234 (+5 %)"
    assert html is not None and "<b>1234</b>" in html.get_content()
    related = next(part for part in mail.walk() if part.get_content_type() == "multipart/related")
    images = {
        part["Content-ID"]: part
        for part in related.iter_parts()
        if part.get_content_maintype() == "image"
    }
    assert set(images) == {"<chart-views>"}  # the cid of the HTML resolves
    assert images["<chart-views>"].get_content() == PNG
    attached = {part.get_filename(): part.get_content() for part in mail.iter_attachments()}
    assert attached["report.pdf"] == PDF
    assert attached["data.csv"] in (b"day,views\n2026-10-24,1234\n", "day,views\n2026-10-24,1234\n")
    assert set(attached) == {"report.pdf", "data.csv"}


def test_text_only_is_a_single_part_and_inline_images_without_html_are_attached() -> None:
    with smtp_server() as server:
        channel(server).send(Message("Plain", "Just text."), key="k1")
        picture = Attachment("chart.png", "image/png", PNG, inline_id="chart")
        channel(server).send(Message("Chart", "See the chart.", attachments=(picture,)), key="k2")
        plain, with_image = server.messages
    assert plain.get_content_type() == "text/plain"
    assert plain.get_content().strip() == "Just text."
    assert [p.get_filename() for p in with_image.iter_attachments()] == ["chart.png"]


def test_the_message_id_is_the_same_for_the_same_key() -> None:
    with smtp_server() as server:
        ops = channel(server)
        ops.send(Message("A", "a"), key="alert:views:1")
        ops.send(Message("A", "a"), key="alert:views:1")
        ops.send(Message("A", "a"), key="alert:views:2")
        first, again, other = (m["Message-ID"] for m in server.messages)
    assert first == again != other


def test_to_replaces_the_recipients() -> None:
    with smtp_server() as server:
        channel(server).send(
            Message("A", "a"), key="k", to=("ann@example.org", "Bob <bob@example.org>")
        )
        (received,) = server.received
    assert received.rcpt_tos == ("ann@example.org", "bob@example.org")


def test_a_refused_recipient_is_permanent_and_partly_refused_is_sent() -> None:
    refuse = {
        "gone@example.org": "550 5.1.1 no such user",
        "full@example.org": "452 4.2.2 over quota",
    }
    with smtp_server(refuse=refuse) as server:
        ops = channel(server)
        with pytest.raises(SendFailed, match=r"550 5\.1\.1 no such user") as gone:
            ops.send(Message("A", "a"), key="k", to=("gone@example.org",))
        with pytest.raises(SendFailed, match="452") as full:
            ops.send(Message("A", "a"), key="k", to=("full@example.org",))
        note = ops.send(Message("A", "a"), key="k", to=("ann@example.org", "gone@example.org"))
        assert len(server.received) == 1
    assert gone.value.permanent and not full.value.permanent
    assert note == "accepted; refused: gone@example.org (550 5.1.1 no such user)"


def test_a_server_down_is_retried() -> None:
    with pytest.raises(SendFailed, match="connection refused") as caught:
        channel(None, port=free_port()).send(Message("A", "a"), key="k")
    assert not caught.value.permanent


def test_a_wrong_password_is_retried_and_never_shown(caplog: pytest.LogCaptureFixture) -> None:
    wrong = "wr0ng-pa55word-0002"
    with (
        caplog.at_level(logging.DEBUG),
        smtp_server(security="tls", auth=(USER, PASSWORD)) as server,
        pytest.raises(SendFailed, match="refused the login of 'metronome': 535") as caught,
    ):
        channel(server, "tls", username=USER, password=wrong).send(Message("A", "a"), key="k")
    assert not caught.value.permanent
    assert wrong not in str(caught.value)
    assert wrong not in caplog.text
    assert all(wrong not in str(record.args) for record in caplog.records)


def test_a_message_without_recipients_is_refused_for_good(tmp_path: Path) -> None:
    settings = settings_from_mapping({"notify": {"smtp": {"host": "127.0.0.1", "sender": SENDER}}})
    email = channels_from_settings(settings.notify)["email"]
    with pytest.raises(SendFailed, match="no recipients") as caught:
        email.send(Message("A", "a"), key="k")
    assert caught.value.permanent
