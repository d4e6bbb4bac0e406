"""The rollup job: keeps every configured group's hourly and daily rollups equal to the raw
documents of the late-data window, run by the scheduler under its lease (``metronome
scheduler``; see docs/rollups.md).

One run, per stream:

1. read the stream's state (metronome.rollups.state);
2. decide the work (metronome.rollups.plan): what a killed run left pending; the whole window
   at the first run (and for a group that is new or was changed); the buckets that ended
   since the last run; the buckets of the documents written to the raw indices since the
   last run (by sequence number, metronome.rollups.detect); and, when due, the buckets whose
   raw and rollup counts differ (sweep);
3. record that work as pending, recompute it (``metronome.rollups.compute.rollup_range``,
   idempotent: it replaces each range's rollup documents), then record the new sequence
   numbers seen with nothing pending;
4. move the watermark of each grain to what is complete.

A run killed anywhere leaves either the old state (its work is found again from the old
sequence numbers) or the pending work (redone first): rollups end equal to raw either way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from elasticsearch import Elasticsearch

from metronome.rollups import detect
from metronome.rollups.buckets import (
    GRAINS,
    Grain,
    Span,
    clip,
    floor,
    merge,
    union,
    window_start,
)
from metronome.rollups.plan import (
    changed_work,
    closing,
    differing,
    merged,
    split_window,
    sweep_due,
    sweep_work,
    watermark,
)
from metronome.rollups.state import GroupState, Pending, ShardMark, StateStore

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Rollups(Protocol):
    """The rollup documents of one index prefix, as the job uses them."""

    def recompute(
        self, stream: str, group: str, grain: Grain, start: datetime, end: datetime
    ) -> tuple[int, int]:
        """Rebuild ``[start, end)`` from raw; (documents written, deleted)."""

    def counts(
        self, stream: str, group: str, grain: Grain, start: datetime, end: datetime
    ) -> dict[datetime, int]:
        """Raw documents each rollup bucket of ``[start, end)`` says it holds."""

    def raw_index(self, stream: str, start: datetime, end: datetime) -> str:
        """The raw indices a read of ``[start, end)`` names."""

    def mark(
        self,
        stream: str,
        grain: Grain,
        complete_from: datetime,
        through: datetime,
        groups: Mapping[str, str],
    ) -> None:
        """Record the watermark: the ``grain`` rollups of ``groups`` (name -> definition's
        signature) are complete in ``[complete_from, through)``."""


@dataclass(frozen=True)
class StreamPlan:
    """The job's view of one stream's configuration."""

    stream: str
    groups: Mapping[str, str]  # group name -> a fingerprint of its definition
    late_window: timedelta
    rollups_kept: timedelta | None = None  # retention.rollup_days: older rollups may be gone


@dataclass(frozen=True)
class JobOptions:
    settle: float = 30.0  # seconds a document may take from received to searchable
    sweep_every: float = 3600.0  # seconds between two sweeps of the whole window


@dataclass
class StreamRun:
    stream: str
    began: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    ranges: int = 0
    written: int = 0
    deleted: int = 0
    swept: bool = False
    changed_hours: int = 0
    removed: int = 0  # shards with documents deleted since the last run (a sweep follows)
    stale: list[Span] = field(default_factory=list)
    error: str | None = None

    def describe(self) -> str:
        if self.error:
            return f"rollups {self.stream}: FAILED after {self.seconds:.1f}s: {self.error}"
        removed = f" (documents deleted in {self.removed} shards)" if self.removed else ""
        sweep = f", swept the window{removed}" if self.swept else ""
        stale = f", {len(self.stale)} stale ranges before the window" if self.stale else ""
        return (
            f"rollups {self.stream}: {self.ranges} ranges recomputed ({self.written} written, "
            f"{self.deleted} deleted) in {self.seconds:.1f}s{sweep}{stale}"
        )


class RollupJob:
    def __init__(
        self,
        streams: Sequence[StreamPlan],
        rollups: Rollups,
        *,
        client: Elasticsearch,
        prefix: str,
        store: StateStore,
        options: JobOptions = JobOptions(),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.streams = tuple(streams)
        self.rollups = rollups
        self.client = client
        self.prefix = prefix
        self.store = store
        self.options = options
        self.clock = clock

    def run(self, *, sweep: bool | None = None) -> list[StreamRun]:
        """One run over every stream. ``sweep`` forces (True) or skips (False) the sweep;
        None sweeps when due. A stream's failure is reported and does not stop the others."""
        runs: list[StreamRun] = []
        for plan in self.streams:
            run = StreamRun(plan.stream)
            try:
                self.run_stream(plan, run, sweep)
            except Exception as error:
                log.exception("rollups of %s failed", plan.stream)
                run.error = f"{type(error).__name__}: {error}"
            run.seconds = time.monotonic() - run.began
            runs.append(run)
        return runs

    def run_stream(self, plan: StreamPlan, run: StreamRun, sweep: bool | None) -> None:
        self.store.ensure()
        now = self.clock()
        options = self.options
        frontier = now - timedelta(seconds=options.settle)
        start = window_start(now, plan.late_window)
        state = self.store.read(plan.stream)
        changed = [
            name
            for name, shape in plan.groups.items()
            if name not in state.groups or state.groups[name].shape != shape
        ]
        groups = {
            name: GroupState(shape, start if name in changed else state.groups[name].since)
            for name, shape in plan.groups.items()
        }
        complete_from = max((group.since for group in groups.values()), default=start)
        first = state.checkpoint is None
        whole = list(plan.groups) if first else changed
        rest = [name for name in plan.groups if name not in whole]
        closed = {grain: max(state.closed.get(grain, start), start) for grain in GRAINS}
        if first:
            closed = {grain: start for grain in GRAINS}
        ending = {grain: max(floor(frontier, grain), start) for grain in GRAINS}
        window = {grain: start for grain in GRAINS}
        work: list[Pending] = [
            *state.pending,
            *closing(whole, window, ending),
            *closing(rest, closed, ending),
        ]
        stale = list(state.stale)
        marks = detect.shard_marks(self.client, self.prefix, plan.stream)
        if not first:
            found, run.stale, removed = self._changes(
                plan, state.seen, marks, rest, (start, complete_from), closed, run
            )
            work += found
            stale = union([*stale, *run.stale])
            if removed and sweep is None:  # deletions: their hours are unknown
                sweep = True
        swept_at = now if first else state.last_sweep
        due = sweep_due(state.last_sweep, now, options.sweep_every)
        if rest and (sweep is True or (sweep is None and due)):
            work += self._sweep(plan, rest, start, closed)
            run.swept = True
            swept_at = now
        todo = merged(item for item in work if item.group in plan.groups and item.end > item.start)
        if todo:
            state = self.store.write(state.updated(pending=todo))
        for item in todo:
            written, deleted = self.rollups.recompute(
                plan.stream, item.group, item.grain, item.start, item.end
            )
            run.written += written
            run.deleted += deleted
        run.ranges = len(todo)
        summary = {
            "at": now.isoformat(),
            "seconds": round(time.monotonic() - run.began, 3),
            "ranges": run.ranges,
            "written": run.written,
            "deleted": run.deleted,
            "swept": run.swept,
        }
        self.store.write(
            state.updated(
                checkpoint=now,
                last_sweep=swept_at,
                complete_from=complete_from,
                pending=(),
                stale=tuple(stale),
                groups=groups,
                closed=ending,
                seen=marks,
                last_run=summary,
            )
        )
        if plan.rollups_kept is not None:  # what retention may have deleted is not claimed
            complete_from = max(complete_from, floor(now - plan.rollups_kept, "day"))
        for grain in GRAINS:
            self.rollups.mark(
                plan.stream,
                grain,
                floor(complete_from, grain),
                watermark(frontier, grain, stale),
                {name: group.shape for name, group in groups.items()},
            )

    def _changes(  # noqa: PLR0917
        self,
        plan: StreamPlan,
        seen: Mapping[str, ShardMark],
        marks: Mapping[str, ShardMark],
        groups: Sequence[str],
        window: tuple[datetime, datetime],
        closed: Mapping[Grain, datetime],
        run: StreamRun,
    ) -> tuple[list[Pending], list[Span], bool]:
        """From the writes since ``seen``: the work in the window (``window``: its start, and
        where the rollups' coverage starts), the stale ranges before it, and whether some
        shard had documents deleted."""
        start, complete_from = window
        since_seen = detect.changed_shards(seen, marks)
        known = {name: seq for name, seq in since_seen.items() if seq[0] >= 0}
        new = {name: seq for name, seq in since_seen.items() if seq[0] < 0}
        changes = detect.changed_hours(self.client, known)
        hours, copied = changes.hours, detect.changed_hours(self.client, new).hours
        run.changed_hours = len(set(hours) | set(copied))
        run.removed = len(changes.removed)
        inside, before = split_window(sorted(hours), start)
        inside_new, before_new = split_window(sorted(copied), start)
        stale = union(
            [
                *clip(before, complete_from, start),
                *self._differing(plan, groups, clip(before_new, complete_from, start)),
            ]
        )
        return changed_work(groups, [*inside, *inside_new], closed), stale, bool(changes.removed)

    def _differing(
        self, plan: StreamPlan, groups: Sequence[str], spans: Sequence[Span]
    ) -> list[Span]:
        """The hours of ``spans`` whose raw count differs from a group's. For documents before
        the window found in an index the job had not seen: documents copied into new indices
        (a change of the stream's index period) leave the counts as they were and are not
        stale; a new day's index of late or back-dated documents does not."""
        bad: set[datetime] = set()
        for start, end in spans:
            index = self.rollups.raw_index(plan.stream, start, end)
            raw = detect.raw_hour_counts(self.client, index, start, end)
            for group in groups:
                rolled = self.rollups.counts(plan.stream, group, "hour", start, end)
                bad.update(differing(raw, rolled, "hour", start, end))
        return merge(bad, "hour")

    def _sweep(
        self,
        plan: StreamPlan,
        groups: Sequence[str],
        start: datetime,
        closed: Mapping[Grain, datetime],
    ) -> list[Pending]:
        """Buckets of the window that have been computed and whose raw and rollup counts
        differ, for each group."""
        end = closed["hour"]
        if not groups or end <= start:
            return []
        index = self.rollups.raw_index(plan.stream, start, end)
        raw = detect.raw_hour_counts(self.client, index, start, end)
        work: list[Pending] = []
        for group in groups:
            rolled: dict[Grain, dict[datetime, int]] = {
                grain: self.rollups.counts(plan.stream, group, grain, start, closed[grain])
                for grain in GRAINS
            }
            work += sweep_work(group, raw, rolled, start, closed)
        return work
