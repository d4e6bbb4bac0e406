"""Back-fill: build the rollups of past data (``metronome rollups backfill``), day by day, with
progress, resumable.

The days done are recorded as the back-fill goes (document ``backfill:<stream>`` of the state
index): the same command run again after an interruption continues after the last day done.
Only days that hold raw documents or rollups are visited. A day that has rollups but no raw
documents any more (its raw index was deleted, by retention for instance) is left as it is
and reported, so a back-fill never wipes rollups whose raw data is gone.

When done, the stream's state says the rollups of each group reach back to the back-fill's
start (when the back-fill joins the range they already covered), and the stale ranges it
covered are cleared: the job's next run moves the watermark accordingly.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from metronome.rollups import detect
from metronome.rollups.buckets import GRAINS, STEP, subtract, window_start
from metronome.rollups.job import Rollups, StreamPlan
from metronome.rollups.state import BACKFILL_PREFIX, GroupState, StateConflict, StateStore

DAY = STEP["day"]
SAY_EVERY = 5.0  # seconds between two progress lines
CHUNK_DAYS = 7  # consecutive days recomputed by one call per group and grain


@dataclass
class Progress:
    stream: str
    total: int  # days to do in this session
    done: int = 0
    skipped: int = 0  # days done by an earlier, interrupted session
    written: int = 0
    deleted: int = 0
    through: datetime | None = None  # the last day done
    started: float = field(default_factory=time.monotonic)

    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def line(self) -> str:
        """How far (days, share, the last day done), what it wrote, how fast, how long left."""
        elapsed = self.elapsed()
        rate = self.done / elapsed
        left = self.total - self.done
        eta = format_seconds(left / rate) if rate > 0 else "unknown"
        share = 100.0 * self.done / self.total if self.total else 100.0
        day = f" (through {self.through:%Y-%m-%d})" if self.through else ""
        return (
            f"{self.stream}: {self.done}/{self.total} days{day}, {share:.0f} %, "
            f"{self.written:,} rollup documents written, {rate:.1f} days/s, "
            f"elapsed {format_seconds(elapsed)}, about {eta} left"
        )


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def format_seconds(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass
class BackfillResult:
    stream: str
    start: datetime
    end: datetime
    days: int = 0
    resumed_after: datetime | None = None
    no_raw: list[datetime] = field(default_factory=list)
    written: int = 0
    deleted: int = 0
    stopped: bool = False
    seconds: float = 0.0


def days_to_do(
    client: Elasticsearch,
    rollups: Rollups,
    plan: StreamPlan,
    start: datetime,
    end: datetime,
) -> tuple[list[datetime], list[datetime]]:
    """(days to recompute, days with rollups but no raw documents) of ``[start, end)``."""
    raw = detect.raw_day_counts(client, rollups.raw_index(plan.stream, start, end), start, end)
    rolled: set[datetime] = set()
    for group in plan.groups:
        rolled |= {
            day
            for day, count in rollups.counts(plan.stream, group, "day", start, end).items()
            if count
        }
    return sorted(raw), sorted(rolled - set(raw))


def chunks(days: Sequence[datetime], most: int) -> list[tuple[datetime, datetime]]:
    """Sorted days as (first, last) runs of at most ``most`` consecutive days."""
    runs: list[tuple[datetime, datetime]] = []
    for day in days:
        if runs and day - runs[-1][1] == DAY and (day - runs[-1][0]) / DAY < most:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def backfill_stream(
    client: Elasticsearch,
    rollups: Rollups,
    store: StateStore,
    plan: StreamPlan,
    *,
    start: datetime,
    end: datetime,
    say: Callable[[str], None],
    stop: threading.Event | None = None,
    restart: bool = False,
    now: datetime,
) -> BackfillResult:
    """Recompute every group's hour and day rollups of the days of ``[start, end)`` (UTC day
    boundaries) that hold data; resume an interrupted back-fill of the same range."""
    result = BackfillResult(plan.stream, start, end)
    store.ensure()
    name = BACKFILL_PREFIX + plan.stream
    shapes = dict(sorted(plan.groups.items()))
    resume_after: datetime | None = None
    found = store.read_raw(name)
    if found is not None and not restart:
        body = found[0]
        same = (
            body.get("from") == start.isoformat()
            and body.get("to") == end.isoformat()
            and body.get("groups") == shapes
        )
        if same and not body.get("finished") and body.get("done_through"):
            resume_after = datetime.fromisoformat(str(body["done_through"]))
    result.resumed_after = resume_after
    days, no_raw = days_to_do(client, rollups, plan, start, end)
    result.no_raw = no_raw
    todo = [day for day in days if resume_after is None or day >= resume_after]
    progress = Progress(plan.stream, len(todo), skipped=len(days) - len(todo))
    record: dict[str, Any] = {
        "kind": "rollup-backfill",
        "stream": plan.stream,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "groups": shapes,
        "done_through": resume_after.isoformat() if resume_after else None,
        "finished": False,
    }
    if resume_after is not None:
        say(f"{plan.stream}: resuming after {resume_after:%Y-%m-%d} ({progress.skipped} days done)")
    if todo:
        say(
            f"{plan.stream}: {len(todo)} days with events to roll up, {todo[0]:%Y-%m-%d} to "
            f"{todo[-1]:%Y-%m-%d}: {_count(len(plan.groups), 'group')}, hourly and daily"
        )
    store.put_any(name, record)
    said = time.monotonic()
    for first, last in chunks(todo, CHUNK_DAYS):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        for group in plan.groups:
            for grain in GRAINS:
                written, deleted = rollups.recompute(plan.stream, group, grain, first, last + DAY)
                progress.written += written
                progress.deleted += deleted
        progress.done += round((last - first) / DAY) + 1
        progress.through = last
        record["done_through"] = (last + DAY).isoformat()
        if time.monotonic() - said >= SAY_EVERY and progress.done < progress.total:
            store.put_any(name, record)
            say(progress.line())
            said = time.monotonic()
    result.days, result.written, result.deleted = progress.done, progress.written, progress.deleted
    result.seconds = progress.elapsed()
    record["finished"] = not result.stopped
    store.put_any(name, record)
    if todo:
        say(progress.line())
    if not result.stopped:
        _record_coverage(store, plan, start, end, window_start(now, plan.late_window))
    return result


def _record_coverage(
    store: StateStore, plan: StreamPlan, start: datetime, end: datetime, window: datetime
) -> None:
    """The groups' rollups now reach back to ``start`` (when ``[start, end)`` joins what they
    covered, or the window the job's first run fills); the stale ranges inside are repaired."""
    for _ in range(10):
        state = store.read(plan.stream)
        groups = dict(state.groups)
        for group, shape in plan.groups.items():
            known = groups.get(group)
            if known is None or known.shape != shape:
                if state.checkpoint is None and end >= window:  # the job's first run joins it
                    groups[group] = GroupState(shape, start)
            elif start < known.since <= end:
                groups[group] = GroupState(shape, start)
        stale = tuple(subtract(state.stale, (start, end)))
        try:
            store.write(state.updated(groups=groups, stale=stale))
            return
        except StateConflict:  # the job wrote meanwhile: read again
            time.sleep(0.2)
    raise StateConflict(f"could not record the back-fill of {plan.stream}: the state kept changing")


def default_range(
    client: Elasticsearch, prefix: str, stream: str, now: datetime
) -> tuple[datetime, datetime] | None:
    """From the UTC day of the stream's first document through today; None when empty."""
    first = detect.first_document(client, prefix, stream)
    if first is None:
        return None
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return first.replace(hour=0, minute=0, second=0, microsecond=0), today + timedelta(days=1)
