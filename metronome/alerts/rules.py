"""An alert rule: what it watches (a query-model metric of a site's stream, with filters, over a
window), when it fires (its condition), how it pages (for, repeat, cooldown, channels).

``parse_rule`` turns a rule as written (the config file's ``alerts.rules.<name>``, or the body
of ``POST /api/v1/alerts``) into a ``Rule``, or raises ``RuleError`` naming the rule and the key
that is wrong. It checks the grammar only; ``check_fields`` then checks the metric and the
filters against the fields the stream has, through the query parser itself, so a rule names
exactly what ``POST /api/v1/query`` accepts. ``rule_to_json`` is its inverse. Pure.

    {"site": "shop", "stream": "hits", "metric": "count",
     "filters": [["is", "event", ["checkout"]]], "window": "1h",
     "condition": {"below": 10},          # {"above": N}
                                          # {"change": {"percent": 50, "against": "previous",
                                          #             "direction": "down"}}
                                          # {"anomaly": {"sensitivity": 3, "min_weeks": 2}}
                                          # {"no_data": "30m"}
     "for": "5m", "repeat": "4h", "cooldown": "15m", "severity": "warning",
     "channels": ["ops-mail"], "tz": "Europe/Warsaw", "description": "..."}
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from metronome.alerts.anomaly import DEFAULT_MIN_WEEKS, MAX_WEEKS
from metronome.config import parse_duration
from metronome.errors import ApiError
from metronome.es.naming import is_valid_stream
from metronome.query.catalog import FieldKind
from metronome.query.parse import FIELD_NAME, FILTER_OPS, METRIC_SCHEMA, parse_query
from metronome.query.timerange import time_zone_names

RULE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
KINDS = ("above", "below", "change", "anomaly", "no_data")
SEVERITIES = ("info", "warning", "critical")
DIRECTIONS = ("up", "down", "any")
AGAINST = ("previous", "last_week")
KEYS = (
    "name", "site", "stream", "metric", "filters", "window", "condition", "for", "repeat",
    "cooldown", "severity", "channels", "tz", "description", "enabled",
)  # fmt: skip
ANSWER_KEYS = ("origin", "readonly", "version", "status")  # sent back by clients: ignored
MAX_WINDOW = 31 * 86_400.0
MIN_WINDOW = 60.0
MAX_DESCRIPTION = 2000
MAX_CHANNELS = 20
# Defaults (docs/alerts.md says why): a condition must hold 5 minutes before anyone is paged,
# a firing alert is repeated every 4 hours, and after a resolution the same rule pages again
# only 15 minutes later at the earliest.
DEFAULT_FOR = 300.0
DEFAULT_REPEAT = 4 * 3600.0
DEFAULT_COOLDOWN = 900.0
DEFAULT_WINDOW = 3600.0
METRIC = re.compile(METRIC_SCHEMA["pattern"][1:-1])
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)

# "health": a pipeline-health rule (metronome.alerts.health), never written by users
Kind = Literal["above", "below", "change", "anomaly", "no_data", "health"]
Direction = Literal["up", "down", "any"]
Against = Literal["previous", "last_week"]
Severity = Literal["info", "warning", "critical"]
Origin = Literal["file", "stored", "health"]


class RuleError(ValueError):
    """A rule that cannot be used: ``rule`` and ``key`` say where, ``message`` what is wrong."""

    def __init__(self, rule: str, key: str | None, message: str) -> None:
        where = f"{rule}.{key}" if key else rule
        super().__init__(f"alert rule {where}: {message}")
        self.rule = rule
        self.key = key
        self.message = message

    def api_error(self) -> ApiError:
        where = f"{self.key}: " if self.key else ""
        return ApiError(
            422, "invalid_rule", f"Rule {self.rule!r}: {where}{self.message}", field=self.key
        )


@dataclass(frozen=True)
class Condition:
    kind: Kind
    threshold: float = 0.0  # above / below: the mark; change: the percent
    against: Against = "previous"  # change: the period just before, or the same one a week ago
    direction: Direction = "any"  # change and anomaly: which way counts
    sensitivity: float = 3.0  # anomaly: how far from the baseline (larger: fewer alerts)
    min_weeks: int = DEFAULT_MIN_WEEKS  # anomaly: weeks of history before it may fire
    duration: float = 0.0  # no_data: seconds without a document

    def describe(self) -> str:
        """The condition in words, as the messages and the app show it."""
        if self.kind == "above":
            return f"above {format_number(self.threshold)}"
        if self.kind == "below":
            return f"below {format_number(self.threshold)}"
        if self.kind == "change":
            way = {"up": "a rise", "down": "a drop", "any": "a change"}[self.direction]
            base = "the previous period" if self.against == "previous" else "a week earlier"
            return f"{way} of more than {format_number(self.threshold)} % against {base}"
        if self.kind == "anomaly":
            way = {"up": "a spike", "down": "a drop", "any": "a spike or drop"}[self.direction]
            return f"{way} against the seasonal baseline (sensitivity {self.sensitivity:g})"
        if self.kind == "no_data":
            return f"no data for {format_duration(self.duration)}"
        return "a pipeline-health check"


@dataclass(frozen=True)
class Rule:
    name: str
    condition: Condition
    site: str | None = None  # None: no site (pipeline-health rules)
    stream: str = "hits"
    metric: str = "count"
    filters: tuple[tuple[str, str, tuple[Any, ...]], ...] = ()
    window: float = DEFAULT_WINDOW  # seconds
    for_: float = DEFAULT_FOR
    repeat: float = DEFAULT_REPEAT  # 0: never repeated
    cooldown: float = DEFAULT_COOLDOWN
    severity: Severity = "warning"
    channels: tuple[str, ...] = ()
    tz: str = "UTC"
    description: str = ""
    enabled: bool = True
    origin: Origin = "stored"
    extra: Mapping[str, Any] = field(default_factory=dict)  # health rules: what they watch

    @property
    def readonly(self) -> bool:
        return self.origin != "stored"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def query_body(self, start: datetime, end: datetime) -> dict[str, Any]:
        """The ``POST /api/v1/query`` body that answers this rule's metric over a range: what
        an e-mail's numbers can be checked against."""
        metric = "count" if self.condition.kind == "no_data" else self.metric
        return {
            "site": self.site,
            "stream": self.stream,
            "metrics": [metric],
            "filters": [[op, name, list(values)] for op, name, values in self.filters],
            "date_range": [start.isoformat(), end.isoformat()],
            "tz": self.tz,
        }


