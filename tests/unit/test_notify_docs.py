"""The examples of docs/notifications.md work: every YAML block loads as settings (with the
secrets the page tells a user to set from the environment), and the Python receiver snippet
accepts what a signed channel sends and refuses anything else."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from metronome.config import load_settings
from metronome.notify import Message, channels_from_settings
from metronome.notify.payload import BodySpec, webhook_body
from metronome.notify.signing import signature_headers
from tests.conftest import ROOT

PAGE = (ROOT / "docs" / "notifications.md").read_text()
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
YAML = [text for kind, text in BLOCK.findall(PAGE) if kind == "yaml"]
ENVIRONMENT = {  # what the page tells a user to set, for the examples that have its section
    "  smtp:": {"METRONOME_NOTIFY__SMTP__PASSWORD": "app-pa55word"},
    "    sms:": {"METRONOME_NOTIFY__CHANNELS__SMS__HEADERS__AUTHORIZATION": "Bearer gateway-k3y"},
}


def test_the_page_has_its_examples() -> None:
    assert len(YAML) >= 7
    for name in ("smtp.gmail.com", "format: slack", "format: mattermost", "template:"):
        assert any(name in block for block in YAML), name


@pytest.mark.parametrize("block", YAML, ids=[f"yaml-{n}" for n in range(len(YAML))])
def test_each_yaml_example_loads(block: str, tmp_path: Path) -> None:
    config = tmp_path / "metronome.yml"
    config.write_text(block)
    environ = {k: v for part, env in ENVIRONMENT.items() if part in block for k, v in env.items()}
    settings = load_settings(config, environ=environ)
    channels = channels_from_settings(settings.notify)
    assert channels
    for name, channel in settings.notify.channels.items():
        if channel.template is not None:  # the templates give the bodies the page says
            spec = BodySpec(template=channel.template, content_type=channel.content_type)
            body = webhook_body(spec, Message("Views above 1000", "t"), key="k", channel=name)
            assert b"Views" in body.data


def receiver_snippet() -> Any:
    (snippet,) = [text for kind, text in BLOCK.findall(PAGE) if kind == "python"]
    assert len([line for line in snippet.splitlines() if line.strip()]) <= 5
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)  # the page's code, as a reader would paste it
    return namespace["verified"]


def test_the_receiver_snippet_checks_the_signature() -> None:
    verified = receiver_snippet()
    secret = "hook-s3cret-0123456789"
    body = b'{"subject": "Views above 1000"}'
    now = int(time.time())
    headers = signature_headers(secret, now, body)
    assert verified(secret.encode(), headers, body)
    assert not verified(secret.encode(), headers, body + b" ")
    assert not verified(b"another-secret-0123456", headers, body)
    assert not verified(secret.encode(), signature_headers(secret, now - 600, body), body)
