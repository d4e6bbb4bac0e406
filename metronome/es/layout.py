"""What a layout costs in shards over the years: each stream's indices at its period, plus the
single indices (alerts, dashboards, ...), and the rollup indices (an hourly and a daily one per
stream with rollups and year). One shard per index on one node (a cluster of two nodes or more
doubles it with the replica). The target is for the raw streams and the single indices; the
rollups are told beside it.

Pure functions, so the estimate is the same in ``metronome es layout``, ``metronome doctor``
and the tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from metronome.config import Period, RollupSettings, StorageSettings
from metronome.es.templates import load_templates

# The streams Metronome writes itself: page views, server logs, and the built-in sources
# (GitHub also by its webhook; http_json is its sources' default stream).
BUILT_IN_STREAMS = ("hits", "logs", "github", "s3", "ga4", "prometheus", "http_json")
TARGET_SHARDS = 300  # ten years of every built-in stream at its default period stay under this
DAYS_PER_YEAR = 365.2425
# rollup indices per stream and year: one per grain (metronome.query.rollup_schema.GRAINS)
ROLLUP_INDICES_PER_YEAR = 2


def indices_over(period: Period, years: int) -> int:
    """How many indices of ``period`` ``years`` calendar years take."""
    if period == "day":
        return round(DAYS_PER_YEAR * years)
    return 12 * years if period == "month" else years


@dataclass(frozen=True)
class StreamCost:
    stream: str
    period: Period
    shards: int


@dataclass(frozen=True)
class Estimate:
    years: int
    streams: tuple[StreamCost, ...]
    single: int  # one index each: alerts, dashboards, dead letters...
    rollup_streams: tuple[str, ...] = ()  # the streams with rollups

    @property
    def total(self) -> int:
        """The raw streams' shards and the single indices' (what the target is for)."""
        return sum(cost.shards for cost in self.streams) + self.single

    @property
    def rollups(self) -> int:
        return ROLLUP_INDICES_PER_YEAR * self.years * len(self.rollup_streams)

    @property
    def within_target(self) -> bool:
        return self.total < TARGET_SHARDS

    def lines(self) -> list[str]:
        width = max(len(cost.stream) for cost in self.streams) if self.streams else 0
        rows = [
            f"{cost.stream:<{width}}  {cost.period:<5}  {cost.shards:>5} shards"
            for cost in self.streams
        ]
        rows.append(f"{'single indices':<{width}}  {'':<5}  {self.single:>5} shards")
        verdict = "under" if self.within_target else "OVER"
        rows.append(
            f"{self.years} years of every stream: {self.total} shards on one node "
            f"({verdict} the target of {TARGET_SHARDS})"
        )
        if self.rollup_streams:
            rows.append(
                f"and their rollups (an hourly and a daily index per year of "
                f"{', '.join(self.rollup_streams)}): {self.rollups} shards more, "
                f"{self.total + self.rollups} in all"
            )
        return rows


def layout_estimate(
    storage: StorageSettings,
    *,
    years: int = 10,
    streams: Sequence[str] = BUILT_IN_STREAMS,
    single: int = 0,
    rollup_streams: Sequence[str] = (),
) -> Estimate:
    """The shards ``years`` of ``streams`` take at their configured periods, plus ``single``
    indices of one shard each, and the rollups of ``rollup_streams``."""
    costs = tuple(
        StreamCost(
            stream, storage.period_of(stream), indices_over(storage.period_of(stream), years)
        )
        for stream in streams
    )
    return Estimate(years=years, streams=costs, single=single, rollup_streams=tuple(rollup_streams))


def rollup_streams(rollups: RollupSettings) -> tuple[str, ...]:
    """The streams that have rollups (groups, with rollups enabled)."""
    return tuple(stream for stream in rollups.groups if rollups.groups_of(stream))


def single_indices(prefix: str) -> int:
    """How many single indices the index templates declare (patterns without a wildcard)."""
    return sum(
        1
        for template in load_templates(prefix)
        if template.kind == "index"
        and all("*" not in pattern for pattern in template.body.get("index_patterns", []))
    )
