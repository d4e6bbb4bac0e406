"""``alerts:``: alert rules as code, how often they are evaluated, and the pipeline-health rules.

    alerts:
      every: 60                 # seconds between evaluations (by the scheduler holding the lease)
      rules:                    # rule name -> rule; checked by metronome.alerts.rules
        checkout-drop:
          site: shop
          metric: count
          filters: [["is", "event", ["checkout"]]]
          window: 1h
          condition: {below: 10}
          channels: [ops-mail]
      health:
        channels: [ops-mail]    # empty: health alerts are recorded and shown, not sent
        spool_filling: {percent: 90}
        source_stale: {enabled: false}

A rule's own keys (metric, filters, condition...) need the query grammar, which this leaf
package does not know: here they are kept as given, and ``metronome.alerts.rules`` checks them
when the settings are loaded by an entry point (``check_alert_rules``), naming the rule and the
key that is wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from marshmallow import ValidationError, fields
from marshmallow.validate import Range

from metronome.config.declare import Loader

RULE_NAME = r"^[a-z0-9][a-z0-9_.-]{0,63}\Z"
Severity = Literal["info", "warning", "critical"]
DURATION = re.compile(r"([0-9]{1,7}(?:\.[0-9]{1,3})?)(s|m|h|d|w)?")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


def parse_duration(value: Any) -> float:
    """Seconds of a duration: a number of seconds, or text such as ``"90s"``, ``"15m"``,
    ``"1h"``, ``"1d"``, ``"1w"`` (a bare number is seconds). ``ValueError`` otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or text such as 15m, 1h, 1d")
    if isinstance(value, int | float):
        if not 0 <= value < float("inf"):
            raise ValueError("a duration is not negative")
        return float(value)
    if isinstance(value, str):
        match = DURATION.fullmatch(value.strip())
        if match:
            return float(match.group(1)) * UNIT_SECONDS[match.group(2) or "s"]
    raise ValueError(
        f"{str(value)[:20]!r} is not a duration: use seconds or text such as 30s, 15m, 1h, 1d, 1w"
    )


class Duration(fields.Field):
    """A duration setting (``parse_duration``), loaded as seconds."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float:
        try:
            return parse_duration(value)
        except ValueError as error:
            raise ValidationError(str(error)) from None


def duration(key: str | None = None) -> Loader:
    """The loader of a duration setting; ``key``: its name in the file when it is not the
    field's (``for`` is a Python keyword)."""
    return Loader(lambda **options: Duration(data_key=key, **options))


class RawRules(fields.Field):
    """Rule name -> the rule's keys as given (checked by ``metronome.alerts.rules``)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> dict[str, dict[str, Any]]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValidationError("A mapping of rule names to their settings.")
        errors: dict[str, Any] = {}
        rules: dict[str, dict[str, Any]] = {}
        for name, entry in value.items():
            if not isinstance(name, str) or not re.match(RULE_NAME, name):
                errors[str(name)] = [
                    "A rule name is lowercase letters, digits, '_', '.' and '-' (64 at most)."
                ]
            elif not isinstance(entry, Mapping):
                errors[name] = ["Each rule is a mapping (metric, window, condition...)."]
            else:
                rules[name] = dict(entry)
        if errors:
            raise ValidationError(errors)
        return rules


@dataclass(frozen=True)
class HealthCheck:
    """One pipeline-health rule: on unless disabled, with its own pending time and severity."""

    enabled: bool = True
    # how long the condition must hold before the alert fires (0: at the first evaluation)
    for_: Annotated[float, duration("for")] = 0.0
    severity: Severity = "critical"


@dataclass(frozen=True)
class SourceStaleCheck(HealthCheck):
    # stale: no successful run for this many of its intervals (cron sources: two days)
    intervals: Annotated[float, Range(min=1)] = 3.0
    severity: Severity = "warning"


@dataclass(frozen=True)
class SpoolCheck(HealthCheck):
    percent: Annotated[float, Range(min=1, max=100)] = 80.0  # of spool.max_bytes
    for_: Annotated[float, duration("for")] = 120.0


@dataclass(frozen=True)
class ElasticsearchCheck(HealthCheck):
    for_: Annotated[float, duration("for")] = 120.0


@dataclass(frozen=True)
class DeadLetterCheck(HealthCheck):
    # fires while documents were dead-lettered within this window
    window: Annotated[float, duration()] = 3600.0
    severity: Severity = "warning"


@dataclass(frozen=True)
class ForwardCheck(HealthCheck):
    for_: Annotated[float, duration("for")] = 60.0
    timeout: Annotated[float, Range(min=0.1, max=60)] = 3.0  # seconds to connect


@dataclass(frozen=True)
class HealthSettings:
    """Rules that exist without configuration; each can be disabled or retuned."""

    # notify channels they are sent to; empty: recorded and visible, not sent
    channels: tuple[str, ...] = ()
    source_failing: HealthCheck = field(default_factory=HealthCheck)
    source_stale: SourceStaleCheck = field(default_factory=SourceStaleCheck)
    spool_filling: SpoolCheck = field(default_factory=SpoolCheck)
    elasticsearch_unreachable: ElasticsearchCheck = field(default_factory=ElasticsearchCheck)
    dead_letters: DeadLetterCheck = field(default_factory=DeadLetterCheck)
    forward_down: ForwardCheck = field(default_factory=ForwardCheck)
    # seconds between two runs of the checks every instance makes for itself (spool,
    # forward listener, Elasticsearch reachable)
    local_every: Annotated[float, duration()] = 30.0

    def check(self) -> None:
        if self.local_every < 5:
            raise ValidationError("At least 5 seconds.", "local_every")


@dataclass(frozen=True)
class AlertSettings:
    # between two evaluations of every rule (by the scheduler holding the lease)
    every: Annotated[float, duration()] = 60.0
    # between two deliveries of the notifications that are due (the outbox)
    deliver_every: Annotated[float, duration()] = 10.0
    rules: Annotated[Mapping[str, Mapping[str, Any]], Loader(RawRules)] = field(
        default_factory=dict
    )
    health: HealthSettings = field(default_factory=HealthSettings)

    def check(self) -> None:
        if self.every < 5:
            raise ValidationError("At least 5 seconds.", "every")
        if self.deliver_every < 1:
            raise ValidationError("At least 1 second.", "deliver_every")
