"""The outbox in a real Elasticsearch, with a real SMTP server and webhook receiver: queued
once, sent once, retried with backoff while the channel is down (time walked with a clock),
given up and recorded, safe with two deliverers at once, a dead deliverer's claim taken over,
and no secret in what it records or logs."""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.config import settings_from_mapping
from metronome.notify import (
    Attachment,
    Channel,
    Message,
    NotifyError,
    Outbox,
    RetryPolicy,
    channels_from_settings,
)
from tests.conftest import free_port
from tests.manual_clock import ManualClock
from tests.smtp_server import SmtpServer, smtp_server
from tests.webhook_receiver import WebhookReceiver, webhook_receiver

SECRET = "hook-s3cret-0123456789"
PASSWORD = "smtp-pa55word-0001"
POLICY = RetryPolicy(first_retry=60, max_retry=3600, give_up_after=3 * 86400, claim_ttl=300)


def alert(n: int = 1) -> Message:
    return Message(
        subject=f"Views above 1000 (#{n})",
        text=f"Views were {1000 + n}.",
        fields={"rule": "views-high", "value": 1000 + n},
    )


def channels(
    clock: ManualClock,
    *,
    smtp: SmtpServer | None = None,
    smtp_port: int | None = None,
    hook_url: str | None = None,
    **smtp_options: Any,
) -> dict[str, Channel]:
    notify: dict[str, Any] = {"channels": {}}
    if smtp is not None or smtp_port is not None:
        port = smtp.port if smtp is not None else smtp_port
        notify["smtp"] = {
            "host": "127.0.0.1",
            "port": port,
            "security": "none",
            "sender": "metronome@example.org",
            "timeout": 5,
            **smtp_options,
        }
        notify["channels"]["ops"] = {"type": "email", "to": ["ops@example.org"]}
    if hook_url is not None:
        notify["channels"]["hook"] = {
            "type": "webhook",
            "url": hook_url,
            "secret": SECRET,
            "timeout": 5,
        }
    settings = settings_from_mapping({"notify": notify})
    return channels_from_settings(settings.notify, clock)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def receiver(clock: ManualClock) -> Iterator[WebhookReceiver]:
    with webhook_receiver(SECRET, now=clock.timestamp) as hook:
        yield hook


def outbox(es: Elasticsearch, prefix: str, clock: ManualClock, chans: dict[str, Channel]) -> Outbox:
    return Outbox(es, prefix, chans, clock, policy=POLICY)


