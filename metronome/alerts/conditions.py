"""What each rule asks the query engine, and whether its condition holds on the answer (pure).

``rule_queries`` builds the typed queries of one evaluation (through the query parser, so they
are exactly what ``POST /api/v1/query`` runs for the same body); ``judge`` reads their outcome:

- ``above`` / ``below``: the metric over the window ``[end - window, end)``, ``end`` the
  evaluation's minute;
- ``change``: the same, and the same window just before (``previous``) or a week earlier
  (``last_week``); the change in percent, in the rule's direction. An earlier value of 0 gives
  no percentage: the condition does not hold;
- ``anomaly``: the last whole hours of the window (1h by default; up to a week, then their
  total) against the seasonal baseline (``metronome.alerts.anomaly``: the same window of the
  week in the rule's time zone over past weeks, from hourly values of that zone);
- ``no_data``: no document at all (``count``) in the last ``no_data`` duration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome.alerts import anomaly
from metronome.alerts.rules import Rule, format_duration, format_number
from metronome.query.catalog import FieldKind
from metronome.query.model import Query
from metronome.query.parse import parse_query
from metronome.query.runner import Outcome

HISTORY_WEEKS = 4  # an anomaly rule reads at least this many weeks of hourly values
COUNTS = frozenset({"count", "visitors", "sessions"})  # judged as counts (anomaly.py)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    compare: tuple[datetime, datetime] | None = None


@dataclass(frozen=True)
class Verdict:
    holds: bool | None  # None: could not be decided (an error, or nothing to decide on)
    value: float | None = None
    reference: float | None = None  # the threshold, the earlier value, the expected value
    summary: str = ""
    window: Window | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


def evaluation_end(now: datetime) -> datetime:
    """The end of every window of an evaluation at ``now``: its minute (whole minutes make the
    numbers repeatable with ``POST /api/v1/query``)."""
    return now.astimezone(UTC).replace(second=0, microsecond=0)


def rule_window(rule: Rule, now: datetime) -> Window:
    end = evaluation_end(now)
    if rule.condition.kind == "anomaly":  # the last whole hours
        hour = end.replace(minute=0)
        return Window(hour - timedelta(seconds=rule.window), hour)
    start = end - timedelta(seconds=rule.window)
    if rule.condition.kind != "change":
        return Window(start, end)
    shift = timedelta(days=7) if rule.condition.against == "last_week" else end - start
    return Window(start, end, (start - shift, end - shift))


def rule_query(rule: Rule, known: Mapping[str, FieldKind], now: datetime) -> Query:
    """The query of one evaluation of ``rule`` at ``now``; ``ApiError`` when the stream no
    longer has what the rule names."""
    window = rule_window(rule, now)
    body = rule.query_body(window.start, window.end)
    body.pop("site")
    if window.compare is not None:
        body["compare"] = {
            "from": window.compare[0].isoformat(),
            "to": window.compare[1].isoformat(),
        }
    if rule.condition.kind == "anomaly":
        weeks = min(max(rule.condition.min_weeks, HISTORY_WEEKS), anomaly.MAX_WEEKS)
        span = timedelta(seconds=rule.window)
        start, _ = anomaly.hourly_history_range(window.start, weeks, span)
        body["date_range"] = [start.isoformat(), window.end.isoformat()]
        body["dimensions"] = ["time:hour"]  # hours of the rule's time zone
        body["limit"] = 10_000
    query, _ = parse_query(body, rule.site or "", known, now)
    return query


def judge(rule: Rule, outcome: Outcome, now: datetime) -> Verdict:
    """Whether ``rule``'s condition holds on the ``outcome`` of its query at ``now``."""
    window = rule_window(rule, now)
    condition = rule.condition
    if condition.kind == "anomaly":
        return _anomaly(rule, outcome, window)
    row = outcome.rows[0] if outcome.rows else None
    value = _number(row.metrics[0]) if row else None
    span = f"over the last {format_duration(rule.window)}"
    if condition.kind == "no_data":
        count = value or 0.0
        span = format_duration(condition.duration)
        summary = (
            f"no documents for {span}"
            if count == 0
            else f"{format_number(count)} documents in the last {span}"
        )
        return Verdict(count == 0, count, 0.0, summary, window)
    if value is None:
        return Verdict(None, None, None, f"{rule.metric} has no value {span}", window)
    if condition.kind in ("above", "below"):
        mark = condition.threshold
        holds = value > mark if condition.kind == "above" else value < mark
        word = condition.kind if holds else ("not " + condition.kind)
        summary = f"{rule.metric} {format_number(value)} {span}, {word} {format_number(mark)}"
        return Verdict(holds, value, condition.threshold, summary, window)
    earlier = _number(row.compare[0]) if row and row.compare else None
    base = "the previous period" if condition.against == "previous" else "a week earlier"
    if not earlier:
        summary = f"{rule.metric} {format_number(value)} {span}; {base} had none to compare with"
        return Verdict(False, value, earlier, summary, window)
    percent = (value - earlier) / abs(earlier) * 100
    holds = {
        "up": percent > condition.threshold,
        "down": -percent > condition.threshold,
        "any": abs(percent) > condition.threshold,
    }[condition.direction]
    summary = (
        f"{rule.metric} {format_number(value)} {span}, {percent:+.1f} % against {base} "
        f"({format_number(earlier)})"
    )
    return Verdict(holds, value, earlier, summary, window, {"change_percent": round(percent, 1)})


def _anomaly(rule: Rule, outcome: Outcome, window: Window) -> Verdict:
    condition = rule.condition
    history = {
        row.key[0]: float(_number(row.metrics[0]) or 0.0)
        for row in outcome.rows
        if row.key and isinstance(row.key[0], datetime) and row.key[0] < window.start
    }
    value = sum(
        float(_number(row.metrics[0]) or 0.0)
        for row in outcome.rows
        if row.key and isinstance(row.key[0], datetime) and window.start <= row.key[0] < window.end
    )
    baseline = anomaly.seasonal_baseline(
        history,
        window.start,
        rule.zone,
        sensitivity=condition.sensitivity,
        min_weeks=condition.min_weeks,
        window=window.end - window.start,
        counts=rule.metric in COUNTS,
    )
    local = window.start.astimezone(rule.zone)
    hour = f"the {format_duration(rule.window)} from {local:%Y-%m-%d %H:%M} {rule.tz}"
    if baseline is None:
        summary = f"{rule.metric} {format_number(value)} in {hour}; too little history yet"
        return Verdict(False, value, None, summary, window, {"history": "too_short"})
    found = anomaly.verdict(value, baseline)
    holds = found is not None and condition.direction in (
        "any",
        {"spike": "up", "drop": "down"}[found],
    )
    what = {"spike": "a spike", "drop": "a drop", None: "within the usual range"}[found]
    summary = (
        f"{rule.metric} {format_number(value)} in {hour}: {what} (usual "
        f"{format_number(baseline.low)} to {format_number(baseline.high)}, typically "
        f"{format_number(baseline.expected)})"
    )
    details = {
        "expected": baseline.expected,
        "low": baseline.low,
        "high": baseline.high,
        "samples": baseline.samples,
        "anomaly": found,
    }
    return Verdict(holds, value, baseline.expected, summary, window, details)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)
