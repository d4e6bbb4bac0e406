"""Moving a stream's indices into its configured index period (``metronome es migrate-layout``).

Each index whose period is not its stream's configured one (daily indices of a stream now kept
by month, say) is moved on its own, oldest first:

1. a write block on the source index (nothing can change it while it is copied; writers with
   the current settings write to the configured indices anyway);
2. a ``_reindex`` of its documents into the index (or indices, when moving to a shorter period)
   of the configured period, keeping every document's ``_id`` and version
   (``version_type: external``, ``conflicts: proceed``): a document already copied, or already
   written there by a writer, is left as it is, so nothing is doubled;
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
from metronome.es.naming import IndexSpan, index_for, is_valid_stream, parse_index
from metronome.es.shards import ShardLimitReached, shard_limit_refusal

Say = Callable[[str], None]
POLL_SECONDS = 5.0  # how often a copy's progress is told
CHECK_SECONDS = 0.1  # how often a copy is asked whether it has ended


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
            outcome = _copy(client, source, target, say, poll_seconds)
            report.created += int(outcome.get("created", 0)) + int(outcome.get("updated", 0))
            report.present += int(outcome.get("version_conflicts", 0))
        if report.created + report.present != documents:
            raise MigrationError(
                f"{source}: {documents} documents, but {report.created} were copied and "
                f"{report.present} found in {', '.join(report.targets)}; the index is kept "
                "(run the migration again)"
            )
        client.indices.refresh(index=",".join(report.targets))
    client.indices.delete(index=source)
    return report


def _copy(
    client: Elasticsearch, source: str, target: Target, say: Say, poll_seconds: float
) -> dict[str, Any]:
    """One ``_reindex`` as a task, its progress told every ``poll_seconds``; its outcome."""
    body: dict[str, Any] = {"index": source}
    if target.query is not None:
        body["query"] = target.query
    task = client.reindex(
        source=body,
        dest={"index": target.index, "version_type": "external"},
        conflicts="proceed",
        wait_for_completion=False,
    ).body["task"]
    last = time.monotonic()
    while True:
        answer = client.tasks.get(task_id=task).body
        if answer.get("completed"):
            break
        time.sleep(CHECK_SECONDS)
        if time.monotonic() - last >= poll_seconds:
            status = answer.get("task", {}).get("status", {})
            done = sum(int(status.get(k, 0)) for k in ("created", "updated", "version_conflicts"))
            say(f"    {target.index}: {done} of {status.get('total', '?')} copied")
            last = time.monotonic()
    if "error" in answer:
        raise MigrationError(f"copying {source} into {target.index} failed: {answer['error']}")
    outcome: dict[str, Any] = answer.get("response", {})
    for failure in outcome.get("failures", []):
        refusal = shard_limit_refusal(failure.get("cause", failure), target.index)
        if refusal is not None:
            raise ShardLimitReached(refusal)
    if outcome.get("failures"):
        first = outcome["failures"][0]
        raise MigrationError(
            f"copying {source} into {target.index}: {len(outcome['failures'])} documents "
            f"refused (first: {first.get('cause', first)}); the index is kept"
        )
    return outcome
