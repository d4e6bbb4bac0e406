"""Alerts in Elasticsearch: one index ``<prefix>-alerts`` (es_templates/index/alerts.json) holds
three kinds of documents, told apart by ``kind``:

- ``rule:<name>``: a rule stored through the API, its definition kept whole (not indexed);
- ``state:<name>``: where a rule's state machine stands (``metronome.alerts.machine``);
- ``event:<name>:<transition id>``: its history, one document per firing, reminder and
  resolution (created once: the same transition written twice is one event).

Rules and states change only from the version they were read at (``if_seq_no`` and
``if_primary_term``): two API clients cannot overwrite each other's edit (409, like the
dashboards), and two evaluators cannot both move one rule's state (the second write fails and
that evaluator leaves the rule alone).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from elasticsearch import ConflictError, Elasticsearch

from metronome.alerts.machine import AlertState, Transition
from metronome.alerts.rules import Rule, RuleError, parse_rule, rule_to_json
from metronome.errors import ApiError
from metronome.es.templates import create_templated_index
from metronome.query.reads import (
    DocumentConflict,
    DocumentMissing,
    call_document,
)

MAX_LISTED = 1000
T = TypeVar("T")


@dataclass(frozen=True)
class StoredRule:
    rule: Rule
    version: str  # "<seq_no>.<primary_term>"


@dataclass(frozen=True)
class VersionedState:
    state: AlertState
    seq_no: int | None = None  # None: not stored yet
    primary_term: int | None = None


@dataclass(frozen=True)
class Event:
    rule: str
    site: str | None
    kind: str  # firing | repeat | resolved
    at: datetime
    value: float | None
    reference: float | None
    summary: str
    notified: bool
    transition: str
    severity: str = "warning"

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "site": self.site,
            "state": self.kind,
            "at": self.at.isoformat(),
            "value": self.value,
            "reference": self.reference,
            "summary": self.summary,
            "notified": self.notified,
            "transition": self.transition,
            "severity": self.severity,
        }


class StateConflict(RuntimeError):
    """Another evaluator saved this rule's state since it was read."""


