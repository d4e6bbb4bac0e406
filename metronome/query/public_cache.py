"""A short-lived cache of public ``GET /tock`` answers, so a flood of one anonymous query
runs one aggregation (per web worker) instead of one per request.

Only answers to requests without a key are cached (``public: true`` sites); keyed reads
always search. An answer is kept ``ttl`` seconds, keyed by everything that shapes it (site,
id, format and the query parameters, in a normalized order), within a bound on entries and
bytes: the oldest go first. Concurrent misses of one key wait for the first to finish
("single flight"), so an expired popular answer is computed once, not once per thread.
Errors are not cached.

    public_tock_cache:
      ttl: 10              # seconds; 0 turns the cache off
      max_entries: 1000    # per web worker
      max_bytes: 16777216  # per web worker, bodies counted
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass

from metronome.config import PublicCacheSettings

WAIT_FOR_LEADER = 30.0  # seconds a follower waits for the first request's answer at most


@dataclass(frozen=True)
class Answer:
    """What is kept of a response: enough to send it again."""

    body: bytes
    mimetype: str
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class _Entry:
    answer: Answer
    expires: float


class _Flight:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.answer: Answer | None = None


class PublicCache:
    def __init__(
        self, settings: PublicCacheSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.entries: dict[Hashable, _Entry] = {}  # insertion order: oldest first
        self.bytes = 0
        self.flights: dict[Hashable, _Flight] = {}
        self.lock = threading.Lock()

    def get_or_compute(self, key: Hashable, compute: Callable[[], Answer]) -> tuple[Answer, bool]:
        """The cached answer for ``key`` (and ``True``), else ``compute()``'s (and ``False``),
        kept for the next requests. ``compute`` raising keeps nothing."""
        if self.settings.ttl <= 0:
            return compute(), False
        with self.lock:
            entry = self.entries.get(key)
            if entry is not None and entry.expires > self.clock():
                return entry.answer, True
            flight = self.flights.get(key)
            leader = flight is None
            if flight is None:
                flight = self.flights[key] = _Flight()
        if not leader:
            flight.done.wait(WAIT_FOR_LEADER)
            if flight.answer is not None:
                return flight.answer, True
            return compute(), False  # the first one failed: its error is not shared
        try:
            answer = compute()
            flight.answer = answer
            with self.lock:
                self._keep(key, answer)
            return answer, False
        finally:
            with self.lock:
                del self.flights[key]
            flight.done.set()

    def _keep(self, key: Hashable, answer: Answer) -> None:
        size = len(answer.body)
        if size > self.settings.max_bytes:
            return
        self._drop(key)
        now = self.clock()
        for old in [k for k, e in self.entries.items() if e.expires <= now]:
            self._drop(old)
        while self.entries and (
            len(self.entries) >= self.settings.max_entries
            or self.bytes + size > self.settings.max_bytes
        ):
            self._drop(next(iter(self.entries)))
        self.entries[key] = _Entry(answer, now + self.settings.ttl)
        self.bytes += size

    def _drop(self, key: Hashable) -> None:
        entry = self.entries.pop(key, None)
        if entry is not None:
            self.bytes -= len(entry.answer.body)


def cache_key(site: str, item_id: str, fmt: str, args: Iterable[tuple[str, str]]) -> Hashable:
    """Everything that shapes a public answer; parameters in sorted order, so ``?a=1&b=2``
    and ``?b=2&a=1`` share an entry."""
    return (site, item_id, fmt, tuple(sorted(args)))
