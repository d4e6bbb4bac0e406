"""Token buckets by key: ``rate`` tokens a second up to ``burst``; a request takes one.

Pure: the caller passes the time. Thread-safe: gunicorn's threads share one ``Buckets``.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Hashable

from metronome.config import Limit


class Buckets:
    """One bucket per key, at most ``max_keys`` of them.

    A bucket left alone for ``burst / rate`` seconds is full again, the same as no bucket:
    when the table is full those are forgotten first, then (a flood of new keys) the oldest
    half, which at worst lets their next requests start from a full bucket.
    """

    def __init__(self, limit: Limit, max_keys: int) -> None:
        self.rate = limit.rate
        self.burst = limit.burst
        self.refill_time = limit.burst / limit.rate if limit.rate else 0.0
        self.max_keys = max_keys
        self.state: dict[Hashable, list[float]] = {}  # key -> [tokens, time of last update]
        self.lock = threading.Lock()

    def take(self, key: Hashable, now: float) -> float:
        """Take a token for ``key``: 0.0 if it had one, else the seconds until it has."""
        if not self.rate:
            return 0.0
        with self.lock:
            bucket = self.state.get(key)
            if bucket is None:
                if len(self.state) >= self.max_keys:
                    self._forget(now)
                self.state[key] = [self.burst - 1, now]
                return 0.0
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
            if tokens >= 1:
                bucket[0] = tokens - 1
                return 0.0
            bucket[0] = tokens
            return (1 - tokens) / self.rate

    def wait(self, key: Hashable, now: float) -> float:
        """Like ``take`` without taking: 0.0 if ``key`` has a token now, else the seconds
        until it has (for limits counted after the fact, such as failed sign-ins)."""
        if not self.rate:
            return 0.0
        with self.lock:
            bucket = self.state.get(key)
            if bucket is None:
                return 0.0
            tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            return 0.0 if tokens >= 1 else (1 - tokens) / self.rate

    def _forget(self, now: float) -> None:
        full_since = now - self.refill_time
        self.state = {key: b for key, b in self.state.items() if b[1] > full_since}
        if len(self.state) >= self.max_keys:
            keys = list(self.state)
            for key in keys[: len(keys) // 2 + 1]:  # oldest first: insertion order
                del self.state[key]


def retry_after(wait: float) -> int:
    """``Retry-After`` in whole seconds, at least 1 (0 would invite an immediate retry)."""
    return max(1, math.ceil(wait))
