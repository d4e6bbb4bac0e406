"""The shard budget: how many shards the cluster holds against the most it accepts, and what
Elasticsearch says when an index creation would go past it.

Every Metronome index has one primary shard (and a replica on a cluster of two nodes or more).
Elasticsearch refuses to open more than ``cluster.max_shards_per_node`` shards per data node:
past that, creating an index fails with "this action would add [1] shards, but this cluster
currently has [N]/[M] maximum normal shards open". Writers recognise that answer
(``shard_limit_refusal``) and keep their documents (the shipper leaves them in the spool, a
source run does not advance its cursor) instead of treating it as an invalid document.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from elasticsearch import Elasticsearch

from metronome.es.bulk import StoreUnavailable

DEFAULT_MAX_SHARDS_PER_NODE = 1000
_REFUSAL = re.compile(
    r"this action would add \[(\d+)\] (?:total )?shards, but this cluster currently has "
    r"\[(\d+)\]/\[(\d+)\] maximum (?:normal |frozen )?shards open"
)


@dataclass(frozen=True)
class ShardLimitRefusal:
    """Elasticsearch refused to create ``index``: ``adding`` more shards would pass ``limit``
    with ``open`` already open."""

    index: str
    adding: int
    open: int
    limit: int

    def message(self) -> str:
        return (
            f"Elasticsearch refused to create the index {self.index}: this action would add "
            f"[{self.adding}] shards, but this cluster currently has [{self.open}]/[{self.limit}] "
            "maximum normal shards open (cluster.max_shards_per_node times the data nodes). "
            "Nothing is lost: the documents wait and are stored once there is room. Give "
            "streams longer index periods (storage.index_periods, then `metronome es "
            "migrate-layout`), delete indices you no longer need, or raise "
            "cluster.max_shards_per_node; `metronome doctor` shows the budget."
        )


def shard_limit_refusal(error: Any, index: str) -> ShardLimitRefusal | None:
    """The refusal in an error (a bulk item's ``error`` object, an API error's body or its
    text), or None when the error is something else."""
    match = _REFUSAL.search(_text(error))
    if match is None:
        return None
    adding, open_, limit = (int(group) for group in match.groups())
    return ShardLimitRefusal(index=index, adding=adding, open=open_, limit=limit)


def _text(error: Any) -> str:
    if isinstance(error, Mapping):
        parts = [str(error.get("reason", ""))]
        for key in ("caused_by", "error"):
            if key in error:
                parts.append(_text(error[key]))
        for cause in error.get("root_cause", []) or []:
            parts.append(_text(cause))
        return " ".join(parts)
    return str(error)


class ShardLimitReached(StoreUnavailable):
    """A write refused because the cluster has no room for a new index's shards (the writer
    keeps its documents and tries again later)."""

    def __init__(self, refusal: ShardLimitRefusal) -> None:
        self.refusal = refusal
        super().__init__(refusal.message())


Status = Literal["OK", "WARN", "FAIL"]


@dataclass(frozen=True)
class ShardBudget:
    """Shards open in the cluster against its limit."""

    used: int
    per_node: int
    data_nodes: int
    warn_ratio: float = 0.8

    @property
    def limit(self) -> int:
        return self.per_node * self.data_nodes

    @property
    def ratio(self) -> float:
        return self.used / self.limit if self.limit else 1.0

    @property
    def status(self) -> Status:
        if self.used >= self.limit:
            return "FAIL"
        return "WARN" if self.ratio >= self.warn_ratio else "OK"

    def describe(self) -> str:
        text = (
            f"{self.used} of {self.limit} shards open ({self.ratio:.0%}; "
            f"cluster.max_shards_per_node {self.per_node} x {self.data_nodes} data node"
            f"{'' if self.data_nodes == 1 else 's'})"
        )
        if self.status == "FAIL":
            return text + ": no new index can be created; new documents wait"
        if self.status == "WARN":
            return text + f": over {self.warn_ratio:.0%}, see storage.index_periods"
        return text

    def to_json(self) -> dict[str, Any]:
        return {
            "used": self.used,
            "limit": self.limit,
            "max_shards_per_node": self.per_node,
            "data_nodes": self.data_nodes,
            "status": self.status.lower(),
        }


def max_shards_per_node(settings: Mapping[str, Any]) -> int:
    """``cluster.max_shards_per_node`` from a ``cluster.get_settings`` answer with defaults
    (flat or nested): transient over persistent over the default."""
    for scope in ("transient", "persistent", "defaults"):
        section = settings.get(scope) or {}
        value = section.get("cluster.max_shards_per_node")
        if value is None:
            value = (section.get("cluster") or {}).get("max_shards_per_node")
        if value is not None:
            return int(value)
    return DEFAULT_MAX_SHARDS_PER_NODE


def shard_budget(
    client: Elasticsearch, warn_ratio: float = 0.8, health: Mapping[str, Any] | None = None
) -> ShardBudget:
    """The budget as the cluster counts it: the shards of open indices (assigned or not)
    against ``cluster.max_shards_per_node`` times the data nodes (``health``: a cluster health
    answer already in hand)."""
    if health is None:
        health = client.cluster.health().body
    settings = client.cluster.get_settings(
        include_defaults=True, filter_path=["*.cluster.max_shards_per_node"]
    ).body
    return budget_from(health, settings, warn_ratio)


def budget_from(
    health: Mapping[str, Any], settings: Mapping[str, Any], warn_ratio: float = 0.8
) -> ShardBudget:
    """The budget from a cluster health answer and a flat settings answer."""
    used = sum(
        int(health.get(key, 0))
        for key in ("active_shards", "initializing_shards", "unassigned_shards")
    )
    return ShardBudget(
        used=used,
        per_node=max_shards_per_node(settings),
        data_nodes=max(1, int(health.get("number_of_data_nodes", 1))),
        warn_ratio=warn_ratio,
    )
