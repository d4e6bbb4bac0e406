"""``metronome rollups status``: per stream and grain, how far the rollups are complete (the
watermark), how many rollup documents there are, and how far behind the present they are;
per stream, the job's last run, what a killed run left pending and the stale ranges a
back-fill should recompute."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch

from metronome.query.rollup_schema import read_watermarks, rollup_pattern
from metronome.rollups.buckets import GRAINS, STEP, Grain
from metronome.rollups.job import StreamPlan
from metronome.rollups.state import BACKFILL_PREFIX, StateStore


@dataclass(frozen=True)
class GrainStatus:
    grain: Grain
    complete_from: datetime | None
    complete_through: datetime | None
    documents: int
    lag_seconds: float | None  # now - complete_through
    behind_seconds: float | None  # ended buckets not rolled up yet (0: current)


def rollup_documents(client: Elasticsearch, prefix: str, stream: str, grain: Grain) -> int:
    answer = client.count(
        index=rollup_pattern(prefix, stream, grain), ignore_unavailable=True, allow_no_indices=True
    )
    return int(answer["count"])


def behind(through: datetime | None, now: datetime, settle: float, grain: Grain) -> float | None:
    """Seconds since the first bucket not rolled up yet ended and settled: 0 when every ended
    bucket is (the job makes each within ``settle + interval`` of its end); None when there
    is no watermark."""
    if through is None:
        return None
    late = (now - timedelta(seconds=settle)) - (through + STEP[grain])
    return max(0.0, round(late.total_seconds(), 1))


def stream_status(
    client: Elasticsearch,
    prefix: str,
    store: StateStore,
    plan: StreamPlan,
    *,
    now: datetime,
    settle: float = 30.0,
) -> dict[str, Any]:
    marks = read_watermarks(client, prefix, plan.stream)
    grains: list[GrainStatus] = []
    for grain in GRAINS:
        mark = marks.get(grain)
        through = mark.complete_through if mark else None
        grains.append(
            GrainStatus(
                grain=grain,
                complete_from=mark.complete_from if mark else None,
                complete_through=through,
                documents=rollup_documents(client, prefix, plan.stream, grain),
                lag_seconds=None if through is None else (now - through).total_seconds(),
                behind_seconds=behind(through, now, settle, grain),
            )
        )
    state = store.read(plan.stream)
    backfill = store.read_raw(BACKFILL_PREFIX + plan.stream)
    return {
        "stream": plan.stream,
        "late_window_seconds": plan.late_window.total_seconds(),
        "groups": sorted(plan.groups),
        "grains": [
            {
                "grain": g.grain,
                "complete_from": _iso(g.complete_from),
                "complete_through": _iso(g.complete_through),
                "documents": g.documents,
                "lag_seconds": None if g.lag_seconds is None else round(g.lag_seconds, 1),
                "behind_seconds": g.behind_seconds,
            }
            for g in grains
        ],
        "checkpoint": _iso(state.checkpoint),
        "last_sweep": _iso(state.last_sweep),
        "last_run": dict(state.last_run),
        "pending": len(state.pending),
        "stale": [{"from": _iso(start), "to": _iso(end)} for start, end in state.stale],
        "backfill": None if backfill is None else _backfill(backfill[0]),
    }


def _backfill(body: dict[str, Any]) -> dict[str, Any]:
    return {key: body.get(key) for key in ("from", "to", "done_through", "finished")}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def status_lines(streams: Sequence[dict[str, Any]], now: datetime) -> list[str]:
    """The status as text: a table of streams and grains, then a line per stream on the job's
    last run, and what needs attention."""
    lines = [
        "Times in UTC. Queries answer from rollups between 'complete from' and 'complete "
        "through', from raw events elsewhere.",
        f"{'stream':<10} {'grain':<5}  {'complete from':<16}  {'complete through':<16}  "
        f"{'documents':>10}  state",
    ]
    for stream in streams:
        for grain in stream["grains"]:
            lines.append(
                f"{stream['stream']:<10} {grain['grain']:<5}  {_minute(grain['complete_from']):<16}"
                f"  {_minute(grain['complete_through']):<16}  {grain['documents']:>10,}  "
                f"{_state(grain['behind_seconds'])}"
            )
    lines.append("")
    for stream in streams:
        name = stream["stream"]
        run = stream["last_run"]
        window = _duration(stream["late_window_seconds"])
        groups = len(stream["groups"])
        head = f"{name}: {groups} group{'s' if groups != 1 else ''}, late-data window {window}"
        if run:
            at = datetime.fromisoformat(run["at"])
            sweep = stream["last_sweep"]
            swept = _ago(datetime.fromisoformat(sweep), now) if sweep else "never"
            lines.append(
                f"{head}; last run {_ago(at, now)} ({at:%H:%M:%S}): "
                f"{run.get('ranges', 0)} ranges recomputed, {run.get('written', 0):,} "
                f"documents written, {run.get('deleted', 0):,} deleted in "
                f"{run.get('seconds', 0)}s; last sweep {swept}"
            )
        else:
            lines.append(f"{head}; the rollup job has not run yet")
        if stream["pending"]:
            lines.append(f"{name}: {stream['pending']} ranges left pending by an interrupted run")
        for stale in stream["stale"]:
            last = datetime.fromisoformat(stale["to"]) - timedelta(microseconds=1)
            lines.append(
                f"{name}: stale (raw changed before the late-data window) {_minute(stale['from'])}"
                f" to {_minute(stale['to'])}: run `metronome rollups backfill --stream {name} "
                f"--from {stale['from'][:10]} --to {last:%Y-%m-%d}`"
            )
        backfill = stream["backfill"]
        if backfill and not backfill["finished"]:
            lines.append(
                f"{name}: back-fill {backfill['from'][:10]} to {backfill['to'][:10]} "
                f"interrupted after {str(backfill['done_through'] or backfill['from'])[:10]}"
                ": run it again to resume"
            )
    return lines


def _minute(text: str | None) -> str:
    return "-" if not text else f"{datetime.fromisoformat(text):%Y-%m-%d %H:%M}"


def _state(behind_seconds: float | None) -> str:
    if behind_seconds is None:
        return "no rollups yet"
    return "up to date" if behind_seconds <= 0 else f"{_duration(behind_seconds)} behind"


def _ago(moment: datetime, now: datetime) -> str:
    return f"{_duration(max(0.0, (now - moment).total_seconds()))} ago"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f}".removesuffix(".0") + "h"
    return f"{seconds / 86400:.1f}".removesuffix(".0") + "d"
