"""How each configured source is doing: what `GET /api/v1/sources`, `metronome sources status`
and the gauges in `/metrics` show, computed from config + stored state (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from metronome.config import Settings, SourceSettings
from metronome.sources.registry import build_source, source_type
from metronome.sources.store import SourceState, StateStore

CRON_STALE_SECONDS = 2 * 86_400.0  # a cron source counts as stale after two days without success


def expected_interval(settings: SourceSettings, default_interval: float) -> float | None:
    """Seconds between runs when scheduled by interval; None for cron schedules."""
    if settings.cron:
        return None
    return settings.interval or default_interval


def status_of(
    settings: SourceSettings,
    state: SourceState,
    now: datetime,
    default_interval: float,
) -> dict[str, Any]:
    """One source's status as JSON. ``lag_seconds``: time since the last successful run (its
    data is at most that old); ``stale``: no success for more than two intervals."""
    interval = expected_interval(settings, default_interval)
    last_success = _parse(state.last_success_at)
    lag = (now - last_success).total_seconds() if last_success else None
    allowed = 2 * interval if interval else CRON_STALE_SECONDS
    stale = settings.enabled and (lag is None or lag > allowed)
    return {
        "name": settings.name,
        "type": settings.type,
        "site": settings.site,
        "enabled": settings.enabled,
        "schedule": {"cron": settings.cron} if settings.cron else {"interval_seconds": interval},
        "last_run_at": state.last_run_at,
        "last_success_at": state.last_success_at,
        "lag_seconds": round(lag, 3) if lag is not None else None,
        "stale": stale,
        "failing": state.consecutive_failures > 0,
        # the last run stored what it could; the remote refused some readings of some parts
        "partial": bool(refused := refusals(state.last_run)),
        "refused": refused,
        "consecutive_failures": state.consecutive_failures,
        "last_error": asdict(state.last_error) if state.last_error else None,
        "documents_total": state.documents_total,
        "last_run": state.last_run or None,
        "cursor": state.cursor,
    }


def refusals(last_run: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """The readings the remote refused in a run (its report as JSON), part by part:
    ``[{"part": "acme/app", "reading": "traffic", "reason": "...", "permanent": true}]``."""
    parts = (last_run or {}).get("parts") or {}
    return [
        {
            "part": name,
            "reading": reading,
            "reason": str(refusal.get("reason", "")),
            "permanent": bool(refusal.get("permanent")),
        }
        for name, part in sorted(parts.items())
        if isinstance(part, Mapping)
        for reading, refusal in sorted((part.get("refused") or {}).items())
        if isinstance(refusal, Mapping)
    ]


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def statuses(
    sources: Mapping[str, SourceSettings],
    store: StateStore,
    now: datetime,
    default_intervals: Mapping[str, float],
) -> list[dict[str, Any]]:
    states = store.load_many(sources)
    return [
        status_of(settings, states[name], now, default_intervals.get(settings.type, 3600.0))
        for name, settings in sources.items()
    ]


def _last_success(row: Mapping[str, Any]) -> float:
    moment = _parse(row["last_success_at"])
    return moment.timestamp() if moment else 0.0


# name, help, and the value of a status row (None: no sample for that source)
GAUGES: tuple[tuple[str, str, Callable[[Mapping[str, Any]], float | None]], ...] = (
    (
        "metronome_source_last_success_timestamp_seconds",
        "When the source last ran successfully (0: never)",
        _last_success,
    ),
    (
        "metronome_source_lag_seconds",
        "Seconds since the source's last successful run (absent: never succeeded)",
        lambda row: row["lag_seconds"],
    ),
    (
        "metronome_source_consecutive_failures",
        "Failed runs since the last success",
        lambda row: row["consecutive_failures"],
    ),
    (
        "metronome_source_stale",
        "1 when the source has not succeeded for two intervals",
        lambda row: 1.0 if row["stale"] else 0.0,
    ),
)


class SourcesCollector(Collector):
    """Per-source gauges read from Elasticsearch at scrape time, for alerting on staleness."""

    def __init__(self, rows: Iterable[dict[str, Any]]) -> None:
        self.rows = list(rows)

    def collect(self) -> Iterator[Metric]:
        for name, documentation, value_of in GAUGES:
            gauge = GaugeMetricFamily(name, documentation, labels=["source", "type"])
            for row in self.rows:
                value = value_of(row)
                if value is not None:
                    gauge.add_metric([row["name"], row["type"]], value)
            yield gauge


def source_rows(
    settings: Settings, es: Elasticsearch, names: Iterable[str]
) -> list[dict[str, Any]]:
    """Status rows of the named sources, as ``GET /api/v1/sources`` and ``/metrics`` show them."""
    store = StateStore(es.options(request_timeout=5), settings.elasticsearch.index_prefix)
    chosen = {name: settings.sources[name] for name in names}
    intervals = {s.type: source_type(s.type).default_interval for s in chosen.values()}
    rows = statuses(chosen, store, datetime.now(UTC), intervals)
    for row in rows:
        row["site"] = row["site"] or settings.default_site
        row["stream"] = build_source(chosen[row["name"]], settings.default_site).stream
    return rows
