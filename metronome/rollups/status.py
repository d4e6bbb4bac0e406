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
from metronome.rollups.buckets import GRAINS, Grain
from metronome.rollups.job import StreamPlan
from metronome.rollups.state import BACKFILL_PREFIX, StateStore


@dataclass(frozen=True)
class GrainStatus:
    grain: Grain
    complete_from: datetime | None
    complete_through: datetime | None
    documents: int
    lag_seconds: float | None  # now - complete_through


def rollup_documents(client: Elasticsearch, prefix: str, stream: str, grain: Grain) -> int:
    answer = client.count(
        index=rollup_pattern(prefix, stream, grain), ignore_unavailable=True, allow_no_indices=True
    )
    return int(answer["count"])


def stream_status(
    client: Elasticsearch, prefix: str, store: StateStore, plan: StreamPlan, now: datetime
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


def status_lines(streams: Sequence[dict[str, Any]]) -> list[str]:
    """The status as text: one line per stream and grain, then what needs attention."""
    lines = [f"{'stream':<10} {'grain':<5} {'complete from':<25} {'complete through':<25} "
             f"{'documents':>10} {'lag':>10}"]  # fmt: skip
    for stream in streams:
        for grain in stream["grains"]:
            lag = grain["lag_seconds"]
            lines.append(
                f"{stream['stream']:<10} {grain['grain']:<5} "
                f"{grain['complete_from'] or '-':<25} {grain['complete_through'] or '-':<25} "
                f"{grain['documents']:>10,} {_duration(lag):>10}"
            )
    for stream in streams:
        name = stream["stream"]
        run = stream["last_run"]
        if run:
            lines.append(
                f"{name}: last run {run.get('at')}: {run.get('ranges', 0)} ranges, "
                f"{run.get('written', 0)} written, {run.get('deleted', 0)} deleted "
                f"in {run.get('seconds', 0)}s; last sweep {stream['last_sweep'] or 'never'}"
            )
        else:
            lines.append(f"{name}: the rollup job has not run yet")
        if stream["pending"]:
            lines.append(f"{name}: {stream['pending']} ranges left pending by an interrupted run")
        for stale in stream["stale"]:
            last = datetime.fromisoformat(stale["to"]) - timedelta(microseconds=1)
            lines.append(
                f"{name}: stale (raw changed before the late-data window) {stale['from']} to "
                f"{stale['to']}: run `metronome rollups backfill --stream {name} "
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


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
