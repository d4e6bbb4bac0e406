"""The rollups of one index prefix in Elasticsearch, as the job and the back-fill use them:
recompute a range (``metronome.rollups.compute``), count what the rollups hold per bucket, and
record the watermark (``metronome.query.rollup_schema``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from elasticsearch import Elasticsearch

from metronome.config.rollups import RollupGroup, RollupSettings
from metronome.es.naming import indices_for_range
from metronome.query.rollup_schema import (
    GROUP_FIELD,
    Watermark,
    group_signature,
    rollup_indices,
    state_index,
    write_watermark,
)
from metronome.rollups.buckets import Grain
from metronome.rollups.compute import rollup_range
from metronome.rollups.detect import moment_of
from metronome.rollups.job import JobOptions, RollupJob, StreamPlan, utc_now
from metronome.rollups.state import StateStore

INTERVAL: Mapping[Grain, str] = {"hour": "1h", "day": "1d"}


def stream_plans(
    settings: RollupSettings,
    raw_days: Mapping[str, int] | None = None,
    rollup_days: int | None = None,
) -> list[StreamPlan]:
    """Every stream with at least one group, as the job sees it. ``raw_days``: how long
    retention keeps each stream's raw indices (``retention.raw_days``): the late-data window
    stops there, so the job never recomputes (and so empties) buckets whose raw events
    retention has deleted. ``rollup_days`` (``retention.rollup_days``): the watermark claims
    no rollups older than that."""
    kept = raw_days or {}
    rollups_kept = None if rollup_days is None else timedelta(days=rollup_days)
    return [
        StreamPlan(
            stream=stream,
            groups={group.name: group_signature(group) for group in settings.groups_of(stream)},
            late_window=min(
                timedelta(seconds=settings.late_window_of(stream)),
                timedelta(days=kept.get(stream, 36_500)),
            ),
            rollups_kept=rollups_kept,
        )
        for stream in sorted(settings.groups)
        if settings.groups_of(stream)
    ]


class EsRollups:
    def __init__(self, client: Elasticsearch, prefix: str, settings: RollupSettings) -> None:
        self.client = client
        self.prefix = prefix
        self.groups: dict[tuple[str, str], RollupGroup] = {
            (stream, group.name): group
            for stream in settings.groups
            for group in settings.groups_of(stream)
        }
        self._marked: dict[tuple[str, Grain], tuple[object, ...]] = {}

    def recompute(
        self, stream: str, group: str, grain: Grain, start: datetime, end: datetime
    ) -> tuple[int, int]:
        definition = self.groups[(stream, group)]
        # the job and back-fill recompute a range's hours before its days (plan.merged), so a
        # day may be summed from its hours when they are much fewer than its events
        done = rollup_range(
            self.client, self.prefix, stream, definition, grain, start, end,
            day_source="cheaper" if grain == "day" else "raw",
        )  # fmt: skip
        return done.written, done.deleted

    def counts(
        self, stream: str, group: str, grain: Grain, start: datetime, end: datetime
    ) -> dict[datetime, int]:
        """Raw documents per bucket the rollups of ``group`` hold (``_doc_count``)."""
        if end <= start:
            return {}
        time_range = {"gte": start.isoformat(), "lt": end.isoformat()}
        answer = self.client.search(
            index=rollup_indices(self.prefix, stream, grain, start, end),
            size=0,
            query={
                "bool": {
                    "filter": [
                        {"term": {GROUP_FIELD: group}},
                        {"range": {"@timestamp": time_range}},
                    ]
                }
            },
            aggs={
                "buckets": {
                    "date_histogram": {
                        "field": "@timestamp",
                        "fixed_interval": INTERVAL[grain],
                        "min_doc_count": 1,
                    }
                }
            },
            ignore_unavailable=True,
            allow_no_indices=True,
            track_total_hits=False,
            request_cache=False,
        )
        buckets = answer.body.get("aggregations", {}).get("buckets", {}).get("buckets", [])
        return {moment_of(bucket["key"]): int(bucket["doc_count"]) for bucket in buckets}

    def raw_index(self, stream: str, start: datetime, end: datetime) -> str:
        return indices_for_range(self.prefix, stream, start, end)

    def mark(
        self,
        stream: str,
        grain: Grain,
        complete_from: datetime,
        through: datetime,
        groups: Mapping[str, str],
    ) -> None:
        """Written when it changed (a write waits for the index's refresh)."""
        key = (stream, grain)
        value = (complete_from, through, tuple(sorted(groups.items())))
        if self._marked.get(key) == value:
            return
        write_watermark(
            self.client,
            self.prefix,
            Watermark(
                stream=stream,
                grain=grain,
                complete_through=through,
                complete_from=complete_from,
                groups=dict(groups),
            ),
        )
        self._marked[key] = value


@dataclass(frozen=True)
class RollupService:
    """What the job, the back-fill and the status need, from the settings."""

    plans: tuple[StreamPlan, ...]
    rollups: EsRollups
    store: StateStore
    job: RollupJob

    def plan(self, stream: str) -> StreamPlan | None:
        return next((plan for plan in self.plans if plan.stream == stream), None)


def rollup_service(
    client: Elasticsearch,
    prefix: str,
    settings: RollupSettings,
    *,
    clock: Callable[[], datetime] = utc_now,
    raw_days: Mapping[str, int] | None = None,
    rollup_days: int | None = None,
) -> RollupService:
    plans = tuple(stream_plans(settings, raw_days, rollup_days))
    rollups = EsRollups(client, prefix, settings)
    store = StateStore(client, state_index(prefix), prefix)
    options = JobOptions(settle=settings.settle, sweep_every=settings.sweep_interval)
    job = RollupJob(
        plans, rollups, client=client, prefix=prefix, store=store, options=options, clock=clock
    )
    return RollupService(plans, rollups, store, job)