def test_a_key_is_queued_once_per_channel(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    with smtp_server() as smtp:
        box = outbox(es, index_prefix, clock, channels(clock, smtp=smtp, hook_url=receiver.url))
        assert box.enqueue("alert:views-high:1", "hook", alert()) is True
        assert box.enqueue("alert:views-high:1", "hook", alert()) is False
        assert box.enqueue("alert:views-high:1", "ops", alert()) is True  # another channel
        # another process (its own Outbox) racing with the same key changes nothing
        other = outbox(es, index_prefix, clock, channels(clock, smtp=smtp, hook_url=receiver.url))
        assert other.enqueue("alert:views-high:1", "ops", alert()) is False
        report = box.deliver_due()
        assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
        assert box.deliver_due().sent == 0
        smtp.wait_for(1)
        assert len(smtp.received) == 1 and len(receiver.requests) == 1
    entry = box.entry("alert:views-high:1", "hook")
    assert entry is not None and entry.status == "sent" and entry.attempts == 1
    assert entry.sent_at == clock.now and entry.subject == "Views above 1000 (#1)"
    assert receiver.requests[0].signature_ok is True


def test_a_500_then_a_200_delivers_once(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    box = outbox(es, index_prefix, clock, channels(clock, hook_url=receiver.url))
    box.enqueue("alert:views-high:1", "hook", alert())
    receiver.fail_next(1, 500)
    report = box.deliver_due()
    assert (report.sent, report.retrying) == (0, 1)
    assert report.errors == (
        f"hook alert:views-high:1: 500 from http://127.0.0.1:{receiver.port}/…: "
        '{"error": "told to fail"}',
    )
    entry = box.entry("alert:views-high:1", "hook")
    assert entry is not None and entry.status == "pending" and entry.attempts == 1
    assert entry.due_at == clock.now + timedelta(seconds=60)
    assert entry.last_error is not None and entry.last_error.startswith("500 from")
    clock.advance(59)
    assert box.deliver_due().sent == 0  # not due yet
    clock.advance(1)
    assert box.deliver_due().sent == 1
    clock.advance(7 * 86400)
    assert box.deliver_due().sent == 0
    assert [r.status for r in receiver.requests] == [500, 200]
    assert {r.json()["key"] for r in receiver.requests} == {"alert:views-high:1"}
    sent = box.entry("alert:views-high:1", "hook")
    assert sent is not None and sent.status == "sent" and sent.attempts == 2


def test_a_4xx_fails_for_good_and_is_recorded(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    box = outbox(es, index_prefix, clock, channels(clock, hook_url=receiver.url))
    box.enqueue("alert:views-high:1", "hook", alert())
    receiver.answer = 404
    assert box.deliver_due().failed == 1
    clock.advance(86400)
    assert box.deliver_due() == box.deliver_due().__class__()  # nothing more to do
    assert len(receiver.requests) == 1
    entry = box.entry("alert:views-high:1", "hook")
    assert entry is not None and (entry.status, entry.failure) == ("failed", "refused")
    assert entry.failed_at is not None and entry.last_error is not None
    assert entry.last_error.startswith("404 from")
    assert [e.key for e in box.entries(status="failed")] == ["alert:views-high:1"]


def test_smtp_down_is_retried_with_backoff_and_arrives_once_after_restart(
    es: Elasticsearch, index_prefix: str, clock: ManualClock
) -> None:
    with smtp_server() as smtp:
        box = outbox(es, index_prefix, clock, channels(clock, smtp=smtp))
        smtp.stop()
        start = clock.now
        box.enqueue("alert:views-high:1", "ops", alert())
        due = []
        for _ in range(5):  # down: attempts at +0, +1, +3, +7, +15 minutes
            report = box.deliver_due()
            assert (report.sent, report.retrying) == (0, 1)
            assert "connection refused" in report.errors[0]
            entry = box.entry("alert:views-high:1", "ops")
            assert entry is not None and entry.due_at is not None
            due.append(entry.due_at - start)
            clock.now = entry.due_at - timedelta(seconds=1)
            assert box.deliver_due().retrying == 0  # a second early: not due
            clock.now = entry.due_at
        assert due == [timedelta(minutes=m) for m in (1, 3, 7, 15, 31)]
        smtp.start()  # back, on the same port
        assert box.deliver_due().sent == 1
        for _ in range(10):
            clock.advance(3600)
            assert box.deliver_due().sent == 0
        (received,) = smtp.received
    assert received.message["Subject"] == "Views above 1000 (#1)"
    entry = box.entry("alert:views-high:1", "ops")
    assert entry is not None and entry.status == "sent" and entry.attempts == 6


def test_a_failing_channel_is_tried_once_per_run(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    box = outbox(es, index_prefix, clock, channels(clock, hook_url=receiver.url))
    for n in range(3):
        box.enqueue(f"alert:rule-{n}:1", "hook", alert(n))
    receiver.fail_next(1, 503)
    report = box.deliver_due()
    assert (report.retrying, report.deferred, report.sent) == (1, 2, 0)
    assert len(receiver.requests) == 1
    assert box.deliver_due().sent == 2  # the deferred were still due
    clock.advance(60)
    assert box.deliver_due().sent == 1
    assert Counter(r.json()["key"] for r in receiver.requests if r.status == 200) == {
        f"alert:rule-{n}:1": 1 for n in range(3)
    }


def test_a_channel_down_for_three_days_is_given_up_and_recorded(
    es: Elasticsearch, index_prefix: str, clock: ManualClock
) -> None:
    box = outbox(es, index_prefix, clock, channels(clock, smtp_port=free_port()))
    start = clock.now
    box.enqueue("alert:views-high:1", "ops", alert())
    attempts = 0
    while True:
        report = box.deliver_due()
        attempts += report.retrying + report.failed
        if report.failed:
            break
        entry = box.entry("alert:views-high:1", "ops")
        assert entry is not None and entry.due_at is not None
        clock.now = entry.due_at
    entry = box.entry("alert:views-high:1", "ops")
    assert entry is not None and (entry.status, entry.failure) == ("failed", "expired")
    assert entry.attempts == attempts and 70 < attempts < 80
    assert timedelta(days=2, hours=23) <= clock.now - start <= timedelta(days=3)
    clock.advance(86400)
    assert box.deliver_due().sent == box.deliver_due().retrying == 0


def test_two_deliverers_at_once_send_each_message_once(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    with smtp_server() as smtp:
        boxes = [
            outbox(es, index_prefix, clock, channels(clock, smtp=smtp, hook_url=receiver.url))
            for _ in range(2)
        ]
        for n in range(30):
            boxes[n % 2].enqueue(f"alert:rule-{n}:1", "hook", alert(n))
            boxes[n % 2].enqueue(f"alert:rule-{n}:1", "ops", alert(n))
        reports = []
        for _ in range(3):  # three rounds of both at the same moment
            start = threading.Barrier(2)

            def deliver(box: Outbox, start: threading.Barrier = start) -> None:
                start.wait()
                reports.append(box.deliver_due())

            threads = [threading.Thread(target=deliver, args=(box,)) for box in boxes]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        smtp.wait_for(30)
        mails = Counter(str(m["Subject"]) for m in smtp.messages)
    hooks = Counter(r.json()["key"] for r in receiver.requests)
    assert sum(r.sent for r in reports) == 60
    assert sum(r.busy for r in reports) > 0  # they did compete for the same messages
    assert hooks == {f"alert:rule-{n}:1": 1 for n in range(30)}
    assert mails == {f"Views above 1000 (#{n})": 1 for n in range(30)}


class Crash(BaseException):
    """The process dies in the middle of sending (what kill -9 leaves behind)."""


class DiesWhileSending:
    kind = "webhook"

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> str:
        return "dies"

    def send(self, message: Message, *, key: str, to: tuple[str, ...] = ()) -> str:
        raise Crash


def test_a_dead_deliverers_claim_expires_and_another_sends_it(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    dying = outbox(es, index_prefix, clock, {"hook": DiesWhileSending("hook")})
    dying.enqueue("alert:views-high:1", "hook", alert())
    with pytest.raises(Crash):
        dying.deliver_due()
    entry = dying.entry("alert:views-high:1", "hook")
    assert entry is not None and entry.status == "sending"
    survivor = outbox(es, index_prefix, clock, channels(clock, hook_url=receiver.url))
    clock.advance(POLICY.claim_ttl - 1)
    assert survivor.deliver_due().sent == 0  # the claim still holds
    assert not receiver.requests
    clock.advance(1)
    assert survivor.deliver_due().sent == 1
    (request,) = receiver.requests
    assert request.json()["key"] == "alert:views-high:1"
    entry = survivor.entry("alert:views-high:1", "hook")
    assert entry is not None and entry.status == "sent" and entry.attempts == 2
    assert entry.last_error is not None and "may have been sent" in entry.last_error


class Buggy:
    kind = "webhook"

    def __init__(self, name: str) -> None:
        self.name = name

    def describe(self) -> str:
        return "buggy"

    def send(self, message: Message, *, key: str, to: tuple[str, ...] = ()) -> str:
        raise RuntimeError("https://hooks.example/secret-token")


def test_an_unexpected_error_is_retried_and_recorded_without_its_text(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    box = outbox(es, index_prefix, clock, {"hook": Buggy("hook")})
    box.enqueue("alert:views-high:1", "hook", alert())
    box.enqueue("alert:views-high:2", "hook", alert())
    report = box.deliver_due()
    assert (report.retrying, report.deferred) == (1, 1)
    entry = box.entry("alert:views-high:1", "hook")
    assert entry is not None and entry.status == "pending" and entry.last_error is not None
    assert entry.last_error.startswith("RuntimeError at ") and "test_notify_outbox.py" in (
        entry.last_error
    )
    assert "secret-token" not in caplog.text + repr(report)


def test_a_sent_message_keeps_its_record_without_the_attachment_bytes(
    es: Elasticsearch, index_prefix: str, clock: ManualClock
) -> None:
    pdf = b"%PDF-1.7 " + bytes(range(256)) * 100
    message = Message(
        "Digest", "See attached.", attachments=(Attachment("d.pdf", "application/pdf", pdf),)
    )
    with smtp_server() as smtp:
        box = outbox(es, index_prefix, clock, channels(clock, smtp=smtp))
        box.enqueue("digest:weekly:2026-10-19", "ops", message, to=("ann@example.org",))
        assert box.deliver_due().sent == 1
        (received,) = smtp.received
    assert received.rcpt_tos == ("ann@example.org",)
    (attached,) = received.message.iter_attachments()
    assert attached.get_content() == pdf
    stored = es.get(
        index=f"{index_prefix}-notifications", id=_id("digest:weekly:2026-10-19", "ops")
    )
    assert stored["_source"]["message"]["attachments"] == [
        {
            "filename": "d.pdf",
            "content_type": "application/pdf",
            "inline_id": None,
            "size": len(pdf),
        }
    ]


def test_unknown_channels_and_to_on_a_webhook_are_refused(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, receiver: WebhookReceiver
) -> None:
    box = outbox(es, index_prefix, clock, channels(clock, hook_url=receiver.url))
    with pytest.raises(NotifyError, match=r"channel 'pager': no such channel .*configured: hook"):
        box.enqueue("k", "pager", alert())
    with pytest.raises(NotifyError, match="'to' applies to e-mail channels only"):
        box.enqueue("k", "hook", alert(), to=("ann@example.org",))
    with pytest.raises(NotifyError, match="channel 'pager'"):
        box.send_now("pager", alert())
    with smtp_server() as smtp:
        mail = outbox(es, index_prefix, clock, channels(clock, smtp=smtp))
        for bad in ("ann@example.org\r\nBcc: all@example.org", "not an address"):
            with pytest.raises(NotifyError, match=r"^channel 'ops': .* is not an e-mail address"):
                mail.enqueue("k", "ops", alert(), to=(bad,))
            with pytest.raises(NotifyError, match="is not an e-mail address"):
                mail.send_now("ops", alert(), to=(bad,))
        assert not smtp.received


def test_send_now_needs_no_outbox_and_names_the_channel(clock: ManualClock) -> None:
    unreachable = Elasticsearch("http://127.0.0.1:9", request_timeout=1)
    with smtp_server() as smtp:
        box = Outbox(unreachable, "nowhere", channels(clock, smtp=smtp), clock)
        assert box.send_now("ops", alert()) == "accepted"
        smtp.stop()
        with pytest.raises(
            NotifyError, match=r"^channel 'ops': 127\.0\.0\.1:[0-9]+: connection refused"
        ):
            box.send_now("ops", alert())
        assert len(smtp.received) == 1


def test_no_secret_in_the_record_or_the_logs(
    es: Elasticsearch, index_prefix: str, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://user:url-pa55@127.0.0.1:{free_port()}/hooks/secret-token?key=query-s3cret"
    with (
        caplog.at_level(logging.DEBUG),
        smtp_server(security="none", auth=("metronome", "right-one")) as smtp,
    ):
        chans = channels(clock, smtp=smtp, hook_url=url, username="metronome", password=PASSWORD)
        box = outbox(es, index_prefix, clock, chans)
        box.enqueue("alert:views-high:1", "hook", alert())
        box.enqueue("alert:views-high:1", "ops", alert())
        report = box.deliver_due()
        assert report.retrying == 2
    recorded = [box.entry("alert:views-high:1", name) for name in ("hook", "ops")]
    shown = f"{report} {recorded} {caplog.text} {[r.args for r in caplog.records]}"
    assert "refused the login of 'metronome': 535" in shown
    for secret in (PASSWORD, SECRET, "url-pa55", "secret-token", "query-s3cret"):
        assert secret not in shown


def _id(key: str, channel: str) -> str:
    from metronome.notify.outbox import document_id  # noqa: PLC0415

    return document_id(key, channel)
