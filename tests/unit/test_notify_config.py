"""``notify:`` settings: what loads, and errors that name the channel and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from metronome.config import ConfigError, Settings, settings_from_mapping
from metronome.notify import channels_from_settings, notify_warnings

SMTP = {"host": "smtp.example.org", "sender": "Metronome <metronome@example.org>"}


def load(notify: dict[str, Any]) -> Settings:
    return settings_from_mapping({"notify": notify})


def refused(notify: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        load(notify)
    return str(caught.value)


def test_nothing_configured_is_no_channel() -> None:
    settings = settings_from_mapping({})
    assert settings.notify.smtp is None and settings.notify.all_channels == {}
    assert channels_from_settings(settings.notify) == {}


def test_the_contract_shape_loads() -> None:
    settings = load(
        {
            "smtp": {
                **SMTP,
                "port": 587,
                "security": "starttls",
                "username": "metronome",
                "password": "smtp-pa55word",
                "timeout": 10,
            },
            "channels": {
                "ops-mail": {"type": "email", "to": ["ops@example.org"]},
                "chat": {
                    "type": "webhook",
                    "url": "https://chat.example.org/hooks/x",
                    "format": "slack",
                },
                "sms": {
                    "type": "webhook",
                    "url": "https://sms.example/send",
                    "format": "json",
                    "template": '{"to":"+48123","text":{{text|tojson}}}',
                },
                "signed": {
                    "type": "webhook",
                    "url": "https://hooks.example/m",
                    "format": "json",
                    "secret": "hook-s3cret-0123456789",
                },
            },
        }
    )
    channels = channels_from_settings(settings.notify)
    assert sorted(channels) == ["chat", "email", "ops-mail", "signed", "sms"]
    assert channels["ops-mail"].describe() == (
        "e-mail via smtp.example.org:587 (starttls) to ops@example.org"
    )
    assert channels["chat"].describe() == "webhook (slack) to https://chat.example.org/…"
    assert channels["signed"].describe() == "webhook (json, signed) to https://hooks.example/…"
    assert channels["email"].describe().endswith("to the recipients each message names")


def test_the_port_follows_the_security_unless_set() -> None:
    for security, port in (("none", 25), ("starttls", 587), ("tls", 465)):
        assert load({"smtp": {**SMTP, "security": security}}).notify.smtp.effective_port == port  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("notify", "message"),
    [
        (
            {"channels": {"pager": {"type": "sms"}}},
            "notify.channels.pager.type: Must be one of: email, webhook.",
        ),
        (
            {"channels": {"hook": {"type": "webhook", "url": "ftp://hooks.example/x"}}},
            "notify.channels.hook.url: Use an http:// or https:// URL.",
        ),
        (
            {"channels": {"hook": {"type": "webhook", "url": "https:///nohost"}}},
            "notify.channels.hook.url: Not a valid URL: it needs a host, and no spaces.",
        ),
        (
            {"channels": {"hook": {"type": "webhook"}}},
            "notify.channels.hook.url: A webhook channel needs a url.",
        ),
        (
            {
                "channels": {
                    "hook": {"type": "webhook", "url": "https://h.example/x", "secret": "short"}
                }
            },
            "notify.channels.hook.secret: Too short: a signing secret has at least 16 characters.",
        ),
        (
            {"channels": {"ops": {"type": "email", "to": ["ops@example.org"]}}},
            "notify.channels.ops.type: An email channel needs notify.smtp (host, sender).",
        ),
        (
            {"smtp": SMTP, "channels": {"ops": {"type": "email", "to": ["ops at example.org"]}}},
            "notify.channels.ops.to.0: 'ops at example.org' is not an e-mail address",
        ),
        (
            {
                "smtp": SMTP,
                "channels": {
                    "ops": {"type": "email", "to": ["ops@example.org\r\nBcc: x@evil.example"]}
                },
            },
            "notify.channels.ops.to.0:",
        ),
        (
            {"smtp": SMTP, "channels": {"ops": {"type": "email", "url": "https://h.example/"}}},
            "notify.channels.ops.url: Not a setting of an email channel.",
        ),
        (
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": "https://h.example/",
                        "to": ["a@example.org"],
                    }
                }
            },
            "notify.channels.hook.to: Not a setting of a webhook channel (e-mail only).",
        ),
        (
            {
                "channels": {
                    "hook": {"type": "webhook", "url": "https://h.example/", "colour": "red"}
                }
            },
            "notify.channels.hook.colour: Unknown setting.",
        ),
        (
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": "https://h.example/",
                        "template": '{"t": {{ text }}}',
                    }
                }
            },
            "notify.channels.hook.template: The body is not valid JSON",
        ),
        (
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": "https://h.example/",
                        "template": "{{ secret }}",
                    }
                }
            },
            "notify.channels.hook.template: {{ secret }} is not a value",
        ),
        (
            {
                "channels": {
                    "hook": {
                        "type": "webhook",
                        "url": "https://h.example/",
                        "format": "slack",
                        "template": "{}",
                    }
                }
            },
            "notify.channels.hook.template: A template gives the whole body",
        ),
        (
            {"channels": {"Bad Name": {"type": "webhook", "url": "https://h.example/"}}},
            "notify.channels.Bad Name: A channel name is lowercase",
        ),
        (
            {"smtp": {"host": "smtp.example.org"}},
            "notify.smtp.sender: Missing data for required field.",
        ),
        (
            {"smtp": {**SMTP, "sender": "metronome"}},
            "notify.smtp.sender: 'metronome' is not an e-mail address",
        ),
        (
            {"smtp": {**SMTP, "username": "metronome"}},
            "notify.smtp.password: Set both username and password, or neither.",
        ),
        (
            {"smtp": {**SMTP, "security": "ssl"}},
            "notify.smtp.security: Must be one of: none, starttls, tls.",
        ),
        (
            {"smtp": {**SMTP, "ca_file": "/nonexistent/ca.pem"}},
            "notify.smtp.ca_file: No such file: /nonexistent/ca.pem.",
        ),
        (
            {"delivery": {"first_retry": 600, "max_retry": 60}},
            "notify.delivery.max_retry: Must be at least first_retry.",
        ),
        (
            {"smtp": {**SMTP, "timeout": 60}},
            "notify.delivery.claim_ttl: Must be at least 10 times the longest timeout (60 s)",
        ),
    ],
)
def test_a_bad_notify_setting_is_named(notify: dict[str, Any], message: str) -> None:
    assert message in refused(notify)


def test_secrets_stay_out_of_errors_and_reprs() -> None:
    text = refused(
        {
            "smtp": {**SMTP, "password": "smtp-pa55word", "username": "u", "security": "tls"},
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": "gopher://user:url-pa55@h.example/t0ken",
                    "secret": "hook-s3cret-0123456789",
                },
            },
        }
    )
    for secret in ("smtp-pa55word", "url-pa55", "t0ken", "hook-s3cret"):
        assert secret not in text
    settings = load(
        {
            "smtp": {**SMTP, "password": "smtp-pa55word", "username": "u"},
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": "https://h.example/t0ken?key=qu3ry",
                    "secret": "hook-s3cret-0123456789",
                    "headers": {"Authorization": "Bearer sms-k3y"},
                    "template": '{"key": "api-k3y", "text": "{{ text }}"}',
                },
            },
        }
    )
    shown = repr(settings)
    for secret in ("smtp-pa55word", "t0ken", "qu3ry", "hook-s3cret", "sms-k3y", "api-k3y"):
        assert secret not in shown


def test_unsafe_but_allowed_settings_are_warned_about(tmp_path: Path) -> None:
    settings = load(
        {
            "smtp": {**SMTP, "verify": False},
            "channels": {
                "hook": {
                    "type": "webhook",
                    "url": "http://h.example/x",
                    "verify": False,
                    "secret": "hook-s3cret-0123456789",
                },
            },
        }
    )
    warnings = notify_warnings(settings.notify)
    assert [w.split(" ", 1)[0] for w in warnings] == [
        "notify.smtp.verify",
        "notify.channels.hook.verify",
        "notify.channels.hook.url",
    ]
    plain = load({"smtp": {**SMTP, "security": "none", "username": "u", "password": "pw-123"}})
    assert notify_warnings(plain.notify) == [
        "notify.smtp.security is none: the SMTP password and every message travel "
        "unencrypted; use starttls or tls"
    ]
    assert "pw-123" not in repr(notify_warnings(plain.notify))


def test_secrets_come_from_the_environment() -> None:
    from metronome.config import load_settings  # noqa: PLC0415

    settings = load_settings(
        None,
        environ={
            "METRONOME_NOTIFY__SMTP__HOST": "smtp.example.org",
            "METRONOME_NOTIFY__SMTP__SENDER": "metronome@example.org",
            "METRONOME_NOTIFY__SMTP__USERNAME": "metronome",
            "METRONOME_NOTIFY__SMTP__PASSWORD": "from-the-env",
            "METRONOME_NOTIFY__CHANNELS__OPS__TYPE": "email",
            "METRONOME_NOTIFY__CHANNELS__OPS__TO": "a@example.org, b@example.org",
        },
    )
    assert settings.notify.smtp is not None and settings.notify.smtp.password == "from-the-env"
    assert settings.notify.channels["ops"].to == ("a@example.org", "b@example.org")


def test_the_outbox_from_the_settings_retries_as_notify_delivery_says() -> None:
    from elasticsearch import Elasticsearch  # noqa: PLC0415

    from metronome.notify import outbox_from_settings  # noqa: PLC0415

    settings = settings_from_mapping(
        {
            "elasticsearch": {"index_prefix": "acme"},
            "notify": {
                "smtp": SMTP,
                "delivery": {"first_retry": 30, "max_retry": 600, "give_up_after": 86400},
            },
        }
    )
    box = outbox_from_settings(settings, Elasticsearch("http://127.0.0.1:9"))
    assert (box.policy.first_retry, box.policy.max_retry, box.policy.give_up_after) == (
        30,
        600,
        86400,
    )
    assert box.index == "acme-notifications" and sorted(box.channels) == ["email"]
