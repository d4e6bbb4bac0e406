"""Which buckets need recomputing, read from the raw indices.

**Changes.** Every write to a shard gets the next sequence number (``_seq_no``) of that shard,
and the shard's *local checkpoint* is the number up to which every write has been applied. So
the documents written to a raw index since the last run are those with a sequence number
above the checkpoint that run saw, up to the one seen now; their ``@timestamp`` hours are the
buckets to recompute, whenever the documents were received (a spool shipping a week late) or
whatever time they carry. An index that was deleted and made again (another ``uuid``) counts
from the start. Deletions leave nothing to find: the sweep's counts catch those.

**Counts.** The document count per UTC hour of a range, which the sweep compares with the
rollups' own counts."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch

from metronome.es.naming import stream_pattern
from metronome.rollups.state import ShardMark

TIMESTAMP = "@timestamp"
SEQ_NO = "_seq_no"
SITE = "site"
PAGE = 1000


def moment_of(millis: Any) -> datetime:
    return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)


def _composite_hours(
    client: Elasticsearch,
    index: str,
    query: dict[str, Any],
    interval: str = "1h",
    preference: str | None = None,
) -> Iterator[tuple[datetime, int]]:
    """(bucket start, documents) of every UTC hour (or ``interval``) holding a document
    matching ``query``."""
    after: dict[str, Any] | None = None
    while True:
        composite: dict[str, Any] = {
            "size": PAGE,
            "sources": [
                {"hour": {"date_histogram": {"field": TIMESTAMP, "fixed_interval": interval}}}
            ],
        }
        if after is not None:
            composite["after"] = after
        extra: dict[str, Any] = {} if preference is None else {"preference": preference}
        answer = client.search(
            **extra,
            index=index,
            size=0,
            query=query,
            aggs={"hours": {"composite": composite}},
            ignore_unavailable=True,
            allow_no_indices=True,
            track_total_hits=False,
            request_cache=False,
        )
        found = answer.body.get("aggregations", {}).get("hours", {})
        for bucket in found.get("buckets", []):
            yield moment_of(bucket["key"]["hour"]), int(bucket["doc_count"])
        after = found.get("after_key")
        if after is None or len(found.get("buckets", [])) < PAGE:
            return


def shard_marks(client: Elasticsearch, prefix: str, stream: str) -> dict[str, ShardMark]:
    """``<index>/<shard>`` -> its mark, for every primary shard of the stream's raw indices."""
    answer = client.indices.stats(
        index=stream_pattern(prefix, stream),
        level="shards",
        metric="docs",
        expand_wildcards="open",
    )
    marks: dict[str, ShardMark] = {}
    for index, body in answer.body.get("indices", {}).items():
        uuid = str(body.get("uuid", ""))
        for number, copies in (body.get("shards") or {}).items():
            for copy in copies:
                if copy.get("routing", {}).get("primary") and "seq_no" in copy:
                    checkpoint = int(copy["seq_no"]["local_checkpoint"])
                    marks[f"{index}/{number}"] = ShardMark(uuid, checkpoint)
    return marks


def changed_shards(
    before: Mapping[str, ShardMark], now: Mapping[str, ShardMark]
) -> dict[str, tuple[int, int]]:
    """``<index>/<shard>`` -> (sequence numbers after, through) written since ``before``."""
    changed: dict[str, tuple[int, int]] = {}
    for name, mark in now.items():
        old = before.get(name)
        after = old.checkpoint if old is not None and old.uuid == mark.uuid else -1
        if mark.checkpoint > after:
            changed[name] = (after, mark.checkpoint)
    return changed


@dataclass(frozen=True)
class Changes:
    """What was written in some ranges of sequence numbers: the UTC hours of the documents
    there now, with how many each holds, and the shards where fewer documents than
    operations were found (a document deleted, or written again, since)."""

    hours: dict[datetime, int] = field(default_factory=dict)
    removed: frozenset[str] = frozenset()


def changed_hours(client: Elasticsearch, changed: Mapping[str, tuple[int, int]]) -> Changes:
    """The UTC hours (of ``@timestamp``) of the documents written in the ``changed`` ranges of
    sequence numbers, with how many each holds. The indices are refreshed first, so every
    write up to the checkpoints read is searched. Every operation takes one sequence number:
    a shard whose range holds fewer documents than numbers had documents deleted (or
    replaced), which nothing here says the hours of."""
    if not changed:
        return Changes()
    indices = sorted({name.rsplit("/", 1)[0] for name in changed})
    for first in range(0, len(indices), 50):  # names per request: URLs stay short
        client.indices.refresh(index=",".join(indices[first : first + 50]), ignore_unavailable=True)
    hours: dict[datetime, int] = {}
    removed: set[str] = set()
    for name, (after, through) in sorted(changed.items()):
        index, shard = name.rsplit("/", 1)
        query = {"range": {SEQ_NO: {"gt": after, "lte": through}}}
        found = 0
        for hour, count in _composite_hours(client, index, query, preference=f"_shards:{shard}"):
            hours[hour] = hours.get(hour, 0) + count
            found += count
        if found < through - after:
            removed.add(name)
    return Changes(hours, frozenset(removed))


def counted(start: datetime, end: datetime) -> dict[str, Any]:
    """The raw documents of ``[start, end)`` that rollups count (those with a site)."""
    time_range = {TIMESTAMP: {"gte": start.isoformat(), "lt": end.isoformat()}}
    return {"bool": {"filter": [{"range": time_range}, {"exists": {"field": SITE}}]}}


def raw_hour_counts(
    client: Elasticsearch, index: str, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Documents per UTC hour of ``@timestamp`` in ``[start, end)``; hours without any are
    left out. ``index`` names the raw indices to read (those of the range)."""
    return dict(_composite_hours(client, index, counted(start, end)))


def raw_day_counts(
    client: Elasticsearch, index: str, start: datetime, end: datetime
) -> dict[datetime, int]:
    """Documents per UTC day of ``@timestamp`` in ``[start, end)``; empty days left out."""
    return dict(_composite_hours(client, index, counted(start, end), "1d"))


def first_document(client: Elasticsearch, prefix: str, stream: str) -> datetime | None:
    """The ``@timestamp`` of the stream's oldest document; None when it has none."""
    answer = client.search(
        index=stream_pattern(prefix, stream),
        size=0,
        aggs={"first": {"min": {"field": TIMESTAMP}}},
        ignore_unavailable=True,
        allow_no_indices=True,
        track_total_hits=False,
    )
    value = answer.body.get("aggregations", {}).get("first", {}).get("value")
    return None if value is None else moment_of(value)
