"""What ``metronome doctor`` checks of Elasticsearch, one line each: the cluster answers, the
shard budget, what ten years of the configured layout would take, indices left at another
period than their stream's, and shards grown too large for their period."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.config import RollupSettings, StorageSettings
from metronome.es.layout import TARGET_SHARDS, layout_estimate, rollup_streams, single_indices
from metronome.es.migrate import plan_moves, stream_indices
from metronome.es.shards import Status, shard_budget

# Past these, a shard is slow to move and recover: the stream wants a shorter period.
MAX_SHARD_DOCS = 200_000_000
MAX_SHARD_BYTES = 50 * 1024**3
EXIT_CODES: Mapping[Status, int] = {"OK": 0, "WARN": 1, "FAIL": 2}


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str

    def line(self) -> str:
        return f"{self.status:<4}  {self.name}: {self.detail}"


def exit_code(checks: list[Check]) -> int:
    """0 when every check is OK, 1 with a warning, 2 with a failure."""
    return max((EXIT_CODES[check.status] for check in checks), default=0)


def run_checks(
    client: Elasticsearch,
    prefix: str,
    storage: StorageSettings,
    rollups: RollupSettings | None = None,
) -> list[Check]:
    checks = [layout_check(prefix, storage, rollups)]
    try:
        health = client.cluster.health().body
    except (TransportError, EsApiError) as error:
        checks.insert(0, Check("elasticsearch", "FAIL", f"not reachable ({error})"))
        return checks
    color = str(health.get("status"))
    status: Status = "OK" if color == "green" else "WARN" if color == "yellow" else "FAIL"
    nodes = int(health.get("number_of_data_nodes", 0))
    plural = "" if nodes == 1 else "s"
    checks.insert(
        0, Check("elasticsearch", status, f"cluster health {color}, {nodes} data node{plural}")
    )
    try:
        budget = shard_budget(client, storage.shard_warn_ratio, health)
        checks.append(Check("shard budget", budget.status, budget.describe()))
        checks.append(migration_check(client, prefix, storage))
        checks.append(shard_size_check(client, prefix))
    except (TransportError, EsApiError) as error:
        checks.append(Check("indices", "FAIL", f"Elasticsearch did not answer ({error})"))
    return checks


def layout_check(
    prefix: str, storage: StorageSettings, rollups: RollupSettings | None = None
) -> Check:
    estimate = layout_estimate(
        storage,
        single=single_indices(prefix),
        rollup_streams=rollup_streams(rollups) if rollups is not None else (),
    )
    periods = ", ".join(f"{cost.stream} {cost.period}" for cost in estimate.streams)
    detail = (
        f"ten years of the built-in streams at their periods ({periods}) take "
        f"{estimate.total} shards (target: under {TARGET_SHARDS}; `metronome es layout`)"
    )
    if estimate.rollup_streams:
        detail += f", their rollups {estimate.rollups} more"
    return Check("layout", "OK" if estimate.within_target else "WARN", detail)


def migration_check(client: Elasticsearch, prefix: str, storage: StorageSettings) -> Check:
    moves = plan_moves(stream_indices(client, prefix), storage)
    if not moves:
        return Check("index periods", "OK", "every index is at its stream's period")
    streams = sorted({move.stream for move in moves})
    return Check(
        "index periods",
        "WARN",
        f"{len(moves)} indices of {', '.join(streams)} are not at their stream's period: "
        "`metronome es migrate-layout` moves them",
    )


def shard_size_check(client: Elasticsearch, prefix: str) -> Check:
    stats = client.indices.stats(
        index=f"{prefix}-*", metric="docs,store", expand_wildcards="open"
    ).body
    large = [
        (name, docs, size)
        for name, docs, size in (
            _primary_size(name, entry) for name, entry in stats.get("indices", {}).items()
        )
        if docs > MAX_SHARD_DOCS or size > MAX_SHARD_BYTES
    ]
    if not large:
        return Check("shard size", "OK", "no shard over 200 million documents or 50 GB")
    name, docs, size = max(large, key=lambda row: row[2])
    return Check(
        "shard size",
        "WARN",
        f"{len(large)} indices have shards over 200 million documents or 50 GB (largest: {name}, "
        f"{docs} documents, {size / 1024**3:.1f} GB): give the stream a shorter period "
        "(storage.index_periods)",
    )


def _primary_size(name: str, entry: Mapping[str, Any]) -> tuple[str, int, int]:
    primaries = entry.get("primaries", {})
    docs = int(primaries.get("docs", {}).get("count", 0))
    size = int(primaries.get("store", {}).get("size_in_bytes", 0))
    return name, docs, size