def parse_rule(
    raw: Any,
    *,
    name: str | None = None,
    origin: Origin = "stored",
    sites: Collection[str] | None = None,
    default_site: str | None = None,
    channels: Collection[str] | None = None,
) -> Rule:
    """The rule ``raw`` describes (its name given, or in it as ``name``); ``RuleError`` naming
    the key otherwise. ``sites`` and ``channels``: the names that exist (None: not checked)."""
    label = name or (raw.get("name") if isinstance(raw, Mapping) else None) or "(unnamed)"
    label = str(label)[:64]
    if not isinstance(raw, Mapping):
        raise RuleError(label, None, "A rule is an object (metric, window, condition...).")
    unknown = sorted(set(raw) - set(KEYS) - set(ANSWER_KEYS), key=str)
    if unknown:
        raise RuleError(
            label, str(unknown[0])[:40], f"Unknown key; a rule takes {', '.join(KEYS)}."
        )
    for key, value in raw.items():
        if value is None and key not in ("site", "name", *ANSWER_KEYS):
            raise RuleError(
                label, str(key), "null is no value here: leave the key out for its default."
            )
    rule_name = name if name is not None else raw.get("name")
    if not isinstance(rule_name, str) or not RULE_NAME.fullmatch(rule_name):
        raise RuleError(
            label, "name", "A rule name is 1 to 64 lowercase letters, digits, '_', '.' and '-'."
        )
    if name is not None and raw.get("name") not in (None, name):
        raise RuleError(label, "name", f"The body names {str(raw.get('name'))[:64]!r}.")
    site = _text(raw, label, "site", default_site)
    if site is None:
        raise RuleError(label, "site", "Name the site whose data the rule watches.")
    if sites is not None and site not in sites:
        known = ", ".join(sorted(sites))
        raise RuleError(label, "site", f"{site[:64]!r} is not one of the sites ({known}).")
    condition = _condition(raw.get("condition"), label)
    window = _window(raw, label, condition)
    tz = _text(raw, label, "tz", "UTC") or "UTC"
    if tz not in time_zone_names():
        raise RuleError(label, "tz", f"{tz[:64]!r} is not an IANA time zone (Europe/Warsaw).")
    rule = Rule(
        name=rule_name,
        condition=condition,
        site=site,
        stream=_text(raw, label, "stream", "hits") or "hits",
        metric=_text(raw, label, "metric", "count") or "count",
        filters=_filters(raw.get("filters"), label),
        window=window,
        for_=_duration(raw, label, "for", 0.0 if condition.kind == "no_data" else DEFAULT_FOR),
        repeat=_duration(raw, label, "repeat", DEFAULT_REPEAT),
        cooldown=_duration(raw, label, "cooldown", DEFAULT_COOLDOWN),
        severity=cast(Severity, _choice(raw, label, "severity", SEVERITIES, "warning")),
        channels=_channels(raw.get("channels"), label, channels),
        tz=tz,
        description=_text(raw, label, "description", "") or "",
        enabled=_boolean(raw, label, "enabled", True),
        origin=origin,
    )
    if len(rule.description) > MAX_DESCRIPTION:
        raise RuleError(label, "description", f"At most {MAX_DESCRIPTION} characters.")
    if 0 < rule.repeat < 60:
        raise RuleError(label, "repeat", "At least 1m (or 0: never repeat).")
    check_fields(rule, None)  # the grammar of metric, stream and filters
    return rule


