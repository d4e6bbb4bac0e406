"""Moving a stream's indices into its configured index period (``metronome es migrate-layout``).

Each index whose period is not its stream's configured one (daily indices of a stream now kept
by month, say) is moved on its own, oldest first:

1. a write block on the source index (nothing can change it while it is copied; writers with
   the current settings write to the configured indices anyway);
2. a copy of its documents (a point-in-time scan, then ``_bulk``) into the index, or the
   indices when moving to a shorter period, of the configured period, keeping every
   document's ``_id`` and version (external versioning): a document already copied, or
   already written there by a writer, is left as it is (a 409), so nothing is doubled. (No
   ``_reindex``: the embedded node has no reindex module.)
3. a check that every document of the source is in a target (created, or found there), then
   the source index is deleted.

There is no state to keep: what is left to do is what still exists. A run cut short anywhere
is resumed by running it again (the write block and the copy are repeated harmlessly).

What a query sees meanwhile: a document is in the source and in its target from the moment the
copy makes it searchable in the target (the target refreshes every few seconds) until the
source is deleted, right after the copy ends; a query of that span of time in that window
counts the copied documents twice. Moving one index takes about as long as copying it
(well under a second for a day of a scheduled source).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.config import Period, StorageSettings
from metronome.es.bulk import BulkAction, bulk_create, bulk_until_settled
from metronome.es.naming import IndexSpan, index_for, is_valid_stream, parse_index
from metronome.es.retry import Retry
from metronome.es.scan import scan
from metronome.es.shards import ShardLimitReached, shard_limit_refusal

Say = Callable[[str], None]
POLL_SECONDS = 5.0  # how often a copy's progress is told
BATCH_DOCS = 1000  # documents per _bulk of a copy
COPY_RETRY = Retry(cap=10.0, tries=8)  # a busy cluster (429, 5xx) is given about a minute


class MigrationError(RuntimeError):
    """A move that could not be completed; the source index is kept (run again)."""


@dataclass(frozen=True)
class Move:
    """One source index to move, and the period its stream is kept at."""

    stream: str
    source: IndexSpan
    period: Period


@dataclass(frozen=True)
class Target:
    index: str
    query: dict[str, Any] | None  # None: every document of the source


def stream_indices(client: Elasticsearch, prefix: str) -> dict[str, list[IndexSpan]]:
    """Every open stream index under ``prefix``, by stream (other indices left out)."""
    resolved = client.indices.resolve_index(name=f"{prefix}-*", expand_wildcards="open").body
    streams: dict[str, list[IndexSpan]] = {}
    for entry in resolved.get("indices", []):
        name = str(entry["name"])
        stream = name[len(prefix) + 1 :].rpartition("-")[0]
        if not is_valid_stream(stream):
            continue
        span = parse_index(prefix, stream, name)
        if span is not None:
            streams.setdefault(stream, []).append(span)
    return streams


def plan_moves(
    indices: dict[str, list[IndexSpan]],
    storage: StorageSettings,
    streams: Sequence[str] | None = None,
) -> list[Move]:
    """The indices whose period differs from their stream's, oldest first per stream."""
    moves: list[Move] = []
    for stream in sorted(indices):
        if streams and stream not in streams:
            continue
        period = storage.period_of(stream)
        for span in sorted(indices[stream], key=lambda s: (s.start, s.name)):
            if span.period != period:
                moves.append(Move(stream, span, period))
    return moves


LONGER = {"day": 0, "month": 1, "year": 2}


def targets(client: Elasticsearch, prefix: str, move: Move) -> list[Target]:
    """Where the source's documents go: the one index of the longer period that spans it, or
    each index of the shorter period the source holds documents of (by their range)."""
    if LONGER[move.period] > LONGER[move.source.period]:
        return [Target(index_for(prefix, move.stream, move.source.start, move.period), None)]
    interval = move.period  # the calendar intervals are named like the periods
    response = client.search(
        index=move.source.name,
        size=0,
        aggs={
            "periods": {
                "date_histogram": {
                    "field": "@timestamp",
                    "calendar_interval": interval,
                    "time_zone": "UTC",
                    "min_doc_count": 1,
                }
            }
        },
    ).body
    found: list[Target] = []
    for bucket in response.get("aggregations", {}).get("periods", {}).get("buckets", []):
        start = datetime.fromtimestamp(bucket["key"] / 1000, UTC)
        target = parse_index(
            prefix, move.stream, index_for(prefix, move.stream, start, move.period)
        )
        assert target is not None
        query = {
            "range": {
                "@timestamp": {
                    "gte": target.start.isoformat(),
                    "lt": target.end.isoformat(),
                    "format": "strict_date_optional_time",
                }
            }
        }
        found.append(Target(target.name, query))
    return found


