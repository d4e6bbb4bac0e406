"""One evaluation of every rule: what the scheduler holding the lease runs every
``alerts.every`` seconds, and what ``metronome alerts check`` runs by hand.

    states (stored; created with their epoch where missing)
      -> every metric rule's query, all in one multi-search (``metronome.query.multi``)
      -> the cluster health checks (sources' state, dead letters)
      -> per rule: verdict -> state machine -> for each transition:
             queue its notification on each channel (key alert:<rule>:<transition id>)
             -> record it in the history
         -> save the state at the version read

Queueing comes first and is idempotent (the outbox keeps one notification per key and
channel; the history one event per transition), and the state is written last, only if no
one else wrote it since it was read. So an evaluator killed anywhere in between is followed by
one that computes the same transitions from the same stored state and queues nothing twice;
and of two evaluators that ran at once, one saves and the other's rule is left alone.

A dry run reads everything and reports what would be sent, and writes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.alerts import health
from metronome.alerts.conditions import Verdict, judge, rule_query
from metronome.alerts.machine import AlertState, Timing, Transition, step
from metronome.alerts.messages import alert_message
from metronome.alerts.rules import Rule, RuleError, parse_rule
from metronome.alerts.store import AlertStore, StateConflict, VersionedState, event_of
from metronome.config import ConfigError, Settings
from metronome.errors import ApiError
from metronome.notify.clock import Clock, system_clock
from metronome.notify.message import Message
from metronome.query.catalog import FieldCatalog, FieldKind
from metronome.query.model import Query
from metronome.query.multi import run_queries
from metronome.sources.status import source_rows

log = logging.getLogger(__name__)


class Queue(Protocol):
    """What evaluation needs of ``metronome.notify.outbox.Outbox``."""

    def enqueue(
        self, key: str, channel: str, message: Message, to: tuple[str, ...] = ()
    ) -> bool: ...


@dataclass(frozen=True)
class Notice:
    channel: str
    key: str
    message: Message
    queued: bool | None = None  # None: a dry run; False: queued before (by an earlier run)


@dataclass(frozen=True)
class RuleOutcome:
    rule: Rule
    before: AlertState
    after: AlertState
    verdict: Verdict
    transitions: list[Transition] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    saved: bool = False  # False: a dry run, or another evaluator saved first


def file_rules(settings: Settings, channels: Sequence[str] | None = None) -> list[Rule]:
    """The rules of ``alerts.rules`` (``RuleError`` for the first that is wrong)."""
    return [
        parse_rule(
            raw,
            name=name,
            origin="file",
            sites=settings.sites.keys(),
            default_site=settings.default_site,
            channels=channels,
        )
        for name, raw in settings.alerts.rules.items()
    ]


def check_alert_rules(
    settings: Settings, channels: Sequence[str] | None = None, origin: str = "settings"
) -> None:
    """Every rule of the config file is valid (entry points call it after loading the
    settings); ``ConfigError`` naming the rule and its key otherwise."""
    try:
        file_rules(settings, channels)
    except RuleError as error:
        where = ".".join(part for part in ("alerts.rules", error.rule, error.key) if part)
        raise ConfigError(f"invalid configuration ({origin}): {where}: {error.message}") from None
    for name in settings.alerts.health.channels:
        if channels is not None and name not in channels:
            have = ", ".join(sorted(channels)) or "none are configured under notify.channels"
            raise ConfigError(
                f"invalid configuration ({origin}): alerts.health.channels: unknown channel "
                f"{name!r} ({have})"
            )


def timing(rule: Rule) -> Timing:
    return Timing(for_=rule.for_, repeat=rule.repeat, cooldown=rule.cooldown)


class Evaluator:
    def __init__(
        self,
        settings: Settings,
        es: Elasticsearch,
        queue: Queue | None,
        clock: Clock = system_clock,
        *,
        instance: str | None = None,
    ) -> None:
        self.settings = settings
        self.es = es
        self.queue = queue
        self.clock = clock
        self.prefix = settings.elasticsearch.index_prefix
        self.store = AlertStore(es, self.prefix)
        self.catalog = FieldCatalog(es, self.prefix)
        self.instance = instance

    def rules(self) -> list[Rule]:
        """Every rule evaluated under the lease: the file's, the stored ones, the cluster
        health checks (enabled or not)."""
        rules = file_rules(self.settings)
        taken = {rule.name for rule in rules}
        rules += [s.rule for s in self.store.rules() if s.rule.name not in taken]
        return rules + health.cluster_rules(self.settings)

    def run(self, *, only: str | None = None, dry_run: bool = False) -> list[RuleOutcome]:
        now = self.clock()
        rules = [r for r in self.rules() if r.enabled and (only is None or r.name == only)]
        if not rules:
            return []
        names = [rule.name for rule in rules]
        states = self.store.states(names) if dry_run else self.store.ensure_states(names)
        verdicts = self._verdicts(rules, now)
        outcomes = []
        for rule in rules:
            outcome = self._advance(rule, states[rule.name], verdicts[rule.name], now, dry_run)
            outcomes.append(outcome)
        return outcomes

    # --- readings ----------------------------------------------------------------------------

    def _verdicts(self, rules: Sequence[Rule], now: datetime) -> dict[str, Verdict]:
        verdicts: dict[str, Verdict] = {}
        metric = [rule for rule in rules if rule.origin != "health"]
        queries: list[tuple[Rule, Query]] = []
        for rule in metric:
            try:
                if rule.site not in self.settings.sites:
                    raise ApiError(422, "unknown_site", f"site {rule.site!r} is not configured")
                queries.append((rule, rule_query(rule, self._fields(rule.stream), now)))
            except (ApiError, ImportError) as error:
                verdicts[rule.name] = Verdict(None, summary=_reason(error))
        answers = run_queries(
            self.es, self.prefix, [query for _, query in queries], self.settings.rollups
        )
        for (rule, _), answer in zip(queries, answers, strict=True):
            if isinstance(answer, ApiError):
                verdicts[rule.name] = Verdict(None, summary=_reason(answer))
                continue
            try:
                verdicts[rule.name] = judge(rule, answer, now)
            except ImportError as error:  # the anomaly module is missing
                verdicts[rule.name] = Verdict(None, summary=_reason(error))
        checks = [rule for rule in rules if rule.origin == "health"]
        verdicts.update(self._health(checks, now))
        return verdicts

    def _fields(self, stream: str) -> Mapping[str, FieldKind]:
        return self.catalog.fields(stream)

    def _health(self, rules: Sequence[Rule], now: datetime) -> dict[str, Verdict]:
        verdicts: dict[str, Verdict] = {}
        sources = sorted({str(r.extra["source"]) for r in rules if "source" in r.extra})
        rows: dict[str, Mapping[str, Any]] = {}
        if sources:
            try:
                rows = {row["name"]: row for row in source_rows(self.settings, self.es, sources)}
            except (TransportError, EsApiError) as error:
                log.warning("alerts: reading the sources' state failed: %s", error)
        for rule in rules:
            check = rule.extra["check"]
            try:
                if check in (health.SOURCE_FAILING, health.SOURCE_STALE):
                    row = rows.get(str(rule.extra["source"]))
                    verdicts[rule.name] = health.source_verdict(rule, row, self.settings, now)
                elif check == health.DEAD_LETTERS:
                    verdicts[rule.name] = health.dead_letter_verdict(
                        rule, self.es, self.prefix, now
                    )
            except (TransportError, EsApiError) as error:
                verdicts[rule.name] = Verdict(None, summary=_reason(error))
        return verdicts

    # --- the state machine, notifications, history ------------------------------------------

    def _advance(
        self,
        rule: Rule,
        versioned: VersionedState,
        verdict: Verdict,
        now: datetime,
        dry_run: bool,
    ) -> RuleOutcome:
        before = versioned.state
        observed = dataclasses.replace(
            before,
            evaluated_at=now,
            value=verdict.value if verdict.holds is not None else before.value,
            reference=verdict.reference if verdict.holds is not None else before.reference,
            summary=verdict.summary if verdict.holds is not None else before.summary,
            error=None if verdict.holds is not None else verdict.summary,
        )
        after, transitions = step(timing(rule), observed, verdict.holds, now)
        notices: list[Notice] = []
        for transition in transitions:
            if transition.notify:
                notices += self._notify(rule, after, transition, verdict, dry_run)
            if not dry_run:
                self.store.record(event_of(rule, after, transition))
        saved = False
        if not dry_run:
            try:
                self.store.save_state(dataclasses.replace(versioned, state=after), rule.site)
                saved = True
            except StateConflict as error:
                log.info("alerts: %s", error)
        return RuleOutcome(rule, before, after, verdict, transitions, notices, saved)

    def _notify(
        self,
        rule: Rule,
        state: AlertState,
        transition: Transition,
        verdict: Verdict,
        dry_run: bool,
    ) -> list[Notice]:
        message = alert_message(
            rule,
            state,
            transition,
            verdict,
            public_url=self.settings.server.public_url,
            instance=self.instance,
        )
        key = f"alert:{rule.name}:{transition.id}"
        notices = []
        for channel in rule.channels:
            queued: bool | None = None
            if not dry_run and self.queue is not None:
                queued = self.queue.enqueue(key, channel, message)
            notices.append(Notice(channel, key, message, queued))
        return notices


def _reason(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"cannot evaluate: {error.message}"
    if isinstance(error, ImportError):
        return "cannot evaluate: anomaly detection (metronome.alerts.anomaly) is not installed"
    return f"cannot evaluate: {type(error).__name__}: {error}"[:300]


def stored_rule_names(store: AlertStore) -> list[str]:
    return [stored.rule.name for stored in store.rules()]


Fields = Callable[[str], Mapping[str, FieldKind]]