def check_fields(rule: Rule, known: Mapping[str, FieldKind] | None) -> None:
    """The metric and the filters through the query parser: with ``known`` (the stream's
    fields) every field must exist and fit; without, the grammar only."""
    if known is None:
        _check_grammar(rule)
        return
    body = rule.query_body(EPOCH, EPOCH + timedelta(days=1))
    body.pop("site")
    try:
        parse_query(body, rule.site or "", known, EPOCH)
    except ApiError as error:
        key = {"metrics": "metric", "filters": "filters", "stream": "stream"}.get(
            error.field or "", error.field or "metric"
        )
        raise RuleError(rule.name, key, error.message) from None


def _check_grammar(rule: Rule) -> None:
    if not is_valid_stream(rule.stream):
        raise RuleError(rule.name, "stream", f"{rule.stream[:40]!r} is not a stream name.")
    if not METRIC.fullmatch(rule.metric):
        raise RuleError(
            rule.name,
            "metric",
            f"{rule.metric[:40]!r} is not a metric: count, visitors, sessions, or sum:F, avg:F, "
            "min:F, max:F, p50:F, p95:F, p99:F of a numeric field F.",
        )
    for op, name, values in rule.filters:
        if op not in FILTER_OPS:
            raise RuleError(
                rule.name, "filters", f"Unknown operator {op[:20]!r}; use {FILTER_OPS}."
            )
        if not FIELD_NAME.fullmatch(name):
            raise RuleError(rule.name, "filters", f"{name[:80]!r} is not a field name.")
        if not 1 <= len(values) <= 100 or not all(
            isinstance(v, str | int | float | bool) for v in values
        ):
            raise RuleError(rule.name, "filters", "A filter takes 1 to 100 text or number values.")


