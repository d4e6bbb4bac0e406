"""Pipeline-health rules: they exist without configuration (``alerts.health`` retunes or
disables each) and are sent to ``alerts.health.channels`` (none: recorded and shown, not sent).

Two kinds, by where they can be checked:

- **cluster checks**, from what Elasticsearch holds, evaluated with the metric rules by the
  scheduler holding the lease: a source failing (its last run failed), a source stale (no
  successful run for ``intervals`` times its interval; two days for a cron source), dead
  letters growing (documents dead-lettered within the window);
- **instance checks**, which must work when Elasticsearch does not (or which concern one
  machine): Elasticsearch unreachable, the spool filling (over ``percent`` of
  ``spool.max_bytes``), the forward listener down (when enabled). Every instance's scheduler
  runs them, lease or not, keeps their state on its own disk and sends with
  ``Outbox.send_now`` (``metronome.alerts.local``).

Each check's reading is a ``Verdict`` for the same state machine as the metric rules.
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from metronome.alerts.conditions import Verdict, Window
from metronome.alerts.rules import (
    DEFAULT_COOLDOWN,
    DEFAULT_REPEAT,
    Condition,
    Rule,
    format_duration,
    format_number,
)
from metronome.config import HealthSettings, Settings
from metronome.config.alerts import HealthCheck
from metronome.sources.registry import source_type
from metronome.sources.status import CRON_STALE_SECONDS, expected_interval
from metronome.spool.writer import spool_bytes

PREFIX = "health:"
HEALTH = Condition(kind="health")
SOURCE_FAILING = "source_failing"
SOURCE_STALE = "source_stale"
DEAD_LETTERS = "dead_letters"
SPOOL = "spool_filling"
ELASTICSEARCH = "elasticsearch_unreachable"
FORWARD = "forward_down"
LOCAL_CHECKS = (ELASTICSEARCH, SPOOL, FORWARD)
DESCRIPTIONS = {
    SOURCE_FAILING: "The last run of a scheduled source failed.",
    SOURCE_STALE: "A scheduled source has not run successfully for several of its intervals.",
    DEAD_LETTERS: "Elasticsearch refused documents as invalid; they wait in the dead letters "
    "(metronome dead-letters list).",
    SPOOL: "The spool is filling: the shipper cannot keep up or Elasticsearch is away; at "
    "spool.max_bytes writes are refused with 503.",
    ELASTICSEARCH: "Elasticsearch does not answer this instance.",
    FORWARD: "The Fluentd / Fluent Bit forward listener does not accept connections.",
}


def is_health(name: str) -> bool:
    return name.startswith(PREFIX)


def _rule(name: str, check: HealthCheck, health: HealthSettings, **extra: Any) -> Rule:
    kind = name.split(":")[1]
    return Rule(
        name=name,
        condition=HEALTH,
        site=None,
        for_=check.for_,
        repeat=DEFAULT_REPEAT,
        cooldown=DEFAULT_COOLDOWN,
        severity=check.severity,
        channels=health.channels,
        description=DESCRIPTIONS[kind],
        enabled=check.enabled,
        origin="health",
        extra={"check": kind, **extra},
    )


def cluster_rules(settings: Settings) -> list[Rule]:
    """The health rules evaluated under the lease, enabled or not (the list shows both)."""
    health = settings.alerts.health
    rules = []
    for name, source in settings.sources.items():
        if not source.enabled:
            continue
        rules.append(_rule(f"{PREFIX}{SOURCE_FAILING}:{name}", health.source_failing, health,
                           source=name))  # fmt: skip
        rules.append(_rule(f"{PREFIX}{SOURCE_STALE}:{name}", health.source_stale, health,
                           source=name))  # fmt: skip
    rules.append(
        _rule(f"{PREFIX}{DEAD_LETTERS}", health.dead_letters, health,
              window=health.dead_letters.window)
    )  # fmt: skip
    return rules


def local_rules(settings: Settings) -> list[Rule]:
    """The health rules every instance checks for itself."""
    health = settings.alerts.health
    rules = [
        _rule(f"{PREFIX}{ELASTICSEARCH}", health.elasticsearch_unreachable, health),
        _rule(f"{PREFIX}{SPOOL}", health.spool_filling, health),
    ]
    if settings.logs.forward.enabled:
        rules.append(_rule(f"{PREFIX}{FORWARD}", health.forward_down, health))
    return rules


# --- cluster checks -------------------------------------------------------------------------


def source_verdict(
    rule: Rule, row: Mapping[str, Any] | None, settings: Settings, now: datetime
) -> Verdict:
    """A source's status row (``metronome.sources.status``) judged by ``rule``."""
    source = str(rule.extra.get("source"))
    if row is None:
        return Verdict(None, summary=f"source {source} is not configured")
    window = Window(now, now)
    if rule.extra["check"] == SOURCE_FAILING:
        failures = int(row.get("consecutive_failures") or 0)
        error = (row.get("last_error") or {}).get("message", "")
        if failures:
            summary = f"source {source} failing: {failures} failed runs in a row: {error}"[:400]
        else:
            summary = f"source {source}: last run succeeded"
        return Verdict(failures > 0, float(failures), 0.0, summary, window)
    configured = settings.sources[source]
    interval = expected_interval(configured, source_type(configured.type).default_interval)
    allowed = (
        settings.alerts.health.source_stale.intervals * interval
        if interval
        else (CRON_STALE_SECONDS)
    )
    lag = row.get("lag_seconds")
    if lag is None:  # never succeeded: a failing source says so; a new one is not stale yet
        return Verdict(False, None, allowed, f"source {source} has no successful run yet", window)
    stale = float(lag) > allowed
    summary = (
        f"source {source}: last success {format_duration(round(float(lag)))} ago "
        f"({'more' if stale else 'less'} than {format_duration(round(allowed))})"
    )
    return Verdict(stale, float(lag), allowed, summary, window)


