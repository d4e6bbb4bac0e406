"""The HTTP client every source uses: timeouts, retries with capped backoff and jitter, and
the remote's rate limits honoured (``Retry-After``, ``X-RateLimit-Remaining: 0`` with
``X-RateLimit-Reset``, 429 quota errors).

What to wait after an answer is decided by ``wait_for`` (pure); the client only sleeps. A
wait longer than ``max_wait`` is not slept through: the run stops with ``RateLimited`` (saying
until when), its cursor intact, and the next scheduled run carries on.

Every answer is read in chunks, after decompression, within a size limit
(``max_response_bytes``: the ``scheduler:`` setting, or a source's own for one request): a
larger answer ends the run with ``ResponseTooLarge`` without more than the limit ever being
held. An error answer is read up to ``ERROR_BODY_BYTES`` only, for its message.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from metronome.sources.errors import SourceError

RETRYABLE = frozenset({408, 429, 500, 502, 503, 504})
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024  # of an error answer: enough for any API's message
CHUNK_BYTES = 64 * 1024
USER_AGENT = "Metronome-Ingester/1 (+https://github.com/metronome-analytics/metronome)"


class RemoteError(SourceError):
    """The remote answered with an error that retrying will not fix (or retries ran out)."""

    def __init__(self, status: int, url: str, message: str, body: str = "") -> None:
        # status 0: no answer at all (connection refused, unknown host, timeout)
        super().__init__(f"{status} from {url}: {message}" if status else f"{url}: {message}")
        self.status = status
        self.url = url
        self.body = body  # the answer's text (up to 64 KiB), for sources that parse errors


class ResponseTooLarge(SourceError):
    """An answer larger than the limit: the run ends rather than hold it."""

    def __init__(self, url: str, limit: int, setting: str) -> None:
        super().__init__(
            f"the answer from {url} is larger than max_response_bytes ({limit} bytes); raise "
            f"{setting} if the API's answers really are that big, or ask for smaller pages"
        )


class RateLimited(SourceError):
    """The remote asked us to wait longer than one run may; retry after ``until``."""

    def __init__(self, url: str, until: datetime) -> None:
        super().__init__(f"rate limited by {url} until {until.isoformat(timespec='seconds')}")
        self.until = until


@dataclass(frozen=True)
class RetryPolicy:
    timeout: float = 30.0  # seconds per request (connect and read)
    attempts: int = 5  # tries per request, the first included
    backoff: float = 1.0  # seconds before the first retry; doubles each time
    max_backoff: float = 60.0
    max_wait: float = 120.0  # longest rate-limit wait slept through within a run
    max_response_bytes: int = MAX_RESPONSE_BYTES  # of one answer, once decompressed


def wait_for(
    status: int,
    headers: Mapping[str, str],
    attempt: int,
    policy: RetryPolicy,
    *,
    now: float,
    rand: Callable[[], float] = random.random,
) -> float | None:
    """Seconds to wait before trying again after this answer, or None when it is final.

    ``attempt`` counts from 1 (the request just made). A ``Retry-After`` (seconds or an HTTP
    date) wins; then GitHub's primary limit (remaining 0: wait until ``X-RateLimit-Reset``);
    then exponential backoff with full jitter for 429/5xx and a 403 that is a secondary limit.
    """
    retry_after = _retry_after(headers.get("Retry-After"), now)
    remaining = headers.get("X-RateLimit-Remaining")
    limited = status == 429 or (status == 403 and (remaining == "0" or retry_after is not None))
    if status not in RETRYABLE and not limited:
        return None
    if retry_after is not None:
        return retry_after
    if remaining == "0" and (reset := _number(headers.get("X-RateLimit-Reset"))) is not None:
        return max(0.0, reset - now) + 1.0  # the window reopens at `reset`; a second's margin
    if attempt >= policy.attempts:
        return None
    ceiling = min(policy.max_backoff, policy.backoff * 2.0 ** (attempt - 1))
    return float(ceiling / 2 + rand() * ceiling / 2)


def _retry_after(value: str | None, now: float) -> float | None:
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(0.0, seconds)
    try:
        moment = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, moment.timestamp() - now)


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class HttpClient:
    """``requests`` with the policy above. ``sleep`` and ``clock`` are injectable for tests."""

    def __init__(
        self,
        policy: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self.session = session or requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.headers.update(headers or {})
        self.sleep = sleep
        self.clock = clock
        self.requests_made = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: frozenset[int] = frozenset({200}),
        max_bytes: int | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """Send until an answer in ``ok`` (returned, its body read within ``max_bytes``, by
        default the policy's ``max_response_bytes``) or a final error (raised)."""
        limit = max_bytes or self.policy.max_response_bytes
        setting = "the source's max_response_bytes" if max_bytes else "scheduler.max_response_bytes"
        kwargs["stream"] = True  # read below, within the limit
        attempt = 0
        while True:
            attempt += 1
            self.requests_made += 1
            try:
                response = self.session.request(method, url, timeout=self.policy.timeout, **kwargs)
                if response.status_code in ok:
                    read_within(response, limit, lambda: ResponseTooLarge(url, limit, setting))
                    return response
                read_within(response, ERROR_BODY_BYTES, None)
            except requests.RequestException as error:
                if attempt >= self.policy.attempts:
                    reason = no_answer_reason(error, self.policy.timeout)
                    raise RemoteError(
                        0, url, f"no answer after {attempt} tries ({reason})"
                    ) from None
                self.sleep(wait_for(503, {}, attempt, self.policy, now=self.clock()) or 0.0)
                continue
            delay = wait_for(
                response.status_code, response.headers, attempt, self.policy, now=self.clock()
            )
            if delay is None:
                raise _remote_error(response, url)
            if delay > self.policy.max_wait:
                until = datetime.fromtimestamp(self.clock() + delay, UTC)
                raise RateLimited(url, until)
            if attempt >= self.policy.attempts + 2:  # rate-limit waits get a little extra room
                raise _remote_error(response, url)
            self.sleep(delay)

    def count_request(self) -> None:
        """Count a request a source sent another way (boto3...), so run reports stay honest."""
        self.requests_made += 1

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.session.close()


def read_within(
    response: requests.Response, limit: int, too_big: Callable[[], Exception] | None
) -> None:
    """Read the body in chunks into the response (``.content``, ``.text``, ``.json()`` then
    work as usual), never holding more than ``limit`` bytes: past it, raise ``too_big()``, or
    with no ``too_big`` keep the first ``limit`` bytes (an error answer's message)."""
    try:
        declared = int(response.headers.get("Content-Length", ""))
    except ValueError:
        declared = 0
    if declared > limit and too_big is not None:
        response.close()
        raise too_big()
    chunks: list[bytes] = []
    total = 0
    try:
        for chunk in response.iter_content(CHUNK_BYTES):
            total += len(chunk)
            if total > limit:
                if too_big is not None:
                    raise too_big()
                chunks.append(chunk[: len(chunk) - (total - limit)])
                break
            chunks.append(chunk)
    finally:
        response.close()
    response._content = b"".join(chunks)


def no_answer_reason(error: requests.RequestException, timeout: float) -> str:
    """Why a request got no answer, in a few words (requests' own text runs to lines)."""
    text = str(error)
    if isinstance(error, requests.Timeout):
        return f"timed out after {timeout:g}s"
    for clue, reason in (
        ("Name or service not known", "host name not found"),
        ("Failed to resolve", "host name not found"),
        ("Temporary failure in name resolution", "host name not found"),
        ("Connection refused", "connection refused"),
        ("No route to host", "no route to host"),
        ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
        ("Connection reset", "connection reset"),
        ("RemoteDisconnected", "connection closed without an answer"),
    ):
        if clue in text:
            return reason
    return text[:200]


def _remote_error(response: requests.Response, url: str) -> RemoteError:
    return RemoteError(response.status_code, url, _excerpt(response), response.text[:65536])


def _excerpt(response: requests.Response, limit: int = 300) -> str:
    text = response.text.strip().replace("\n", " ")
    return text[:limit] or response.reason or "no body"