def rule_to_json(rule: Rule) -> dict[str, Any]:
    """The rule as it is written (``parse_rule(rule_to_json(rule))`` gives it back)."""
    data: dict[str, Any] = {
        "name": rule.name,
        "site": rule.site,
        "stream": rule.stream,
        "metric": rule.metric,
        "filters": [[op, name, list(values)] for op, name, values in rule.filters],
        "window": format_duration(rule.window),
        "condition": condition_to_json(rule.condition),
        "for": format_duration(rule.for_),
        "repeat": format_duration(rule.repeat),
        "cooldown": format_duration(rule.cooldown),
        "severity": rule.severity,
        "channels": list(rule.channels),
        "tz": rule.tz,
        "description": rule.description,
        "enabled": rule.enabled,
    }
    return data


def condition_to_json(condition: Condition) -> dict[str, Any]:
    if condition.kind in ("above", "below"):
        return {condition.kind: condition.threshold}
    if condition.kind == "change":
        return {
            "change": {
                "percent": condition.threshold,
                "against": condition.against,
                "direction": condition.direction,
            }
        }
    if condition.kind == "anomaly":
        return {
            "anomaly": {
                "sensitivity": condition.sensitivity,
                "min_weeks": condition.min_weeks,
                "direction": condition.direction,
            }
        }
    return {"no_data": format_duration(condition.duration)}


def format_duration(seconds: float) -> str:
    """``3600`` -> ``"1h"``, ``90`` -> ``"90s"``, ``0`` -> ``"0s"``: the largest whole unit."""
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def format_number(value: float | None) -> str:
    """A metric value as people read it: integers without decimals, others with up to 2."""
    if value is None:
        return "no value"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{int(value):,}".replace(",", " ")
    return f"{value:,.2f}".replace(",", " ")


# --- the parts ------------------------------------------------------------------------------


def _condition(raw: Any, rule: str) -> Condition:
    if not isinstance(raw, Mapping) or len(raw) != 1:
        raise RuleError(
            rule,
            "condition",
            "One of {above: N}, {below: N}, {change: {percent, against, direction}}, "
            "{anomaly: {sensitivity, min_weeks, direction}} or {no_data: duration}.",
        )
    ((kind, value),) = raw.items()
    where = f"condition.{str(kind)[:20]}"
    if kind in ("above", "below"):
        return Condition(kind=kind, threshold=_number(value, rule, where))
    if kind == "no_data":
        seconds = _seconds(value, rule, where)
        if not MIN_WINDOW <= seconds <= MAX_WINDOW:
            raise RuleError(rule, where, "Between 1m and 31d.")
        return Condition(kind="no_data", duration=seconds)
    if kind == "change":
        options = _options(value, rule, where, ("percent", "against", "direction"))
        if "percent" not in options:
            raise RuleError(rule, f"{where}.percent", "Say by how many percent (e.g. 50).")
        percent = _number(options["percent"], rule, f"{where}.percent")
        if percent <= 0:
            raise RuleError(rule, f"{where}.percent", "More than 0.")
        return Condition(
            kind="change",
            threshold=percent,
            against=cast(
                Against, _one_of(options, rule, where, "against", AGAINST, default="previous")
            ),
            direction=cast(Direction, _one_of(options, rule, where, "direction", DIRECTIONS)),
        )
    if kind == "anomaly":
        options = _options(value, rule, where, ("sensitivity", "min_weeks", "direction"))
        sensitivity = _number(options.get("sensitivity", 3.0), rule, f"{where}.sensitivity")
        if not 0.5 <= sensitivity <= 20:
            raise RuleError(rule, f"{where}.sensitivity", "Between 0.5 and 20.")
        weeks = options.get("min_weeks", DEFAULT_MIN_WEEKS)
        if not isinstance(weeks, int) or isinstance(weeks, bool) or not 1 <= weeks <= MAX_WEEKS:
            raise RuleError(
                rule, f"{where}.min_weeks", f"A whole number of weeks, 1 to {MAX_WEEKS}."
            )
        return Condition(
            kind="anomaly",
            sensitivity=sensitivity,
            min_weeks=weeks,
            direction=cast(Direction, _one_of(options, rule, where, "direction", DIRECTIONS)),
        )
    raise RuleError(rule, "condition", f"Unknown condition {str(kind)[:20]!r}; use {KINDS}.")


