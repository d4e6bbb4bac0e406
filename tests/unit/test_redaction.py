"""Secrets stay out of what Metronome prints: access-log lines, reprs of the settings."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config
from gunicorn.glogging import Logger

from metronome.config import Settings, settings_from_mapping
from metronome.es.client import redact_url
from metronome.serve.plan import ACCESS_LOG_FORMAT, process_plan


def test_the_access_log_line_leaves_the_query_string_out() -> None:
    environ = {
        "REMOTE_ADDR": "203.0.113.7",
        "REQUEST_METHOD": "GET",
        "RAW_URI": "/tock/dataset-42?key=sk_shop_read_0001&email=ann%40example.org",
        "PATH_INFO": "/tock/dataset-42",
        "QUERY_STRING": "key=sk_shop_read_0001&email=ann%40example.org",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    response = SimpleNamespace(status="400 BAD REQUEST", sent=120, headers=[])
    atoms = Logger(Config()).atoms(response, [], environ, timedelta(milliseconds=3))
    line = ACCESS_LOG_FORMAT % atoms
    assert line == '203.0.113.7 "GET /tock/dataset-42 HTTP/1.1" 400 120 3ms'


SECRETS = {
    "es-pa55word": "elasticsearch url password",
    "es-api-k3y": "elasticsearch.api_key",
    "basic-pa55word": "elasticsearch.password",
    "visitor-s3cret": "privacy.visitor_secret",
    "fluentd-shar3d": "logs.forward.shared_key",
    "sk_read_s3cret_01": "a site's read key",
    "hook-s3cret": "webhooks.github.secret",
    "ghp_t0ken": "a source's token",
    "s3-s3cret-key": "archive.secret_access_key",
    "smtp-pa55word": "notify.smtp.password",
    "hook-sign-s3cret-01": "a webhook channel's secret",
    "hook-t0ken": "a webhook channel's URL path",
    "sms-api-k3y": "a webhook channel's header",
}


def settings_full_of_secrets(**elasticsearch: str) -> Settings:
    return settings_from_mapping(
        {
            "elasticsearch": {
                "url": "https://elastic:es-pa55word@es.example:9243",
                **elasticsearch,
            },
            "privacy": {"visitor_secret": "visitor-s3cret"},
            "logs": {"forward": {"shared_key": "fluentd-shar3d"}},
            "sites": {"default": {"write_auth": "none", "read_keys": ["sk_read_s3cret_01"]}},
            "webhooks": {"github": {"secret": "hook-s3cret"}},
            "sources": {"repo": {"type": "github", "repos": ["o/r"], "token": "ghp_t0ken"}},
            "archive": {
                "bucket": "archive-bucket",
                "access_key_id": "AKIAEXAMPLE",
                "secret_access_key": "s3-s3cret-key",
            },
            "notify": {
                "smtp": {
                    "host": "smtp.example.org",
                    "sender": "metronome@example.org",
                    "username": "metronome",
                    "password": "smtp-pa55word",
                },
                "channels": {
                    "chat": {
                        "type": "webhook",
                        "url": "https://chat.example.org/hooks/hook-t0ken",
                        "secret": "hook-sign-s3cret-01",
                        "headers": {"Authorization": "Bearer sms-api-k3y"},
                    },
                },
            },
        }
    )


@pytest.mark.parametrize(
    "elasticsearch",
    [{"api_key": "es-api-k3y"}, {"username": "elastic", "password": "basic-pa55word"}],
)
def test_the_settings_repr_holds_no_secret(elasticsearch: dict[str, str]) -> None:
    text = repr(settings_full_of_secrets(**elasticsearch))
    assert "ElasticsearchSettings(" in text  # the repr is there, without the secrets
    for secret, where in SECRETS.items():
        assert secret not in text, where


@pytest.mark.parametrize(
    ("url", "printed"),
    [
        ("https://elastic:pa55@es.example:9243", "https://elastic:***@es.example:9243"),
        ("https://es.example:9243/base", "https://es.example:9243/base"),
        ("http://user@127.0.0.1:9200", "http://user@127.0.0.1:9200"),
    ],
)
def test_a_password_in_the_elasticsearch_url_is_never_printed(url: str, printed: str) -> None:
    assert redact_url(url) == printed


@pytest.mark.parametrize(
    "elasticsearch",
    [{"api_key": "es-api-k3y"}, {"username": "elastic", "password": "basic-pa55word"}],
)
def test_the_children_of_serve_get_no_secret_of_the_settings(elasticsearch: dict[str, str]) -> None:
    """Command lines are visible to every user of the machine (``ps``), the environment to
    the same user: the children read their secrets from the config file and the environment
    they inherit. The one setting passed on is the node's URL, with its password if it was
    configured with one (the children need it; an embedded node's URL only serve knows)."""
    settings = settings_full_of_secrets(**elasticsearch)
    settings = replace(settings, archive=replace(settings.archive, enabled=True))
    url = settings.elasticsearch.url
    assert url is not None
    plan = process_plan(settings, url, "config/metronome.yml", {"PATH": "/usr/bin"})
    assert [child.name for child in plan] == ["shipper", "forward", "scheduler", "archive", "web"]
    for child in plan:
        shown = " ".join(child.command)
        passed = " ".join(f"{name}={value}" for name, value in child.env.items())
        for secret, where in SECRETS.items():
            assert secret not in shown, (child.name, where)
            if secret != "es-pa55word":
                assert secret not in passed, (child.name, where)
        assert child.env["METRONOME_ES_URL"] == url