def dead_letter_verdict(rule: Rule, es: Elasticsearch, prefix: str, now: datetime) -> Verdict:
    window_seconds = float(rule.extra.get("window", 3600.0))
    start = now - timedelta(seconds=window_seconds)
    response = es.options(ignore_status=404).count(
        index=f"{prefix}-deadletters",
        query={"range": {"failed_at": {"gte": start.isoformat()}}},
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    count = float(response.body.get("count", 0)) if isinstance(response.body, dict) else 0.0
    span = format_duration(window_seconds)
    summary = f"{format_number(count)} documents dead-lettered in the last {span}"
    return Verdict(count > 0, count, 0.0, summary, Window(start, now))


# --- instance checks ------------------------------------------------------------------------


def spool_verdict(spool_dir: Path, max_bytes: int, percent: float, now: datetime) -> Verdict:
    used = spool_bytes(spool_dir)
    share = used / max_bytes * 100 if max_bytes else 0.0
    summary = (
        f"spool {share:.1f} % full ({format_number(used)} of {format_number(max_bytes)} bytes; "
        f"alert above {percent:g} %)"
    )
    return Verdict(share > percent, round(share, 2), percent, summary, Window(now, now))


def elasticsearch_verdict(es: Elasticsearch, now: datetime) -> Verdict:
    try:
        es.options(request_timeout=5).info()
    except Exception as error:  # any failure to answer is the condition itself
        summary = f"Elasticsearch does not answer ({type(error).__name__})"
        return Verdict(True, 1.0, 0.0, summary, Window(now, now))
    return Verdict(False, 0.0, 0.0, "Elasticsearch answers", Window(now, now))


def forward_verdict(host: str, port: int, timeout: float, now: datetime) -> Verdict:
    target = "127.0.0.1" if host in ("0.0.0.0", "") else ("::1" if host == "::" else host)
    try:
        with socket.create_connection((target, port), timeout=timeout):
            pass
    except OSError as error:
        summary = f"the forward listener on {host}:{port} refuses connections ({error.strerror})"
        return Verdict(True, 1.0, 0.0, summary, Window(now, now))
    return Verdict(
        False, 0.0, 0.0, f"the forward listener on {host}:{port} accepts", Window(now, now)
    )
