"""What rollups are, as stored: index names, document ids, the document shape and the
watermark. Shared by the computation (``metronome.rollups``) and the planner that reads them.

Indices: ``<prefix>-rollup.<grain>.<stream>-YYYY`` (grain ``hour`` or ``day``, one index per UTC
year of the bucket). No stream pattern matches one: a stream name has no dot.

A rollup document is one bucket (an hour or a UTC day) of one group for one site and one
combination of the group's dimension values::

    {"@timestamp": "2026-11-01T05:00:00+00:00",   # bucket start, UTC
     "site": "shop",
     "event": "view", "referrer": {"host": "example.org"},  # dimensions, raw field names
     "_doc_count": 12,                             # raw documents in the bucket
     "rollup": {"group": "referrers", "grain": "hour", "key": "<the document id>",
                "sum": {"http": {"bytes": 5120.0}}, "min": {...}, "max": {...},
                "count": {...}}}                   # per measure; count: values present

Dimensions keep their raw field names, so a query's filters apply to rollup documents
unchanged; a dimension a raw document lacks is absent (as in the raw document).
Elasticsearch counts ``_doc_count`` as that many documents in bucket aggregations, so a
composite or date histogram over rollups counts what the same one over raw events counts.
An average is sum / count.

The watermark (``<prefix>-rollup-state``, one document per stream and grain) says from and up
to which instants the rollups of that grain are complete, and for which group definitions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from elasticsearch import Elasticsearch, NotFoundError

from metronome.config.rollups import RollupGroup
from metronome.es.naming import MAX_NAMED_CHARS

Grain = Literal["hour", "day"]
GRAINS: tuple[Grain, ...] = ("hour", "day")
GRAIN_STEP: Mapping[Grain, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MEASURE_PARTS = ("sum", "min", "max", "count")
DOC_COUNT = "_doc_count"
GROUP_FIELD = "rollup.group"
KEY_FIELD = "rollup.key"


def rollup_index(prefix: str, stream: str, grain: Grain, bucket_start: datetime) -> str:
    """``<prefix>-rollup.<grain>.<stream>-YYYY``: the index of the bucket starting then."""
    return f"{prefix}-rollup.{grain}.{stream}-{_utc(bucket_start).year:04d}"


def rollup_pattern(prefix: str, stream: str, grain: Grain) -> str:
    """The wildcard covering every rollup index of one stream and grain."""
    return f"{prefix}-rollup.{grain}.{stream}-*"


def rollup_indices(prefix: str, stream: str, grain: Grain, start: datetime, end: datetime) -> str:
    """The rollup indices that can hold buckets of ``[start, end)``, comma-separated (search
    them with ``ignore_unavailable``: a year without data has no index)."""
    first, last = _utc(start).year, (_utc(end) - timedelta(microseconds=1)).year
    last = max(last, first)
    named = ",".join(
        f"{prefix}-rollup.{grain}.{stream}-{year:04d}" for year in range(first, last + 1)
    )
    # names travel in the search's URL: past the limit a read names the wildcard
    return rollup_pattern(prefix, stream, grain) if len(named) > MAX_NAMED_CHARS else named


def state_index(prefix: str) -> str:
    """The index of the watermarks."""
    return f"{prefix}-rollup-state"


def floor_grain(moment: datetime, grain: Grain) -> datetime:
    """The start (UTC) of the ``grain`` bucket holding ``moment``."""
    utc = _utc(moment)
    if grain == "hour":
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil_grain(moment: datetime, grain: Grain) -> datetime:
    """The first ``grain`` bucket start at or after ``moment`` (UTC)."""
    floor = floor_grain(moment, grain)
    return floor if floor == _utc(moment) else floor + GRAIN_STEP[grain]


def is_aligned(moment: datetime, grain: Grain) -> bool:
    return floor_grain(moment, grain) == _utc(moment)


def measure_field(part: str, measure: str) -> str:
    """Where one part (sum, min, max, count) of a measure is stored: ``rollup.sum.<field>``."""
    return f"rollup.{part}.{measure}"


def group_signature(group: RollupGroup) -> str:
    """A short digest of a group's definition: rollups written for another definition of the
    group (a dimension added) are not answered from."""
    text = json.dumps([group.name, list(group.dimensions), list(group.measures)])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def document_id(
    group: RollupGroup, grain: Grain, bucket_start: datetime, site: str, values: Sequence[Any]
) -> str:
    """The id of one bucket's document: the same bucket, site and dimension values (in the
    group's order) always give the same id."""
    start = _utc(bucket_start)
    combination = json.dumps([site, *values], separators=(",", ":"), ensure_ascii=False)
    digest = hashlib.sha256(combination.encode("utf-8")).hexdigest()[:32]
    return f"{group.name}.{grain}.{int(start.timestamp())}.{digest}"


