"""Compute the rollups of one group over a range of buckets from the raw events, and store them.

``rollup_range`` reads the raw indices of ``[start, end)`` with one composite aggregation
(bucket start in UTC x site x the group's dimensions, documents lacking a dimension in its
``null`` bucket), builds each bucket's document (``metronome.query.rollup_schema``), and
makes the stored documents of that range and group exactly those: a document whose content
changed is written, one no longer produced (its raw documents deleted) is deleted, one that
is the same is left alone. So a second call changes nothing, and a late raw document changes
exactly the documents of the buckets it falls in. The writes are visible to searches when it
returns (the touched indices are refreshed).

A long range is done a slice at a time (a day of hours, a month of days), so memory stays
bounded by one slice's documents.

Day buckets can be summed from the group's hour rollups instead (``day_source``): the same
composite aggregation over the hour documents of the range, ``_doc_count`` weighting each, sums
of the sums and counts, the least of the minimums and the greatest of the maximums. That gives
the documents the raw events would give (every part is additive or a bound). It pays when a
group has few values: a busy hour of events makes a few hour documents. For a group of many
values (ids) the hour documents are nearly as many as the events, and a composite aggregation
pages through them far more slowly than through the raw events (bench/RESULTS.md: 451 ms
against 37 ms for a week of a 10,000-id group). So the job and back-fill ask for the
``cheaper`` source: the hours when the group's hour documents of a slice are fewer than
``HOURS_SHARE`` of its raw events, the raw events otherwise.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch

from metronome.config.rollups import RollupGroup
from metronome.es.naming import indices_for_range
from metronome.query.rollup_schema import (
    GROUP_FIELD,
    KEY_FIELD,
    MEASURE_PARTS,
    Grain,
    MeasureValues,
    is_aligned,
    measure_field,
    rollup_document,
    rollup_index,
    rollup_indices,
)

COMPOSITE_PAGE = 1000
READ_PAGE = 2000
BULK_OPERATIONS = 1000
HOURS_SHARE = 0.1  # "cheaper": sum days from hours when they are under this share of the events
DaySource = Literal["raw", "hours", "cheaper"]
SLICE: Mapping[Grain, timedelta] = {"hour": timedelta(days=1), "day": timedelta(days=31)}
INTERVAL: Mapping[Grain, str] = {"hour": "1h", "day": "1d"}


class RollupFailed(RuntimeError):
    """Elasticsearch refused some of the rollup writes or deletes; the message says which and
    why. The range is left part old, part new: compute it again."""


@dataclass(frozen=True)
class RollupWrite:
    """What one ``rollup_range`` call did: documents the range now has (``documents``), of
    which ``written`` were new or changed, and ``deleted`` documents no longer produced."""

    documents: int = 0
    written: int = 0
    deleted: int = 0

    def __add__(self, other: RollupWrite) -> RollupWrite:
        return RollupWrite(
            self.documents + other.documents,
            self.written + other.written,
            self.deleted + other.deleted,
        )


def rollup_range(  # noqa: PLR0917 (the call shape the rollup job and back-fill share)
    client: Elasticsearch,
    prefix: str,
    stream: str,
    group: RollupGroup,
    grain: Grain,
    start: datetime,
    end: datetime,
    *,
    day_source: DaySource = "raw",
) -> RollupWrite:
    """Recompute every ``grain`` bucket of ``[start, end)`` (both ends on bucket starts in UTC)
    of ``group`` from the raw events of ``stream`` (``day_source`` ``hours``: day buckets from
    the group's hour rollups, which must be current for the range; ``cheaper``: whichever reads
    less, per slice), and store them in place of that range's rollup documents of the group.
    ``ValueError`` when the ends are not aligned."""
    if not (is_aligned(start, grain) and is_aligned(end, grain)):
        raise ValueError(f"a rollup range starts and ends on {grain} boundaries (UTC)")
    if day_source != "raw" and grain != "day":
        raise ValueError("only day buckets are summed from hour rollups")
    outcome = RollupWrite()
    touched: set[str] = set()
    for piece_start, piece_end in _slices(start.astimezone(UTC), end.astimezone(UTC), grain):
        piece = _Slice(prefix, stream, group, grain, piece_start, piece_end)
        if day_source == "hours" or (day_source == "cheaper" and _hours_cheaper(client, piece)):
            piece = replace(piece, from_hours=True)
        produced = dict(_produce(client, piece))
        stored = _stored(client, piece)
        writes = [
            (identifier, index, document)
            for identifier, (index, document) in produced.items()
            if stored.get(identifier) != (index, document)
        ]
        deletes = [(index, identifier) for identifier, (index, _) in stored.items()
                   if identifier not in produced]  # fmt: skip
        _apply(client, writes, deletes)
        touched.update(index for _, index, _ in writes)
        touched.update(index for index, _ in deletes)
        outcome += RollupWrite(len(produced), len(writes), len(deletes))
    if touched:
        client.indices.refresh(index=",".join(sorted(touched)))
    return outcome


@dataclass(frozen=True)
class _Slice:
    """A part of the range done at once."""

    prefix: str
    stream: str
    group: RollupGroup
    grain: Grain
    start: datetime
    end: datetime
    from_hours: bool = False


def _hours_cheaper(client: Elasticsearch, piece: _Slice) -> bool:
    """Whether the group's hour documents of the slice are under ``HOURS_SHARE`` of its raw
    events (two counts)."""
    time_range = {"range": {"@timestamp": {"gte": piece.start.isoformat(),
                                           "lt": piece.end.isoformat()}}}  # fmt: skip
    raw = client.count(
        index=indices_for_range(piece.prefix, piece.stream, piece.start, piece.end),
        query=time_range,
        ignore_unavailable=True,
        allow_no_indices=True,
    ).body["count"]
    hours = client.count(
        index=rollup_indices(piece.prefix, piece.stream, "hour", piece.start, piece.end),
        query={"bool": {"filter": [time_range, {"term": {GROUP_FIELD: piece.group.name}}]}},
        ignore_unavailable=True,
        allow_no_indices=True,
    ).body["count"]
    return int(hours) < HOURS_SHARE * int(raw)


def _slices(start: datetime, end: datetime, grain: Grain) -> Iterator[tuple[datetime, datetime]]:
    step = SLICE[grain]
    current = start
    while current < end:
        following = min(current + step, end)
        yield current, following
        current = following


def composite_sources(group: RollupGroup, grain: Grain) -> list[dict[str, Any]]:
    """The composite aggregation's sources: bucket start (UTC), site, then the dimensions."""
    sources: list[dict[str, Any]] = [
        {"t": {"date_histogram": {"field": "@timestamp", "fixed_interval": INTERVAL[grain],
                                  "time_zone": "UTC"}}},
        {"site": {"terms": {"field": "site"}}},
    ]  # fmt: skip
    for position, name in enumerate(group.dimensions):
        sources.append({f"d{position}": {"terms": {"field": name, "missing_bucket": True}}})
    return sources


