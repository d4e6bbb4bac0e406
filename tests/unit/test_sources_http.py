"""The sources' HTTP policy: when to retry, how long to wait, rate limits honoured."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest
from flask import Flask, Response

from metronome.config import settings_from_mapping
from metronome.sources.http import (
    HttpClient,
    RateLimited,
    RemoteError,
    ResponseTooLarge,
    RetryPolicy,
    wait_for,
)
from metronome.sources.runner import services_from_settings
from tests.fakes.server import serving

POLICY = RetryPolicy(attempts=4, backoff=1.0, max_backoff=8.0, max_wait=60.0)
NOW = 1_700_000_000.0


def test_final_answers_are_not_retried() -> None:
    for status in (400, 401, 404, 422):
        assert wait_for(status, {}, 1, POLICY, now=NOW) is None
    assert wait_for(403, {"X-RateLimit-Remaining": "12"}, 1, POLICY, now=NOW) is None


def test_retry_after_in_seconds_or_as_a_date_wins() -> None:
    assert wait_for(429, {"Retry-After": "7"}, 1, POLICY, now=NOW) == 7.0
    later = format_datetime(datetime.fromtimestamp(NOW + 30, UTC), usegmt=True)
    assert wait_for(503, {"Retry-After": later}, 1, POLICY, now=NOW) == pytest.approx(30.0)
    # GitHub's secondary rate limit: a 403 with Retry-After
    assert wait_for(403, {"Retry-After": "60"}, 1, POLICY, now=NOW) == 60.0


def test_an_exhausted_primary_limit_waits_until_its_reset() -> None:
    headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 42)}
    assert wait_for(403, headers, 1, POLICY, now=NOW) == pytest.approx(43.0)
    assert wait_for(429, headers, 9, POLICY, now=NOW) == pytest.approx(43.0)


def test_backoff_doubles_with_jitter_up_to_the_cap_then_gives_up() -> None:
    low = [wait_for(503, {}, n, POLICY, now=NOW, rand=lambda: 0.0) for n in (1, 2, 3)]
    high = [wait_for(503, {}, n, POLICY, now=NOW, rand=lambda: 1.0) for n in (1, 2, 3)]
    assert low == [0.5, 1.0, 2.0]
    assert high == [1.0, 2.0, 4.0]
    capped = RetryPolicy(attempts=10, backoff=1.0, max_backoff=8.0)
    assert wait_for(500, {}, 9, capped, now=NOW, rand=lambda: 1.0) == 8.0
    assert wait_for(503, {}, 4, POLICY, now=NOW) is None  # the fourth try was the last


@pytest.fixture
def flaky() -> Iterator[tuple[str, list[int]]]:
    """Answers the queued statuses in turn, then 200."""
    queue: list[int] = []
    app = Flask(__name__)

    @app.get("/data")
    def data() -> Response:
        status = queue.pop(0) if queue else 200
        headers = {"Retry-After": "600"} if status == 429 else {}
        return Response(
            '{"ok": true}', status=status, headers=headers, content_type="application/json"
        )

    with serving(app) as url:
        yield url, queue


def test_the_client_retries_until_an_answer_and_sleeps_the_backoff(
    flaky: tuple[str, list[int]],
) -> None:
    url, queue = flaky
    queue.extend([503, 502])
    slept: list[float] = []
    client = HttpClient(RetryPolicy(attempts=3, backoff=0.5), sleep=slept.append)
    assert client.get(f"{url}/data").json() == {"ok": True}
    assert client.requests_made == 3 and len(slept) == 2


def test_the_client_stops_with_the_remote_error_when_tries_run_out(
    flaky: tuple[str, list[int]],
) -> None:
    url, queue = flaky
    queue.extend([500, 500, 500])
    client = HttpClient(RetryPolicy(attempts=2), sleep=lambda seconds: None)
    with pytest.raises(RemoteError) as raised:
        client.get(f"{url}/data")
    assert raised.value.status == 500 and client.requests_made == 2


def test_a_wait_longer_than_a_run_may_sleep_becomes_rate_limited(
    flaky: tuple[str, list[int]],
) -> None:
    url, queue = flaky
    queue.append(429)  # Retry-After: 600 > max_wait
    client = HttpClient(RetryPolicy(max_wait=60), sleep=lambda seconds: None, clock=lambda: NOW)
    with pytest.raises(RateLimited) as raised:
        client.get(f"{url}/data")
    assert raised.value.until == datetime.fromtimestamp(NOW + 600, UTC)


def test_no_answer_at_all_is_a_remote_error_naming_the_url() -> None:
    client = HttpClient(RetryPolicy(attempts=2, timeout=1), sleep=lambda seconds: None)
    with pytest.raises(RemoteError) as raised:
        client.get("http://127.0.0.1:9/nothing-listens-here")
    assert str(raised.value) == (
        "http://127.0.0.1:9/nothing-listens-here: no answer after 2 tries (connection refused)"
    )
    assert client.requests_made == 2


# --- the size of an answer ------------------------------------------------------------------

KiB = 1024
LIMIT = 64 * KiB


@pytest.fixture
def large() -> Iterator[str]:
    """Answers larger than LIMIT: declared, streamed without a length, gzipped, and an error."""
    app = Flask(__name__)
    piece = b'{"pad": "' + b"x" * (8 * KiB) + b'"},'

    @app.get("/declared")
    def declared() -> Response:
        return Response(b"[" + piece * 20 + b"{}]", content_type="application/json")

    @app.get("/streamed")
    def streamed() -> Response:
        def chunks() -> Iterator[bytes]:
            yield b"["
            for _ in range(512):  # 4 MiB, sent without Content-Length
                yield piece
            yield b"{}]"

        return Response(chunks(), content_type="application/json")

    @app.get("/bomb")
    def bomb() -> Response:  # ~10 KiB on the wire, 10 MiB once inflated
        body = gzip.compress(b"[" + b"0," * (5 * 1024 * KiB) + b"0]", compresslevel=9)
        headers = {"Content-Encoding": "gzip"}
        return Response(body, content_type="application/json", headers=headers)

    @app.get("/small")
    def small() -> Response:
        return Response(b"[" + piece * 4 + b"{}]", content_type="application/json")

    @app.get("/failing")
    def failing() -> Response:
        return Response(b"e" * (1024 * KiB), status=400, content_type="text/plain")

    with serving(app) as url:
        yield url


@pytest.mark.parametrize("path", ["/declared", "/streamed", "/bomb"])
def test_an_answer_over_the_limit_ends_the_run_naming_the_limit(large: str, path: str) -> None:
    client = HttpClient(RetryPolicy(max_response_bytes=LIMIT), sleep=lambda seconds: None)
    with pytest.raises(ResponseTooLarge) as raised:
        client.get(f"{large}{path}")
    assert f"larger than max_response_bytes ({LIMIT} bytes)" in str(raised.value)
    assert "scheduler.max_response_bytes" in str(raised.value)
    assert client.requests_made == 1  # not retried: the next try would be as big


def test_a_source_may_set_its_own_limit_for_a_request(large: str) -> None:
    client = HttpClient(RetryPolicy(max_response_bytes=LIMIT), sleep=lambda seconds: None)
    assert len(client.get(f"{large}/declared", max_bytes=4 * LIMIT).json()) == 21
    with pytest.raises(ResponseTooLarge, match="the source's max_response_bytes"):
        client.get(f"{large}/small", max_bytes=8 * KiB)


def test_an_answer_within_the_limit_reads_as_usual(large: str) -> None:
    client = HttpClient(RetryPolicy(max_response_bytes=LIMIT))
    response = client.get(f"{large}/small")
    assert len(response.json()) == 5 and len(response.content) < LIMIT


def test_an_error_answer_is_read_only_as_far_as_its_message(large: str) -> None:
    client = HttpClient(RetryPolicy(max_response_bytes=LIMIT), sleep=lambda seconds: None)
    with pytest.raises(RemoteError) as raised:
        client.get(f"{large}/failing")
    assert raised.value.status == 400 and len(raised.value.body) == 64 * KiB


def test_the_scheduler_setting_is_the_limit_of_every_source() -> None:
    settings = settings_from_mapping(
        {
            "elasticsearch": {"url": "http://127.0.0.1:9"},
            "scheduler": {"max_response_bytes": 123_456},
        }
    )
    assert services_from_settings(settings, "test").policy.max_response_bytes == 123_456
    assert RetryPolicy().max_response_bytes == 16 * 1024 * KiB
