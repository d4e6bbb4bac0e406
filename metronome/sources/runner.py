"""The run loop every source shares: fetch a page, store it, then advance the cursor.

    lease -> load cursor -> for page in source.fetch(cursor):
                 bulk (deterministic ids, op_type=create or external version)
                 -> dead-letter what Elasticsearch refuses as invalid
                 -> save the page's cursor (only now) -> renew the lease
          -> record success or failure -> release the lease

A crash anywhere leaves the cursor at the last page Elasticsearch confirmed; the next run
reads from there, and what it reads again is stored once because the ids repeat. A failure is
recorded on the source's state (``last_error``, ``consecutive_failures``) and reported, never
raised: one failing source must not stop the others.
"""

from __future__ import annotations

import copy
import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome import metrics
from metronome.config import Settings, StorageSettings
from metronome.enrich.geo import Geo, geo_lookup
from metronome.es.bulk import (
    BulkAction,
    ItemResult,
    StoreUnavailable,
    VersionedDelete,
    bulk_create,
    bulk_delete,
    bulk_until_settled,
)
from metronome.es.client import build_client
from metronome.es.naming import index_for
from metronome.es.retry import Retry
from metronome.es.shards import ShardLimitReached, shard_limit_refusal
from metronome.sources.base import (
    Document,
    FetchContext,
    Progress,
    Removal,
    Source,
    SourceError,
    Window,
    document_id,
    iso,
)
from metronome.sources.http import HttpClient, RateLimited, RetryPolicy
from metronome.sources.lease import Heartbeat, LeaseStore
from metronome.sources.store import LastError, StateConflict, StateStore, Versioned
from metronome.spool.deadletters import DeadLetterStore
from metronome.spool.entry import Entry

log = logging.getLogger(__name__)
BULK_ATTEMPTS = 5
BULK_BACKOFF_CAP = 10.0


class Interrupted(Exception):
    """A stop was requested (SIGTERM, Ctrl-C); the run ends after the page it was storing."""


@dataclass
class RunServices:
    """What a run needs from outside; built once per process (``from_settings``) or by tests."""

    es: Elasticsearch
    index_prefix: str
    holder: str  # this process, as lease holder
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    lease_ttl: float = 30.0  # a live run renews its source lease every third of this (heartbeat)
    progress: Progress = field(default=lambda message: None)
    stop: threading.Event = field(default_factory=threading.Event)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    sleep: Callable[[float], None] = time.sleep
    geo: Geo | None = None  # the location lookups sources with client addresses use
    storage: StorageSettings = field(default_factory=StorageSettings)  # index periods

    @property
    def states(self) -> StateStore:
        return StateStore(self.es, self.index_prefix)

    @property
    def leases(self) -> LeaseStore:
        return LeaseStore(self.es, self.index_prefix)


@dataclass
class RunReport:
    source: str
    outcome: str = "ok"  # ok | failed | busy (another process is running this source)
    started_at: str = ""
    finished_at: str = ""
    seconds: float = 0.0
    pages: int = 0
    documents: int = 0
    created: int = 0
    updated: int = 0  # a snapshot replaced by a newer version of itself
    duplicates: int = 0  # already stored: read again, or an older version of a snapshot
    dead_lettered: int = 0
    removed: int = 0  # snapshots deleted: entries that dropped out of a day's later reading
    requests: int = 0
    error: str | None = None
    backfill: list[str] | None = None  # [first, last] days when this was a back-fill
    # per part of the source (a GitHub repository): {"stored": {reading: documents},
    # "refused": {reading: {"reason", "permanent"}}, "skipped": [reading]}
    parts: dict[str, Any] = field(default_factory=dict)

    def add(self, documents: int, counts: dict[str, int]) -> None:
        self.pages += 1
        self.documents += documents
        self.created += counts["created"]
        self.updated += counts["updated"]
        self.duplicates += counts["duplicate"]
        self.dead_lettered += counts["dead_lettered"]

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def run_source(source: Source, services: RunServices, backfill: Window | None = None) -> RunReport:
    started = services.clock()
    report = RunReport(source=source.name, started_at=iso(started))
    if backfill is not None:
        report.backfill = [backfill.first.isoformat(), backfill.last.isoformat()]
    lease_name = f"source:{source.name}"
    leases = services.leases
    if not leases.acquire(lease_name, services.holder, services.lease_ttl):
        holder = leases.current(lease_name)
        report.outcome = "busy"
        report.error = f"already running in {holder.holder if holder else 'another process'}"
        metrics.SOURCE_RUNS.labels(source.name, "busy").inc()
        return _finish(report, services)
    heartbeat = Heartbeat(leases, lease_name, services.holder, services.lease_ttl)
    try:
        return _run_holding_lease(source, services, backfill, report, heartbeat)
    finally:
        heartbeat.stop()  # also when the run dies: then the lease simply expires