def measure_aggs(group: RollupGroup, *, from_hours: bool = False) -> dict[str, Any]:
    """Each measure's sum, min, max and count per bucket: of the raw values, or (``from_hours``)
    of the parts the hour rollup documents hold."""
    aggs: dict[str, Any] = {}
    for position, name in enumerate(group.measures):
        fields = {part: measure_field(part, name) if from_hours else name for part in MEASURE_PARTS}
        aggs[f"sum{position}"] = {"sum": {"field": fields["sum"]}}
        aggs[f"min{position}"] = {"min": {"field": fields["min"]}}
        aggs[f"max{position}"] = {"max": {"field": fields["max"]}}
        # the hours' counts add up; raw values are counted
        counting = "sum" if from_hours else "value_count"
        aggs[f"count{position}"] = {counting: {"field": fields["count"]}}
    return aggs


def produce_body(
    group: RollupGroup,
    grain: Grain,
    start: datetime,
    end: datetime,
    after: Mapping[str, Any] | None = None,
    *,
    from_hours: bool = False,
) -> dict[str, Any]:
    """One page of the composite aggregation over the raw events of ``[start, end)``, or
    (``from_hours``) over the group's hour rollup documents of that range."""
    composite: dict[str, Any] = {"size": COMPOSITE_PAGE, "sources": composite_sources(group, grain)}
    if after is not None:
        composite["after"] = dict(after)
    time_range = {"gte": start.isoformat(), "lt": end.isoformat()}
    filters: list[dict[str, Any]] = [{"range": {"@timestamp": time_range}}]
    if from_hours:
        filters.append({"term": {GROUP_FIELD: group.name}})
    return {
        "size": 0,
        "track_total_hits": False,
        "query": {"bool": {"filter": filters}},
        "aggs": {
            "buckets": {
                "composite": composite,
                "aggs": measure_aggs(group, from_hours=from_hours),
            }
        },
    }


