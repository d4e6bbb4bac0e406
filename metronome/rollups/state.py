"""What the rollup job remembers per stream, in one Elasticsearch document (``job:<stream>``),
so a restart (or another scheduler taking the lease over) continues where the last run ended:

- ``closed``: per grain, up to where the buckets that ended have been computed;
- ``checkpoint``: when the last completed run started;
- ``seen``: per primary shard of the raw indices, the sequence number up to which its writes
  have been looked at (metronome.rollups.detect): the next run looks at those after it;
- ``last_sweep``: when the raw and rollup counts of the whole window were last compared;
- ``complete_from``: the first instant the rollups of every group cover; per group, with
  the fingerprint of the definition its rollups were made with, in ``groups`` (the window's
  start at the job's first run or when the group changed, earlier after a back-fill);
- ``pending``: the ranges a run is recomputing, written before it starts and cleared when it
  is done: a run killed in between leaves them, and the next run redoes them first;
- ``stale``: ranges before the late-data window whose raw documents changed after their
  rollups were made (the job does not recompute them; a back-fill does). The watermark never
  passes the first of them, so nothing reads a stale rollup as exact.

Writes are conditional on the version read, so of two runs at once (a scheduler that lost its
lease mid-run) only one records its result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, cast

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from metronome.es.templates import create_templated_index
from metronome.rollups.buckets import GRAINS, Grain, Span

JOB_PREFIX = "job:"  # stream names hold no colon; the watermarks' ids are <stream>.<grain>
BACKFILL_PREFIX = "backfill:"


class StateConflict(RuntimeError):
    """Another run wrote the state since this one read it."""


@dataclass(frozen=True)
class Pending:
    group: str
    grain: Grain
    start: datetime
    end: datetime


@dataclass(frozen=True)
class ShardMark:
    """How far one primary shard of a raw index has applied writes."""

    uuid: str  # the index's; another one means the index was made again
    checkpoint: int  # every write up to this sequence number is applied


@dataclass(frozen=True)
class GroupState:
    shape: str  # fingerprint of the group's definition its rollups were made with
    since: datetime  # its rollups cover every bucket from here on


@dataclass(frozen=True)
class StreamState:
    stream: str
    checkpoint: datetime | None = None
    last_sweep: datetime | None = None
    complete_from: datetime | None = None
    pending: tuple[Pending, ...] = ()
    stale: tuple[Span, ...] = ()
    groups: Mapping[str, GroupState] = field(default_factory=dict)
    closed: Mapping[Grain, datetime] = field(default_factory=dict)
    seen: Mapping[str, ShardMark] = field(default_factory=dict)
    last_run: Mapping[str, Any] = field(default_factory=dict)
    version: tuple[int, int] | None = None  # (seq_no, primary_term) as read; None: new

    def updated(self, **changes: Any) -> StreamState:
        return replace(self, **changes)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: Any) -> datetime | None:
    return datetime.fromisoformat(text) if isinstance(text, str) and text else None


def _required(text: Any) -> datetime:
    moment = _moment(text)
    if moment is None:
        raise ValueError(f"not a time: {text!r}")
    return moment


def to_document(state: StreamState) -> dict[str, Any]:
    return {
        "kind": "rollup-job",
        "stream": state.stream,
        "checkpoint": _iso(state.checkpoint),
        "last_sweep": _iso(state.last_sweep),
        "complete_from": _iso(state.complete_from),
        "pending": [
            {"group": p.group, "grain": p.grain, "start": _iso(p.start), "end": _iso(p.end)}
            for p in state.pending
        ],
        "stale": [{"start": _iso(start), "end": _iso(end)} for start, end in state.stale],
        "groups": [
            {"name": name, "shape": group.shape, "since": _iso(group.since)}
            for name, group in sorted(state.groups.items())
        ],
        "closed": {grain: _iso(moment) for grain, moment in state.closed.items()},
        "seen": [
            {"shard": name, "uuid": mark.uuid, "checkpoint": mark.checkpoint}
            for name, mark in sorted(state.seen.items())
        ],
        "last_run": dict(state.last_run),
    }


def from_document(
    stream: str, body: Mapping[str, Any], version: tuple[int, int] | None
) -> StreamState:
    pending = tuple(
        Pending(
            group=str(item["group"]),
            grain=cast(Grain, item["grain"]) if item["grain"] in GRAINS else "hour",
            start=_required(item["start"]),
            end=_required(item["end"]),
        )
        for item in body.get("pending") or ()
    )
    stale = tuple(
        (_required(item["start"]), _required(item["end"])) for item in body.get("stale") or ()
    )
    groups = {
        str(item["name"]): GroupState(str(item["shape"]), _required(item["since"]))
        for item in body.get("groups") or ()
    }
    closed_at = body.get("closed") or {}
    closed = {grain: _required(closed_at[grain]) for grain in GRAINS if closed_at.get(grain)}
    seen = {
        str(item["shard"]): ShardMark(str(item["uuid"]), int(item["checkpoint"]))
        for item in body.get("seen") or ()
    }
    return StreamState(
        stream=stream,
        groups=groups,
        closed=closed,
        seen=seen,
        checkpoint=_moment(body.get("checkpoint")),
        last_sweep=_moment(body.get("last_sweep")),
        complete_from=_moment(body.get("complete_from")),
        pending=pending,
        stale=stale,
        last_run=dict(body.get("last_run") or {}),
        version=version,
    )


class StateStore:
    """The job's documents in ``index`` (made by ``ensure`` when the store knows the index
    prefix; a missing index reads as no state)."""

    def __init__(self, client: Elasticsearch, index: str, prefix: str | None = None) -> None:
        self.client = client
        self.index = index
        self.prefix = prefix
        self._ensured = prefix is None

    def ensure(self) -> None:
        """Create the index with its mapping before the first write (once per process), so
        that it is never made by a write while others read it (a read of an index whose
        shard is still being allocated fails rather than finding nothing)."""
        if not self._ensured and self.prefix is not None:
            create_templated_index(self.client, self.prefix, self.index)
            self._ensured = True

    def read(self, stream: str) -> StreamState:
        found = self._get(JOB_PREFIX + stream)
        if found is None:
            return StreamState(stream=stream)
        body, version = found
        return from_document(stream, body, version)

    def write(self, state: StreamState) -> StreamState:
        """Store ``state`` if nobody wrote it since it was read (``StateConflict`` if so);
        answers the state with its new version."""
        version = self._put(JOB_PREFIX + state.stream, to_document(state), state.version)
        return replace(state, version=version)

    def read_all(self, streams: Sequence[str]) -> list[StreamState]:
        return [self.read(stream) for stream in streams]

    def read_raw(self, name: str) -> tuple[dict[str, Any], tuple[int, int]] | None:
        return self._get(name)

    def put_raw(
        self, name: str, document: Mapping[str, Any], version: tuple[int, int] | None
    ) -> tuple[int, int]:
        return self._put(name, document, version)

    def put_any(self, name: str, document: Mapping[str, Any]) -> None:
        """Store ``document`` whatever is there (the back-fill's progress: one writer)."""
        self.client.index(index=self.index, id=name, document=dict(document))

    def _get(self, name: str) -> tuple[dict[str, Any], tuple[int, int]] | None:
        try:
            found = self.client.get(index=self.index, id=name)
        except NotFoundError:
            return None
        return dict(found["_source"]), (int(found["_seq_no"]), int(found["_primary_term"]))

    def _put(
        self, name: str, document: Mapping[str, Any], version: tuple[int, int] | None
    ) -> tuple[int, int]:
        options: dict[str, Any] = (
            {"op_type": "create"}
            if version is None
            else {"if_seq_no": version[0], "if_primary_term": version[1]}
        )
        try:
            answer = self.client.index(
                index=self.index, id=name, document=dict(document), **options
            )
        except ConflictError as error:
            raise StateConflict(f"the rollup state {name!r} was written by another run") from error
        return int(answer["_seq_no"]), int(answer["_primary_term"])