def _run_holding_lease(
    source: Source,
    services: RunServices,
    backfill: Window | None,
    report: RunReport,
    heartbeat: Heartbeat,
) -> RunReport:
    states = services.states
    http = HttpClient(services.policy, headers=source.http_headers(), sleep=services.sleep)
    versioned = states.load(source.name)
    context = FetchContext(
        cursor=copy.deepcopy(versioned.state.cursor),
        http=http,
        now=datetime.fromisoformat(report.started_at),
        backfill=backfill,
        progress=services.progress,
        geo=services.geo,
    )
    latest = _Latest(versioned)
    try:
        _run_pages(source, services, context, latest, report, heartbeat=heartbeat)
        versioned = latest.versioned.with_state(
            last_run_at=report.started_at,
            last_success_at=report.started_at,
            last_error=None,
            consecutive_failures=0,
        )
    except Exception as error:  # any failure of one source is recorded, never raised
        report.outcome = "failed"
        report.error = f"{type(error).__name__}: {error}"
        if _is_bug(error):  # expected failures are in the report; a bug gets its traceback
            log.exception("source %s failed", source.name)
        versioned = latest.versioned  # the pages stored before the failure keep their cursor
        versioned = versioned.with_state(
            last_run_at=report.started_at,
            last_error=LastError(
                at=iso(services.clock()),
                message=str(error)[:2000] or type(error).__name__,
                kind=type(error).__name__,
                retry_after=iso(error.until) if isinstance(error, RateLimited) else None,
            ),
            consecutive_failures=versioned.state.consecutive_failures + 1,
        )
    finally:
        report.requests = http.requests_made
        report.parts = {name: asdict(part) for name, part in context.parts.items()}
        http.close()
    _finish(report, services)
    try:
        states.save(versioned.with_state(last_run=report.to_json()))
    except StateConflict as error:
        log.warning("source %s: run state not recorded: %s", source.name, error)
    heartbeat.stop()
    services.leases.release(heartbeat.name, services.holder)
    metrics.SOURCE_RUNS.labels(source.name, report.outcome).inc()
    return report


def tally(results: Sequence[ItemResult]) -> dict[str, int]:
    """What Elasticsearch made of a page: created (201), updated (200: a newer version of a
    snapshot), duplicate (409: already stored, or a newer version is), dead_lettered."""
    counts = {"created": 0, "updated": 0, "duplicate": 0, "dead_lettered": 0}
    for result in results:
        if result.status == 201:
            counts["created"] += 1
        elif result.status == 200:
            counts["updated"] += 1
        elif result.status == 409:
            counts["duplicate"] += 1
        else:
            counts["dead_lettered"] += 1
    return counts


@dataclass
class _Latest:
    """The state as last saved by the run (what a failure is recorded on)."""

    versioned: Versioned


def _run_pages(
    source: Source,
    services: RunServices,
    context: FetchContext,
    latest: _Latest,
    report: RunReport,
    *,
    heartbeat: Heartbeat,
) -> None:
    states = services.states
    for page in source.fetch(context):
        counts = tally(_store(source, page.documents, services))
        report.add(len(page.documents), counts)
        report.removed += _remove(source, page.removed, services)
        for result, count in counts.items():
            if count:
                metrics.SOURCE_DOCUMENTS.labels(source.name, result).inc(count)
        # A back-fill re-reads the past: it never moves the cursor of the regular runs.
        versioned = latest.versioned
        cursor = versioned.state.cursor if context.backfill is not None else page.cursor
        latest.versioned = states.save(
            versioned.with_state(
                cursor=copy.deepcopy(cursor),
                documents_total=versioned.state.documents_total + counts["created"],
            )
        )
        context.cursor = copy.deepcopy(page.cursor)
        if page.progress:
            services.progress(page.progress)
        if heartbeat.lost:
            raise StateConflict(f"lost the lease of source {source.name!r} to another process")
        if services.stop.is_set():
            raise Interrupted("stopped by request; the next run resumes from the saved cursor")


