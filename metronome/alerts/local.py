"""The health checks every instance makes for itself, lease or not: Elasticsearch unreachable,
the spool filling, the forward listener down (``metronome.alerts.health``).

They must work when Elasticsearch does not, so their state lives on this instance's disk
(``<var>/alerts/local-state.json``, next to the spool, written whole and renamed into place)
and their notifications go out at once (``Outbox.send_now``), not through the outbox in
Elasticsearch. A notification that cannot be sent leaves its rule's state as it was, so the
next run (every ``alerts.health.local_every``) tries the same transition again: at least once,
and twice only if this process dies between sending and saving. Their transitions are also
written to the shared history when Elasticsearch answers, so ``GET /api/v1/alerts`` shows them.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from elasticsearch import Elasticsearch

from metronome.alerts import health
from metronome.alerts.conditions import Verdict
from metronome.alerts.evaluate import Notice, RuleOutcome, timing
from metronome.alerts.machine import AlertState, Transition, step
from metronome.alerts.messages import alert_message
from metronome.alerts.rules import Rule
from metronome.alerts.store import AlertStore, event_of
from metronome.config import Settings
from metronome.fsutil import fsync_dir
from metronome.notify.clock import Clock, system_clock
from metronome.notify.message import Message

log = logging.getLogger(__name__)
STATE_FILE = "local-state.json"


class Sender(Protocol):
    """What the local checks need of ``metronome.notify.outbox.Outbox``."""

    def send_now(self, channel: str, message: Message, to: tuple[str, ...] = ()) -> object: ...


def state_path(settings: Settings) -> Path:
    return Path(settings.spool.dir).parent / "alerts" / STATE_FILE


def read_states(path: Path) -> dict[str, AlertState]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    states = {}
    for name, body in (data.get("states") or {}).items():
        try:
            states[name] = AlertState.from_json(body)
        except (TypeError, ValueError):
            continue  # a state this version cannot read starts afresh
    return states


def write_states(path: Path, states: dict[str, AlertState]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"states": {name: s.to_json() for name, s in states.items()}}, indent=1)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class LocalChecks:
    def __init__(
        self,
        settings: Settings,
        es: Elasticsearch,
        sender: Sender | None,
        clock: Clock = system_clock,
        *,
        instance: str | None = None,
        path: Path | None = None,
    ) -> None:
        self.settings = settings
        self.es = es
        self.sender = sender
        self.clock = clock
        self.instance = instance
        self.path = path or state_path(settings)
        self.store = AlertStore(es, settings.elasticsearch.index_prefix)

    def rules(self) -> list[Rule]:
        return health.local_rules(self.settings)

    def run(self, *, dry_run: bool = False) -> list[RuleOutcome]:
        now = self.clock()
        rules = [rule for rule in self.rules() if rule.enabled]
        states = read_states(self.path)
        verdicts = {rule.name: self._verdict(rule) for rule in rules}
        es_down = bool(verdicts.get(f"{health.PREFIX}{health.ELASTICSEARCH}", Verdict(False)).holds)
        outcomes = []
        for rule in rules:
            before = states.get(rule.name) or AlertState(rule=rule.name, epoch=uuid.uuid4().hex[:8])
            verdict = verdicts[rule.name]
            observed = dataclasses.replace(
                before,
                evaluated_at=now,
                value=verdict.value,
                reference=verdict.reference,
                summary=verdict.summary,
                error=None if verdict.holds is not None else verdict.summary,
            )
            after, transitions = step(timing(rule), observed, verdict.holds, now)
            notices: list[Notice] = []
            sent_all = True
            for transition in transitions:
                if not transition.notify:
                    continue
                message = alert_message(
                    rule,
                    after,
                    transition,
                    verdict,
                    public_url=self.settings.server.public_url,
                    instance=self.instance,
                )
                for channel in rule.channels:
                    key = f"alert:{rule.name}:{transition.id}"
                    if dry_run or self.sender is None:
                        notices.append(Notice(channel, key, message, None))
                        continue
                    try:
                        self.sender.send_now(channel, message)
                    except Exception as error:  # retried at the next run
                        log.warning(
                            "alerts: sending %s to %s failed: %s", rule.name, channel, error
                        )
                        sent_all = False
                        continue
                    notices.append(Notice(channel, key, message, True))
            if not dry_run and sent_all:
                states[rule.name] = after
                if transitions and not es_down:
                    self._record(rule, after, transitions)
            outcomes.append(
                RuleOutcome(rule, before, after, verdict, transitions, notices, sent_all)
            )
        if not dry_run:
            write_states(self.path, states)
        return outcomes

    def _verdict(self, rule: Rule) -> Verdict:
        now = self.clock()
        check = rule.extra["check"]
        settings = self.settings
        if check == health.SPOOL:
            spool = settings.spool
            percent = settings.alerts.health.spool_filling.percent
            return health.spool_verdict(Path(spool.dir), spool.max_bytes, percent, now)
        if check == health.FORWARD:
            forward = settings.logs.forward
            timeout = settings.alerts.health.forward_down.timeout
            return health.forward_verdict(forward.host, forward.port, timeout, now)
        return health.elasticsearch_verdict(self.es, now)

    def _record(self, rule: Rule, state: AlertState, transitions: Sequence[Transition]) -> None:
        try:
            for transition in transitions:
                self.store.record(event_of(rule, state, transition))
        except Exception as error:  # the history is a convenience here; the state is on disk
            log.info("alerts: recording %s in Elasticsearch failed: %s", rule.name, error)