def bucket_document(
    group: RollupGroup, grain: Grain, bucket: Mapping[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The id and rollup document of one composite bucket (pure)."""
    key = bucket["key"]
    start = datetime.fromtimestamp(int(key["t"]) / 1000, UTC)
    values = [key[f"d{position}"] for position in range(len(group.dimensions))]
    measures = {
        name: MeasureValues(
            sum=float(bucket[f"sum{position}"]["value"] or 0.0),
            min=_float(bucket[f"min{position}"]["value"]),
            max=_float(bucket[f"max{position}"]["value"]),
            count=int(bucket[f"count{position}"]["value"] or 0),
        )
        for position, name in enumerate(group.measures)
    }
    return rollup_document(
        group,
        grain,
        start,
        str(key["site"]),
        values=values,
        doc_count=int(bucket["doc_count"]),
        measures=measures,
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


def _produce(
    client: Elasticsearch, piece: _Slice
) -> Iterator[tuple[str, tuple[str, dict[str, Any]]]]:
    """The documents the raw events (or hour rollups) of the slice make: id -> (index,
    document)."""
    prefix, stream, group, grain = piece.prefix, piece.stream, piece.group, piece.grain
    if piece.from_hours:
        index = rollup_indices(prefix, stream, "hour", piece.start, piece.end)
    else:
        index = indices_for_range(prefix, stream, piece.start, piece.end)
    after: dict[str, Any] | None = None
    while True:
        body = produce_body(
            group, grain, piece.start, piece.end, after, from_hours=piece.from_hours
        )
        response = client.search(
            index=index,
            body=body,
            ignore_unavailable=True,
            allow_no_indices=True,
        ).body
        _check_shards(response)
        composite = response.get("aggregations", {}).get("buckets", {})
        buckets = composite.get("buckets", [])
        for bucket in buckets:
            identifier, document = bucket_document(group, grain, bucket)
            start_of = datetime.fromtimestamp(int(bucket["key"]["t"]) / 1000, UTC)
            yield identifier, (rollup_index(prefix, stream, grain, start_of), document)
        after = composite.get("after_key")
        if not after or len(buckets) < COMPOSITE_PAGE:
            return


def _stored(client: Elasticsearch, piece: _Slice) -> dict[str, tuple[str, dict[str, Any]]]:
    """The stored documents of the slice's range and group: id -> (index, document)."""
    start, end = piece.start, piece.end
    query = {
        "bool": {
            "filter": [
                {"term": {GROUP_FIELD: piece.group.name}},
                {"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}},
            ]
        }
    }
    stored: dict[str, tuple[str, dict[str, Any]]] = {}
    after: list[Any] | None = None
    while True:
        extra: dict[str, Any] = {} if after is None else {"search_after": after}
        response = client.search(
            index=rollup_indices(piece.prefix, piece.stream, piece.grain, start, end),
            query=query,
            sort=[{KEY_FIELD: "asc"}],
            size=READ_PAGE,
            ignore_unavailable=True,
            allow_no_indices=True,
            track_total_hits=False,
            **extra,
        ).body
        _check_shards(response)
        hits = response.get("hits", {}).get("hits", [])
        for hit in hits:
            stored[hit["_id"]] = (hit["_index"], hit["_source"])
        if len(hits) < READ_PAGE:
            return stored
        after = hits[-1]["sort"]


def _apply(
    client: Elasticsearch,
    writes: list[tuple[str, str, dict[str, Any]]],
    deletes: list[tuple[str, str]],
) -> None:
    operations: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
        ({"index": {"_index": index, "_id": identifier}}, document)
        for identifier, index, document in writes
    ]
    operations += [({"delete": {"_index": index, "_id": identifier}}, None)
                   for index, identifier in deletes]  # fmt: skip
    for first in range(0, len(operations), BULK_OPERATIONS):
        lines: list[dict[str, Any]] = []
        for action, document in operations[first : first + BULK_OPERATIONS]:
            lines.append(action)
            if document is not None:
                lines.append(document)
        response = client.bulk(operations=lines).body
        if response.get("errors"):
            _raise_failures(response)


def _raise_failures(response: Mapping[str, Any]) -> None:
    failures = []
    for item in response.get("items", []):
        (operation, outcome), *_ = item.items()
        status = int(outcome.get("status", 500))
        if status >= 300 and not (operation == "delete" and status == 404):
            reason = (outcome.get("error") or {}).get("reason", "")
            failures.append(f"{operation} {outcome.get('_index')}: {status} {reason}"[:300])
    if failures:
        raise RollupFailed(f"{len(failures)} rollup writes failed, first: {failures[0]}")


def _check_shards(response: Mapping[str, Any]) -> None:
    shards = response.get("_shards") or {}
    if int(shards.get("failed", 0) or 0):
        failure = ((shards.get("failures") or [{}])[0] or {}).get("reason") or {}
        raise RollupFailed(f"a search of the rollup failed on some shards: {failure}"[:300])