@dataclass(frozen=True)
class MeasureValues:
    """One measure over one bucket: the sum, minimum and maximum of its values and how many
    there were (min and max None when there were none)."""

    sum: float
    min: float | None
    max: float | None
    count: int


def rollup_document(
    group: RollupGroup,
    grain: Grain,
    bucket_start: datetime,
    site: str,
    *,
    values: Sequence[Any],
    doc_count: int,
    measures: Mapping[str, MeasureValues],
) -> tuple[str, dict[str, Any]]:
    """The id and document of one bucket; ``values`` are the group's dimension values in its
    order (None: the raw documents lack the field)."""
    identifier = document_id(group, grain, bucket_start, site, values)
    document: dict[str, Any] = {
        "@timestamp": _utc(bucket_start).isoformat(),
        "site": site,
    }
    for name, value in zip(group.dimensions, values, strict=True):
        if value is not None:
            _put(document, name, value)
    document[DOC_COUNT] = doc_count
    rollup: dict[str, Any] = {"group": group.name, "grain": grain, "key": identifier}
    for name in group.measures:
        measured = measures.get(name, MeasureValues(0.0, None, None, 0))
        parts = {"sum": measured.sum, "min": measured.min, "max": measured.max,
                 "count": measured.count}  # fmt: skip
        for part, value in parts.items():
            if value is not None:
                _put(rollup.setdefault(part, {}), name, value)
    document["rollup"] = rollup
    return identifier, document


def _put(node: dict[str, Any], dotted: str, value: Any) -> None:
    """``value`` under a dotted name as nested objects, as raw documents hold such fields."""
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[leaf] = value


@dataclass(frozen=True)
class Watermark:
    """How far the rollups of one stream and grain are complete: every raw document with a
    timestamp in ``[complete_from, complete_through)`` is counted in them (``complete_from``
    None: since the first document), for the groups as ``groups`` defines them (name ->
    ``group_signature``)."""

    stream: str
    grain: Grain
    complete_through: datetime
    complete_from: datetime | None = None
    groups: Mapping[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None

    @classmethod
    def of_groups(
        cls,
        stream: str,
        grain: Grain,
        complete_through: datetime,
        groups: Sequence[RollupGroup],
        complete_from: datetime | None = None,
    ) -> Watermark:
        """The watermark of ``groups`` as they are defined now."""
        signatures = {group.name: group_signature(group) for group in groups}
        return cls(stream, grain, complete_through, complete_from, signatures)

    def covers(self, group: RollupGroup) -> bool:
        """Whether this watermark speaks for ``group`` as it is defined now."""
        return self.groups.get(group.name) == group_signature(group)


def watermark_id(stream: str, grain: Grain) -> str:
    return f"{stream}.{grain}"


def write_watermark(client: Elasticsearch, prefix: str, watermark: Watermark) -> None:
    """Store ``watermark`` (replacing the stream and grain's previous one), visible at once."""
    document = {
        "stream": watermark.stream,
        "grain": watermark.grain,
        "complete_through": _utc(watermark.complete_through).isoformat(),
        "complete_from": (
            None if watermark.complete_from is None else _utc(watermark.complete_from).isoformat()
        ),
        "groups": dict(watermark.groups),
        "updated_at": _utc(watermark.updated_at or datetime.now(UTC)).isoformat(),
    }
    client.index(
        index=state_index(prefix),
        id=watermark_id(watermark.stream, watermark.grain),
        document=document,
        refresh="wait_for",
    )


def read_watermarks(client: Elasticsearch, prefix: str, stream: str) -> dict[Grain, Watermark]:
    """The stream's watermarks by grain (none stored: no rollups to answer from)."""
    try:
        response = client.mget(
            index=state_index(prefix), ids=[watermark_id(stream, grain) for grain in GRAINS]
        )
    except NotFoundError:
        return {}
    found: dict[Grain, Watermark] = {}
    for doc in response.body.get("docs", []):
        if doc.get("found"):
            watermark = watermark_from(doc["_source"])
            if watermark is not None and watermark.stream == stream:
                found[watermark.grain] = watermark
    return found


def watermark_from(source: Mapping[str, Any]) -> Watermark | None:
    """The watermark a stored document holds (None: not one this version can read)."""
    try:
        grain = source["grain"]
        if grain not in GRAINS:
            return None
        groups = source.get("groups") or {}
        return Watermark(
            stream=str(source["stream"]),
            grain=grain,
            complete_through=_parse(source["complete_through"]),
            complete_from=(
                _parse(source["complete_from"]) if source.get("complete_from") else None
            ),
            groups={str(name): str(signature) for name, signature in groups.items()},
            updated_at=_parse(source["updated_at"]) if source.get("updated_at") else None,
        )
    except (KeyError, TypeError, ValueError, AttributeError):
        return None


def _parse(text: Any) -> datetime:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError("a watermark instant without offset")
    return moment.astimezone(UTC)


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("instants must be timezone-aware")
    return moment.astimezone(UTC)