class AlertStore:
    def __init__(self, client: Elasticsearch, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self.index = f"{prefix}-alerts"
        self._ready = False

    # --- rules stored through the API ----------------------------------------------------

    def rules(self, site: str | None = None) -> list[StoredRule]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"kind": "rule"}}]}}
        if site is not None:
            query["bool"]["filter"].append({"term": {"site": site}})
        response = call_document(
            lambda: (
                self.client.search(
                    index=self.index,
                    query=query,
                    sort=[{"name": "asc"}],
                    size=MAX_LISTED,
                    seq_no_primary_term=True,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        )
        found = []
        for hit in response["hits"]["hits"]:
            stored = _stored_rule(hit)
            if stored is not None:
                found.append(stored)
        return found

    def rule(self, name: str) -> StoredRule | None:
        try:
            found = call_document(lambda: self.client.get(index=self.index, id=f"rule:{name}").body)
        except DocumentMissing:
            return None
        return _stored_rule(found)

    def create_rule(self, rule: Rule) -> StoredRule | None:
        """The stored rule, or None when the name is taken."""
        self.ensure_index()
        try:
            written = call_document(
                lambda: (
                    self.client.create(
                        index=self.index,
                        id=f"rule:{rule.name}",
                        document=_rule_document(rule),
                        refresh=True,
                    ).body
                )
            )
        except DocumentConflict:
            return None
        return StoredRule(rule, _version(written))

    def replace_rule(self, rule: Rule, version: tuple[int, int]) -> StoredRule | None:
        """Write over ``version``; None when the rule changed since (or is gone)."""
        try:
            written = call_document(
                lambda: (
                    self.client.index(
                        index=self.index,
                        id=f"rule:{rule.name}",
                        document=_rule_document(rule),
                        if_seq_no=version[0],
                        if_primary_term=version[1],
                        refresh=True,
                    ).body
                )
            )
        except (DocumentConflict, DocumentMissing):
            return None
        return StoredRule(rule, _version(written))

    def delete_rule(self, name: str, version: tuple[int, int] | None) -> bool | None:
        """True: deleted; False: no such rule; None: it changed since ``version``."""
        options: dict[str, Any] = {}
        if version is not None:
            options = {"if_seq_no": version[0], "if_primary_term": version[1]}
        try:
            call_document(
                lambda: self.client.delete(
                    index=self.index, id=f"rule:{name}", refresh=True, **options
                )
            )
        except DocumentMissing:
            return False
        except DocumentConflict:
            return None
        return True

    # --- states ------------------------------------------------------------------------------

    def states(self, names: Iterable[str]) -> dict[str, VersionedState]:
        """The stored state of each rule (a fresh one, not stored, when it has none)."""
        wanted = list(dict.fromkeys(names))
        states = {name: VersionedState(AlertState(rule=name)) for name in wanted}
        if not wanted:
            return states
        response = call_document(
            lambda: (
                self.client.options(ignore_status=404)
                .mget(index=self.index, ids=[f"state:{name}" for name in wanted])
                .body
            )
        )
        for doc in response.get("docs", []):
            if doc.get("found"):
                state = AlertState.from_json(doc["_source"]["state_doc"])
                states[state.rule] = VersionedState(
                    state, int(doc["_seq_no"]), int(doc["_primary_term"])
                )
        return states

    def ensure_states(self, names: Iterable[str]) -> dict[str, VersionedState]:
        """Every rule's stored state, created (``ok``, with its epoch) where missing, so that
        every evaluator computes transitions from the same stored epoch."""
        states = self.states(names)
        missing = [name for name, found in states.items() if found.seq_no is None]
        if not missing:
            return states
        self.ensure_index()
        for name in missing:
            fresh = AlertState(rule=name, epoch=uuid.uuid4().hex[:8])
            with contextlib.suppress(ConflictError):  # another evaluator did: read theirs
                self.client.create(index=self.index, id=f"state:{name}", document=_state_doc(fresh))
        return {**states, **self.states(missing)}

    def save_state(self, versioned: VersionedState, site: str | None) -> VersionedState:
        """Write the state at the version read; ``StateConflict`` when someone else has."""
        state = versioned.state
        try:
            if versioned.seq_no is None:
                written = self.client.create(
                    index=self.index, id=f"state:{state.rule}", document=_state_doc(state, site)
                )
            else:
                written = self.client.index(
                    index=self.index,
                    id=f"state:{state.rule}",
                    document=_state_doc(state, site),
                    if_seq_no=versioned.seq_no,
                    if_primary_term=versioned.primary_term,
                )
        except ConflictError as error:
            raise StateConflict(f"alert {state.rule!r} was evaluated by another process") from error
        return VersionedState(state, int(written["_seq_no"]), int(written["_primary_term"]))

    def forget_state(self, name: str) -> None:
        self.client.options(ignore_status=404).delete(index=self.index, id=f"state:{name}")

    # --- history -----------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        """Keep one event per transition (a second write of the same one changes nothing)."""
        self.ensure_index()
        with contextlib.suppress(ConflictError):
            self.client.create(
                index=self.index,
                id=f"event:{event.rule}:{event.transition}",
                document={"kind": "event", **event.to_json(), "name": event.rule},
            )

    def events(
        self,
        *,
        rule: str | None = None,
        site: str | None = None,
        sites: Sequence[str] | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        size: int = 100,
        offset: int = 0,
        newest_first: bool = True,
    ) -> tuple[list[Event], int]:
        """Events, filtered, and how many match in all."""
        filters: list[dict[str, Any]] = [{"term": {"kind": "event"}}]
        if rule is not None:
            filters.append({"term": {"name": rule}})
        if site is not None:
            filters.append({"term": {"site": site}})
        if sites is not None:
            filters.append({"terms": {"site": list(sites)}})
        if start is not None or end is not None:
            bounds: dict[str, str] = {}
            if start is not None:
                bounds["gte"] = start.isoformat()
            if end is not None:
                bounds["lt"] = end.isoformat()
            filters.append({"range": {"at": bounds}})
        response = call_document(
            lambda: (
                self.client.search(
                    index=self.index,
                    query={"bool": {"filter": filters}},
                    sort=[{"at": "desc" if newest_first else "asc"}, {"transition": "asc"}],
                    size=size,
                    from_=offset,
                    track_total_hits=True,
                    ignore_unavailable=True,
                    allow_no_indices=True,
                ).body
            )
        )
        events = [_event(hit["_source"]) for hit in response["hits"]["hits"]]
        return events, int(response["hits"]["total"]["value"])

    def refresh(self) -> None:
        self.client.options(ignore_status=404).indices.refresh(index=self.index)

    def ensure_index(self) -> None:
        """The index with its mapping, even where the templates were not installed."""
        if not self._ready:
            call_document(lambda: create_templated_index(self.client, self.prefix, self.index))
            self._ready = True


def event_of(rule: Rule, state: AlertState, transition: Transition) -> Event:
    return Event(
        rule=rule.name,
        site=rule.site,
        kind=transition.kind,
        at=transition.at,
        value=state.value,
        reference=state.reference,
        summary=state.summary,
        notified=transition.notify,
        transition=transition.id,
        severity=rule.severity,
    )


def _event(source: dict[str, Any]) -> Event:
    return Event(
        rule=str(source["rule"]),
        site=source.get("site"),
        kind=str(source["state"]),
        at=datetime.fromisoformat(source["at"]),
        value=source.get("value"),
        reference=source.get("reference"),
        summary=str(source.get("summary", "")),
        notified=bool(source.get("notified")),
        transition=str(source.get("transition", "")),
        severity=str(source.get("severity", "warning")),
    )


def _rule_document(rule: Rule) -> dict[str, Any]:
    return {
        "kind": "rule",
        "name": rule.name,
        "site": rule.site,
        "updated_at": datetime.now(UTC).isoformat(),
        "definition": rule_to_json(rule),
    }


def _state_doc(state: AlertState, site: str | None = None) -> dict[str, Any]:
    return {
        "kind": "state",
        "name": state.rule,
        "site": site,
        "state": state.state,
        "since": state.since.isoformat() if state.since else None,
        "updated_at": datetime.now(UTC).isoformat(),
        "state_doc": state.to_json(),
    }


def _stored_rule(document: dict[str, Any]) -> StoredRule | None:
    definition = document["_source"]["definition"]
    try:
        # checked when saved; a stored rule is read back without the sites' and channels' check
        rule = parse_rule(definition, name=str(document["_source"]["name"]), origin="stored")
    except RuleError:
        return None
    return StoredRule(rule, _version(document))


def _version(document: dict[str, Any]) -> str:
    return f"{document['_seq_no']}.{document['_primary_term']}"


def store_error(error: Exception) -> ApiError:
    return ApiError(503, "store_unavailable", f"Elasticsearch did not answer ({error}).")