def _store(
    source: Source, documents: Sequence[Document], services: RunServices
) -> list[ItemResult]:
    """Bulk the page; retry what failed for a reason that passes; dead-letter the invalid."""
    if not documents:
        return []
    received_at = iso(services.clock())
    bodies = [build_document(source, document, received_at) for document in documents]
    period = services.storage.period_of(source.stream)
    actions = [
        BulkAction(
            index=index_for(services.index_prefix, source.stream, document.timestamp, period),
            id=document_id(source.name, document.key),
            document=body,
            version=document.version,
        )
        for document, body in zip(documents, bodies, strict=True)
    ]
    send = functools.partial(bulk_create, services.es)
    final = bulk_until_settled(actions, send, _retry(services))
    _check_shard_limit(actions, final)
    refused = [
        (
            Entry(source.stream, actions[i].id, bodies[i]),
            actions[i].index,
            result.error or {},
        )
        for i, result in enumerate(final)
        if not result.stored
    ]
    if refused:
        letters = DeadLetterStore(services.es, services.index_prefix, services.storage)
        letter_actions = letters.actions(refused)
        stored = bulk_until_settled(letter_actions, send, _retry(services))
        _check_shard_limit(letter_actions, stored)
        if not all(result.stored for result in stored):
            raise StoreUnavailable("Elasticsearch refused to store the dead letters of a page")
    return final


def _check_shard_limit(
    actions: Sequence[BulkAction | VersionedDelete], results: Sequence[ItemResult]
) -> None:
    """Raise ``ShardLimitReached`` when an index of the page could not be created for want of
    shards: the page is valid, so the run fails without dead-lettering it and without moving
    the cursor (the next run reads the page again once there is room)."""
    for action, result in zip(actions, results, strict=True):
        if result.status == 400 and result.error is not None:
            refusal = shard_limit_refusal(result.error, action.index)
            if refusal is not None:
                raise ShardLimitReached(refusal)


def _remove(source: Source, removals: Sequence[Removal], services: RunServices) -> int:
    """Delete the page's removed snapshots (before its cursor is saved: a crash repeats the
    removal, which then finds nothing); how many were deleted."""
    period = services.storage.period_of(source.stream)
    deletes = [
        VersionedDelete(
            index=index_for(services.index_prefix, source.stream, removal.timestamp, period),
            id=document_id(source.name, removal.key),
            version=removal.version,
        )
        for removal in removals
    ]
    results = bulk_until_settled(
        deletes,
        lambda pending: bulk_delete(services.es, pending),
        _retry(services),
        # 404: not stored; 409: a newer version is. Anything else passes or is worth a retry,
        # but for a refusal for want of shards (a versioned delete creates its index).
        again=lambda result: (
            result.status not in (200, 404, 409) and shard_limit_refusal(result.error, "") is None
        ),
    )
    _check_shard_limit(deletes, results)
    return sum(1 for result in results if result.status == 200)


def _retry(services: RunServices) -> Retry:
    """``BULK_ATTEMPTS`` tries of a page's bulk, then ``GaveUp`` (a ``StoreUnavailable``): the run
    fails and the next one reads the page again. A stop waits for the page to be stored."""
    return Retry(cap=BULK_BACKOFF_CAP, tries=BULK_ATTEMPTS, sleep=services.sleep)


def build_document(source: Source, document: Document, received_at: str) -> dict[str, Any]:
    """The Logstash-style document: the source's fields under the common envelope."""
    return {
        **document.fields,
        "@timestamp": iso(document.timestamp),
        "@version": "1",
        "type": source.stream,
        "site": source.site,
        "source": source.name,
        "source_type": source.type_name,
        "received_at": received_at,
    }


def _finish(report: RunReport, services: RunServices) -> RunReport:
    finished = services.clock()
    report.finished_at = iso(finished)
    report.seconds = round(
        (finished - datetime.fromisoformat(report.started_at)).total_seconds(), 3
    )
    return report


def _is_bug(error: Exception) -> bool:
    """Remote and storage failures are expected; anything else gets a traceback in the log."""
    return not isinstance(error, (SourceError, StoreUnavailable, StateConflict, Interrupted))


def services_from_settings(
    settings: Settings, holder: str, progress: Progress | None = None
) -> RunServices:
    """The run services of a process, from its settings (the scheduler, the CLI)."""
    scheduler = settings.scheduler
    return RunServices(
        es=build_client(settings.elasticsearch),
        index_prefix=settings.elasticsearch.index_prefix,
        holder=holder,
        policy=RetryPolicy(
            timeout=scheduler.request_timeout,
            attempts=scheduler.attempts,
            max_wait=scheduler.max_wait,
            max_response_bytes=scheduler.max_response_bytes,
        ),
        lease_ttl=scheduler.run_lease_ttl,
        progress=progress or (lambda message: log.info("%s", message)),
        geo=geo_lookup(settings.enrich.geo),
        storage=settings.storage,
    )
