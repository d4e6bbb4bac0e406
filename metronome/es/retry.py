"""Retrying writes to Elasticsearch: which answers are worth another try, and how long to wait.

429 (too many requests) and 5xx pass; another 4xx is final (a mapping conflict, a malformed
value), except 409 on a create, which means the document is already there. Waits grow
exponentially with full jitter, up to a cap, so writers that failed together do not retry
together.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

BASE_BACKOFF = 0.1


def backoff_delay(attempt: int, cap: float, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff: uniform in [0, min(cap, base * 2^attempt))."""
    return rand() * min(cap, BASE_BACKOFF * 2.0 ** min(attempt, 30))


def is_retryable(status: int) -> bool:
    """429 or 5xx: the same request may succeed later."""
    return status == 429 or status >= 500


class Stopped(Exception):
    """A stop was requested while retrying; what was still waiting was not sent again."""


@dataclass(frozen=True)
class Retry:
    """How a write is retried: ``tries`` in all (None: until settled or stopped), waits of at
    most ``cap`` seconds. With a ``stop`` event, a stop is checked before every try and cuts a
    wait short (both raise ``Stopped``); without one, ``sleep`` waits."""

    cap: float
    tries: int | None = None
    stop: threading.Event | None = None
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def check(self) -> None:
        if self.stop is not None and self.stop.is_set():
            raise Stopped

    def wait(self, attempt: int) -> None:
        """Wait before try ``attempt + 2`` (``attempt`` counts the retries so far, from 0)."""
        delay = backoff_delay(attempt, self.cap)
        if self.stop is None:
            self.sleep(delay)
        elif self.stop.wait(delay):
            raise Stopped