@dataclass
class MoveReport:
    source: str
    documents: int = 0
    created: int = 0
    present: int = 0  # already in the target (copied by an earlier run, or written there)
    targets: tuple[str, ...] = ()


def migrate(
    client: Elasticsearch,
    prefix: str,
    storage: StorageSettings,
    *,
    streams: Sequence[str] | None = None,
    say: Say = lambda message: None,
    stop: Callable[[], bool] = lambda: False,
    poll_seconds: float = POLL_SECONDS,
) -> Iterator[MoveReport]:
    """Move every index not at its stream's period, one at a time; a report per index moved.
    Stops between two indices once ``stop()`` is true. Raises ``MigrationError`` (the index
    in hand is kept) and ``ShardLimitReached`` (no room for a target index)."""
    moves = plan_moves(stream_indices(client, prefix), storage, streams)
    if not moves:
        say("every index is at its stream's period: nothing to move")
        return
    say(f"{len(moves)} indices to move")
    for number, move in enumerate(moves, 1):
        if stop():
            say("stopped; run it again to move the rest")
            return
        say(f"[{number}/{len(moves)}] {move.source.name} ({move.source.period}) -> {move.period}")
        report = move_index(client, prefix, move, say=say, poll_seconds=poll_seconds)
        say(
            f"[{number}/{len(moves)}] {move.source.name}: {report.documents} documents, "
            f"{report.created} copied, {report.present} already there, into "
            f"{', '.join(report.targets) or 'nothing (empty)'}; source deleted"
        )
        yield report


def move_index(
    client: Elasticsearch,
    prefix: str,
    move: Move,
    *,
    say: Say = lambda message: None,
    poll_seconds: float = POLL_SECONDS,
) -> MoveReport:
    """Block writes to the source, copy it into its targets, check, delete it."""
    source = move.source.name
    client.indices.add_block(index=source, block="write")
    client.indices.refresh(index=source)
    documents = int(client.count(index=source)["count"])
    report = MoveReport(source=source, documents=documents)
    if documents:
        found = targets(client, prefix, move)
        report.targets = tuple(t.index for t in found)
        for target in found:
            created, present = copy_into(client, source, target, say=say, poll_seconds=poll_seconds)
            report.created += created
            report.present += present
        if report.created + report.present != documents:
            raise MigrationError(
                f"{source}: {documents} documents, but {report.created} were copied and "
                f"{report.present} found in {', '.join(report.targets)}; the index is kept "
                "(run the migration again)"
            )
        client.indices.refresh(index=",".join(report.targets))
    client.indices.delete(index=source)
    return report


def copy_into(
    client: Elasticsearch,
    source: str,
    target: Target,
    *,
    say: Say = lambda message: None,
    poll_seconds: float = POLL_SECONDS,
    retry: Retry = COPY_RETRY,
) -> tuple[int, int]:
    """Copy the documents of ``source`` (those of ``target.query``) into ``target.index``
    with their ``_id`` and version; ``(created, present)``: written now, and already there
    with the same or a newer version. Raises ``ShardLimitReached`` when the target cannot be
    created, ``MigrationError`` when a document is refused."""
    created = present = 0
    batch: list[BulkAction] = []
    last = time.monotonic()

    def flush() -> None:
        nonlocal created, present
        results = bulk_until_settled(batch, lambda b: bulk_create(client, b), retry)
        for action, result in zip(batch, results, strict=True):
            if result.status in (200, 201):
                created += 1
            elif result.status == 409:
                present += 1
            else:
                refusal = shard_limit_refusal(result.error, action.index)
                if refusal is not None:
                    raise ShardLimitReached(refusal)
                raise MigrationError(
                    f"copying {source} into {target.index}: {action.id} refused "
                    f"({result.error}); the index is kept"
                )
        batch.clear()

    for hit in scan(client, source, target.query, with_ids=True, with_versions=True):
        batch.append(
            BulkAction(target.index, hit["_id"], hit.get("_source", {}), int(hit["_version"]))
        )
        if len(batch) >= BATCH_DOCS:
            flush()
            if time.monotonic() - last >= poll_seconds:
                say(f"    {target.index}: {created + present} documents copied")
                last = time.monotonic()
    if batch:
        flush()
    return created, present