def _window(raw: Mapping[str, Any], rule: str, condition: Condition) -> float:
    window = _duration(raw, rule, "window", DEFAULT_WINDOW)
    if condition.kind == "anomaly":
        if window % 3600 or not 3600 <= window <= 7 * 86_400:
            raise RuleError(
                rule, "window", "An anomaly rule compares whole hours: 1h to 1w (default 1h)."
            )
        return window
    if condition.kind == "no_data":
        return condition.duration
    if not MIN_WINDOW <= window <= MAX_WINDOW:
        raise RuleError(rule, "window", "Between 1m and 31d.")
    return window


def _options(value: Any, rule: str, where: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise RuleError(rule, where, f"An object with {', '.join(keys)}.")
    unknown = sorted(set(value) - set(keys), key=str)
    if unknown:
        raise RuleError(rule, f"{where}.{str(unknown[0])[:20]}", f"Unknown; use {keys}.")
    return value


def _one_of(
    options: Mapping[str, Any],
    rule: str,
    where: str,
    key: str,
    allowed: tuple[str, ...],
    *,
    default: str = "any",
) -> str:
    value = options.get(key, default)
    if value not in allowed:
        raise RuleError(rule, f"{where}.{key}", f"One of {', '.join(allowed)}.")
    return str(value)


def _number(value: Any, rule: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise RuleError(rule, key, "A number.")
    if abs(value) > 1e15:
        raise RuleError(rule, key, "At most 1e15.")
    return float(value)


def _seconds(value: Any, rule: str, key: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as error:
        raise RuleError(rule, key, str(error)) from None
    if seconds > 366 * 86_400:
        raise RuleError(rule, key, "At most a year.")
    return seconds


def _duration(raw: Mapping[str, Any], rule: str, key: str, default: float) -> float:
    value = raw.get(key)
    return default if value is None else _seconds(value, rule, key)


def _text(raw: Mapping[str, Any], rule: str, key: str, default: str | None) -> str | None:
    value = raw.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise RuleError(rule, key, "Text.")
    return value


def _choice(
    raw: Mapping[str, Any], rule: str, key: str, allowed: tuple[str, ...], default: str
) -> str:
    value = raw.get(key, default)
    if value is None:
        return default
    if value not in allowed:
        raise RuleError(rule, key, f"One of {', '.join(allowed)}.")
    return str(value)


def _boolean(raw: Mapping[str, Any], rule: str, key: str, default: bool) -> bool:
    value = raw.get(key, default)
    if not isinstance(value, bool):
        raise RuleError(rule, key, "true or false.")
    return value


def _filters(raw: Any, rule: str) -> tuple[tuple[str, str, tuple[Any, ...]], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > 20:
        raise RuleError(rule, "filters", 'A list of ["is"|"is_not"|..., field, [values]].')
    filters = []
    for item in raw:
        if not isinstance(item, list | tuple) or len(item) != 3:
            raise RuleError(rule, "filters", "A filter is [operator, field, [values]].")
        op, name, values = item
        if not isinstance(op, str) or not isinstance(name, str):
            raise RuleError(rule, "filters", "A filter is [operator, field, [values]].")
        values = list(values) if isinstance(values, list | tuple) else [values]
        filters.append((op, name, tuple(values)))
    return tuple(filters)


def _channels(raw: Any, rule: str, known: Collection[str] | None) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
        raise RuleError(rule, "channels", "A list of notify channel names.")
    if len(raw) > MAX_CHANNELS:
        raise RuleError(rule, "channels", f"At most {MAX_CHANNELS}.")
    if known is not None:
        for name in raw:
            if name not in known:
                have = ", ".join(sorted(known)) or "none are configured under notify.channels"
                raise RuleError(rule, "channels", f"Unknown channel {name[:64]!r} ({have}).")
    return tuple(dict.fromkeys(raw))
