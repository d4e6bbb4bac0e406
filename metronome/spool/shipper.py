"""The shipper: spool segments -> Elasticsearch ``_bulk`` -> checkpoint.

At-least-once by construction (the checkpoint moves only past records Elasticsearch
confirmed), exactly-once in the index by ``op_type=create`` with each record's deterministic
id (a 409 means "already stored"). Per item:

- created or 409: done;
- 429 or 5xx: retried with capped exponential backoff and full jitter;
- a refused index creation for want of shards (``cluster.max_shards_per_node``): retried the
  same way, the refusal logged as it is (the documents are valid: they wait in the spool);
- any other 4xx (mapping conflict, malformed value): stored as a dead letter.

Each record goes to the index of its UTC day at its stream's period (``storage``).

A connection error or a refused ``_bulk`` retries the whole batch the same way; the shipper
retries until Elasticsearch answers or a stop is requested (``metronome.es.bulk``'s
``bulk_until_settled``). Exactly one shipper runs per spool directory (an ``flock`` on
``shipper.lock``).
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from metronome import metrics
from metronome.config import ShipperSettings, StorageSettings
from metronome.es.bulk import (
    BulkAction,
    ItemResult,
    StoreUnavailable,
    bulk_create,
    bulk_until_settled,
    passes,
)
from metronome.es.naming import index_for_day
from metronome.es.retry import Retry, Stopped
from metronome.es.shards import ShardLimitRefusal, shard_limit_refusal
from metronome.spool import framing
from metronome.spool.checkpoint import Checkpoints
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.entry import Entry, SpooledEntry, decode_entry
from metronome.spool.reader import Segment, is_sealed, list_segments, read_chunk, remove_segment

log = logging.getLogger(__name__)

LOCK_FILE = "shipper.lock"


class ShipperAlreadyRunning(RuntimeError):
    pass


@dataclass(frozen=True)
class Pending:
    entry: SpooledEntry
    index: str


class Shipper:
    def __init__(
        self,
        spool_dir: Path,
        client: Elasticsearch,
        index_prefix: str,
        settings: ShipperSettings,
        *,
        stop: threading.Event | None = None,
        fsync: bool = True,
        storage: StorageSettings | None = None,
    ) -> None:
        self.spool_dir = spool_dir
        self.storage = storage or StorageSettings()  # each stream's index period
        self.client = client
        self.index_prefix = index_prefix
        self.settings = settings
        self.stop = stop or threading.Event()
        # Until Elasticsearch answers, or a stop is requested (``Stopped``: nothing is
        # checkpointed; the records are sent again by the next pass or the next shipper).
        self.retry = Retry(cap=settings.max_backoff, stop=self.stop)
        self.checkpoints = Checkpoints(spool_dir, fsync=fsync)
        self.dead_letters = DeadLetterStore(client, index_prefix, self.storage)
        self._lock_fd: int | None = None
        self._pool: ThreadPoolExecutor | None = None  # made when two segments wait at once
        # The last refusal for want of shards, told with the next retry (then forgotten).
        self._refusal: ShardLimitRefusal | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    def acquire(self) -> None:
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.spool_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ShipperAlreadyRunning(
                f"another shipper is already shipping {self.spool_dir}"
            ) from None
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def run_forever(self) -> None:
        self.acquire()
        try:
            while not self.stop.is_set():
                try:
                    shipped = self.run_once()
                except Stopped:
                    break
                if shipped == 0:
                    self.stop.wait(self.settings.poll_interval)
                elif shipped < self.settings.batch_docs and self.settings.linger:
                    self.stop.wait(self.settings.linger)  # let the next batch fill up
        finally:
            self.close()
            self.release()

    # --- one pass ----------------------------------------------------------------------------

    def run_once(self) -> int:
        """One pass: at most one batch from every segment, so a busy writer's segment cannot
        keep a quiet writer's hits waiting; up to ``concurrency`` segments at once, so
        Elasticsearch indexes one batch while the next is read and sent. Returns how many
        records were handled."""
        segments = list_segments(self.spool_dir)
        if len(segments) <= 1 or self.settings.concurrency <= 1:
            return sum(self._ship_segment(segment) for segment in segments)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="ship")
        return sum(self._pool.map(self._ship_segment, segments))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _ship_segment(self, segment: Segment) -> int:
        sealed = is_sealed(segment)  # before reading: a sealed segment cannot grow afterwards
        offset = self.checkpoints.get(segment.name)
        try:
            chunk = read_chunk(segment, offset, self.settings.batch_docs, self.settings.batch_bytes)
        except FileNotFoundError:
            self.checkpoints.forget(segment.name)
            return 0
        if chunk.records:
            self._ship_records(chunk.records)
            offset = chunk.records[-1].end
            self.checkpoints.advance(segment.name, offset)
        finished = offset == chunk.size and chunk.tail is framing.Tail.END
        if sealed and (finished or not chunk.records):
            if not finished:
                torn = chunk.size - offset
                metrics.SPOOL_TORN_BYTES.inc(torn)
                log.warning("skipped %d torn bytes at the end of %s", torn, segment.name)
            remove_segment(segment)
            self.checkpoints.forget(segment.name)
        return len(chunk.records)

    def _ship_records(self, records: list[framing.Record]) -> None:
        pending: list[Pending] = []
        for record in records:
            try:
                entry = decode_entry(record.payload)
            except (ValueError, KeyError, TypeError) as error:
                # Checksummed yet unreadable: only a bug writes this. Keep the shipper going.
                metrics.SPOOL_UNREADABLE.inc()
                log.error("skipped an unreadable spool record at %d: %s", record.start, error)
                continue
            period = self.storage.period_of(entry.stream)
            index = index_for_day(self.index_prefix, entry.stream, entry.day, period)
            pending.append(Pending(entry, index))
        results = bulk_until_settled(
            [BulkAction(p.index, p.entry.id, p.entry.doc_json) for p in pending],
            self._bulk,
            self.retry,
            again=_again,
            on_retry=self._retrying,
        )
        invalid: list[tuple[Entry, str, dict[str, Any]]] = []
        shipped: Counter[str] = Counter()
        for item, result in zip(pending, results, strict=True):
            if result.stored:
                shipped[item.entry.stream] += 1
            else:
                invalid.append((item.entry.to_entry(), item.index, result.error or {}))
        for stream, count in shipped.items():
            metrics.SHIPPED.labels(stream).inc(count)
        if invalid:
            self._dead_letter(invalid)

    def _dead_letter(self, failures: list[tuple[Entry, str, dict[str, Any]]]) -> None:
        # Acknowledged records are never lost: a letter is sent again until it is stored.
        bulk_until_settled(
            self.dead_letters.actions(failures),
            self._bulk,
            self.retry,
            again=lambda result: not result.stored,
            on_retry=self._retrying_letters,
        )
        metrics.DEAD_LETTERED.inc(len(failures))
        for entry, index, error in failures:
            log.warning("dead-lettered %s/%s: %s", index, entry.id, error.get("reason", error))

    def _bulk(self, actions: list[BulkAction]) -> list[ItemResult]:
        started = time.perf_counter()
        results = bulk_create(self.client, actions)
        metrics.BULK_SECONDS.observe(time.perf_counter() - started)
        for action, result in zip(actions, results, strict=True):
            if result.status == 400 and result.error is not None:
                refusal = shard_limit_refusal(result.error, action.index)
                if refusal is not None:
                    self._refusal = refusal
        return results

    def _told_refusal(self) -> bool:
        """Log the last refusal for want of shards, if any; whether there was one."""
        refusal, self._refusal = self._refusal, None
        if refusal is None:
            return False
        metrics.SHIP_SHARD_LIMIT.inc()
        log.error("%s", refusal.message())
        return True

    def _retrying(self, count: int, failure: StoreUnavailable | None) -> None:
        metrics.SHIP_RETRIES.inc(count)
        if self._told_refusal():
            return
        if failure is not None:
            log.warning("Elasticsearch unavailable (%s); retrying", failure)

    def _retrying_letters(self, count: int, failure: StoreUnavailable | None) -> None:
        if self._told_refusal():
            return
        if failure is None:
            log.error("dead-letter store refused %d documents; retrying", count)
        else:
            metrics.SHIP_RETRIES.inc(count)
            log.warning("Elasticsearch unavailable (%s); retrying", failure)


def _again(result: ItemResult) -> bool:
    """Sent again: a 429 or 5xx, and a refusal for want of shards (the documents are valid;
    they wait in the spool until the cluster has room for their index)."""
    return passes(result) or (
        result.status == 400 and shard_limit_refusal(result.error, "") is not None
    )
