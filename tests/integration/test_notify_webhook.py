"""The webhook channel against a local receiver (tests/webhook_receiver.py): the bodies, the
signature checked as a receiver would, answers sorted into delivered, retried and failed for
good, timeouts, the answer read within its cap, and no secret in errors or logs."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from metronome.config import settings_from_mapping
from metronome.notify import Channel, Message, SendFailed, channels_from_settings
from metronome.notify.webhook import ANSWER_BYTES
from tests.conftest import free_port
from tests.manual_clock import ManualClock
from tests.webhook_receiver import webhook_receiver

SECRET = "hook-s3cret-0123456789"
ALERT = Message(
    subject="Page views above 1000",
    text="Page views were 1234 in the last hour.",
    fields={"rule": "views-high", "state": "firing", "value": 1234, "threshold": 1000},
)


def hook(url: str, clock: ManualClock | None = None, **options: Any) -> Channel:
    settings = settings_from_mapping(
        {"notify": {"channels": {"hook": {"type": "webhook", "url": url, "timeout": 2, **options}}}}
    )
    return channels_from_settings(settings.notify, clock or ManualClock())["hook"]


def test_the_json_body_and_its_signature_are_what_the_receiver_checks() -> None:
    clock = ManualClock()
    with webhook_receiver(SECRET, now=clock.timestamp) as receiver:
        note = hook(receiver.url, clock, secret=SECRET).send(ALERT, key="alert:views-high:1")
        (request,) = receiver.requests
    assert note == f'200 from http://127.0.0.1:{receiver.port}/…: {{"ok": true}}'
    assert request.signature_ok is True
    assert request.headers["x-metronome-timestamp"] == str(int(clock.timestamp()))
    assert request.headers["x-metronome-message-key"] == "alert:views-high:1"
    assert request.headers["content-type"] == "application/json"
    assert request.path == "/hooks/secret-token?key=query-s3cret"
    assert request.json() == {
        "key": "alert:views-high:1",
        "channel": "hook",
        "subject": ALERT.subject,
        "text": ALERT.text,
        "fields": {"rule": "views-high", "state": "firing", "value": 1234, "threshold": 1000},
    }


def test_a_signature_with_another_secret_or_an_old_timestamp_fails_the_check() -> None:
    clock = ManualClock()
    with webhook_receiver(SECRET, now=clock.timestamp) as receiver:
        hook(receiver.url, clock, secret="another-s3cret-0123456").send(ALERT, key="k")
        receiver.now = lambda: clock.timestamp() + 3600  # the request replayed an hour later
        hook(receiver.url, clock, secret=SECRET).send(ALERT, key="k")
        assert [r.signature_ok for r in receiver.requests] == [False, False]


def test_unsigned_without_a_secret() -> None:
    with webhook_receiver() as receiver:
        hook(receiver.url).send(ALERT, key="k")
        (request,) = receiver.requests
    assert "x-metronome-signature" not in request.headers


@pytest.mark.parametrize("kind", ["slack", "mattermost"])
def test_chat_formats_post_a_text(kind: str) -> None:
    with webhook_receiver() as receiver:
        hook(receiver.url, format=kind, username="Metronome").send(ALERT, key="k")
        body = receiver.requests[0].json()
    assert ALERT.text in body["text"] and ALERT.subject in body["text"]
    assert body["username"] == "Metronome"


def test_an_sms_gateway_gets_its_template_and_headers() -> None:
    template = '{"to": "+48123456789", "message": {{ text | tojson }}, "ref": "{{ key }}"}'
    with webhook_receiver() as receiver:
        gateway = hook(receiver.url, template=template, headers={"Authorization": "Bearer sms-k3y"})
        gateway.send(ALERT, key="alert:views-high:1")
        (request,) = receiver.requests
    assert request.json() == {
        "to": "+48123456789",
        "message": ALERT.text,
        "ref": "alert:views-high:1",
    }
    assert request.headers["authorization"] == "Bearer sms-k3y"


@pytest.mark.parametrize(
    ("status", "permanent"),
    [
        (500, False),
        (503, False),
        (408, False),
        (429, False),
        (400, True),
        (404, True),
        (410, True),
        (302, True),
    ],
)
def test_the_answer_decides_retried_or_failed_for_good(status: int, permanent: bool) -> None:
    with webhook_receiver() as receiver:
        receiver.fail_next(1, status)
        with pytest.raises(SendFailed, match=f"^{status} from http://127.0.0.1") as caught:
            hook(receiver.url).send(ALERT, key="k")
        hook(receiver.url).send(ALERT, key="k")  # the next answer is 200 again
    assert caught.value.permanent is permanent


def test_no_answer_in_time_is_retried() -> None:
    with webhook_receiver() as receiver:
        receiver.delay = 3
        started = time.monotonic()
        with pytest.raises(SendFailed, match="no answer in time") as caught:
            hook(receiver.url, timeout=1).send(ALERT, key="k")
    assert time.monotonic() - started < 2.5
    assert not caught.value.permanent


def test_a_huge_answer_is_read_within_the_cap() -> None:
    with webhook_receiver() as receiver:
        receiver.answer_body = b"x" * (20 * 1024 * 1024)
        note = hook(receiver.url).send(ALERT, key="k")
        deadline = time.monotonic() + 5
        while not receiver.cut_answers and time.monotonic() < deadline:
            time.sleep(0.02)
    assert note.startswith("200 from") and note.endswith("x…") and len(note) < 300
    # the channel stopped reading after ANSWER_BYTES: the receiver could not send it all
    assert receiver.cut_answers == 1
    assert ANSWER_BYTES < 1024 * 1024


def test_secrets_are_in_no_error_and_no_log(caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()  # nothing listens there
    url = f"http://user:url-pa55@127.0.0.1:{port}/hooks/secret-token?key=query-s3cret"
    with caplog.at_level(logging.DEBUG):
        channel = hook(url, secret=SECRET, headers={"Authorization": "Bearer sms-k3y"})
        with pytest.raises(SendFailed) as refused:
            channel.send(ALERT, key="k")
        with webhook_receiver() as receiver:
            receiver.fail_next(1, 500)
            receiver.url = receiver.url.replace("127.0.0.1", "user:url-pa55@127.0.0.1")
            with pytest.raises(SendFailed) as failed:
                hook(receiver.url, secret=SECRET).send(ALERT, key="k")
    errors = f"{refused.value} {failed.value} {channel.describe()}"
    assert "Connection refused" in str(refused.value)
    for secret in ("url-pa55", "secret-token", "query-s3cret", SECRET, "sms-k3y"):
        assert secret not in errors
        assert secret not in caplog.text
