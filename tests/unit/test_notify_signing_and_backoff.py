"""The webhook signature and the outbox's backoff (pure)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from metronome.notify.backoff import RetryPolicy, next_attempt, retry_delay
from metronome.notify.redact import scrub, shown_url
from metronome.notify.signing import signature, signature_headers, verify

SECRET = "whsec_0123456789abcdef"
BODY = b'{"subject":"hi"}'


def test_the_signature_is_the_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert signature(SECRET, 1_700_000_000, BODY) == f"sha256={expected}"
    assert signature_headers(SECRET, 1_700_000_000, BODY) == {
        "X-Metronome-Timestamp": "1700000000",
        "X-Metronome-Signature": f"sha256={expected}",
    }


def test_verify_refuses_another_body_timestamp_or_an_old_one() -> None:
    given = signature(SECRET, 1_700_000_000, BODY)
    assert verify(SECRET, "1700000000", BODY, given, now=1_700_000_100)
    assert not verify(SECRET, "1700000000", BODY + b" ", given, now=1_700_000_100)
    assert not verify(SECRET, "1700000001", BODY, given, now=1_700_000_100)
    assert not verify("another-secret-of-16", "1700000000", BODY, given, now=1_700_000_100)
    assert not verify(SECRET, "1700000000", BODY, given, now=1_700_000_000 + 301)


def test_the_backoff_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy(first_retry=60, max_retry=3600)
    delays = [retry_delay(attempt, policy) for attempt in range(1, 10)]
    assert delays == [60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert retry_delay(10_000, policy) == 3600  # no overflow however many attempts


def test_a_message_is_given_up_once_its_next_try_would_pass_the_limit() -> None:
    policy = RetryPolicy(first_retry=60, max_retry=3600, give_up_after=3 * 86400)
    created = datetime(2026, 10, 1, tzinfo=UTC)
    at, attempts, tries = created, 0, []
    while True:
        attempts += 1
        next_at = next_attempt(created, at, attempts, policy)
        if next_at is None:
            break
        tries.append(next_at)
        at = next_at
    assert tries[:3] == [created + timedelta(seconds=s) for s in (60, 180, 420)]
    assert at - created <= timedelta(days=3)
    assert at + timedelta(hours=1) - created > timedelta(days=3)
    assert 70 < len(tries) < 80  # an hour apart once the cap is reached, for three days


def test_a_shown_url_keeps_only_scheme_host_and_port() -> None:
    assert shown_url("https://hooks.slack.com/services/T0/B0/XyZ") == "https://hooks.slack.com/…"
    assert shown_url("http://user:pa55@sms.example:8080/send?key=k3y") == (
        "http://sms.example:8080/…"
    )
    assert shown_url("https://hooks.example") == "https://hooks.example"
    assert shown_url("http://[::1]:9000/x") == "http://[::1]:9000/…"
    assert scrub("login pa55 refused", ("pa55", None, "")) == "login *** refused"
