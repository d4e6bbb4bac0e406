"""Each rule is a small state machine (pure): ok -> pending -> firing -> resolved -> ok.

- **ok**: the condition does not hold.
- **pending**: it holds, for less than the rule's ``for``; back to ok, silently, when it stops.
  With ``for`` 0 a rule goes from ok to firing in one evaluation.
- **firing**: it has held for ``for``. The first firing of an incident is notified, then a
  reminder every ``repeat`` (0: none) while it keeps firing.
- **resolved**: it stopped holding while firing. The resolution is notified when the firing
  was; the rule shows ``resolved`` for ``cooldown``, then ``ok``.

**Cooldown**: after a notified resolution, the same rule sends no new firing notification for
``cooldown``. A condition that comes back within it fires (the state says so at once) but is
notified only when the cooldown has passed and it still fires; if it resolves before, neither
its firing nor its resolution is sent. A flapping condition so pages at most once per
cooldown, and an incident that lasts is never hidden.

Every notified change is a ``Transition`` whose id is made from the state it was computed
from (``<epoch>.<incident>.firing``, ``.resolved``, ``.repeat.<n>``): an evaluator that dies
after queueing a notification but before saving the state is followed by one that computes the
same transition from the same stored state, with the same id, and the outbox queues each
``alert:<rule>:<id>`` once.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

StateName = Literal["ok", "pending", "firing", "resolved"]
TransitionKind = Literal["firing", "repeat", "resolved"]
STATES: tuple[StateName, ...] = ("ok", "pending", "firing", "resolved")


@dataclass(frozen=True)
class Timing:
    """The parts of a rule the machine needs (seconds)."""

    for_: float = 300.0
    repeat: float = 14_400.0  # 0: never
    cooldown: float = 900.0


@dataclass(frozen=True)
class AlertState:
    rule: str
    state: StateName = "ok"
    since: datetime | None = None  # when the current state began
    epoch: str = ""  # chosen when the state is first stored: ids never repeat across re-creations
    incident: int = 0  # incidents so far; pending (or firing at once) begins the next one
    notified: bool = False  # this incident's firing was sent
    reminders: int = 0  # repeats sent in this incident
    last_sent_at: datetime | None = None  # the last firing or repeat sent in this incident
    quiet_until: datetime | None = None  # cooldown: no firing is sent before
    value: float | None = None  # the last value evaluated
    reference: float | None = None  # what it was compared with (threshold, earlier value...)
    summary: str = ""  # the last verdict in words
    evaluated_at: datetime | None = None
    error: str | None = None  # the last evaluation could not be made: why

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for key, value in data.items():
            if isinstance(value, datetime):
                data[key] = value.isoformat()
        return data

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> AlertState:
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in body.items() if key in names}
        for key in ("since", "last_sent_at", "quiet_until", "evaluated_at"):
            if values.get(key):
                values[key] = datetime.fromisoformat(values[key])
        return cls(**values)


@dataclass(frozen=True)
class Transition:
    id: str  # unique per rule: the outbox key is alert:<rule>:<id>
    kind: TransitionKind
    at: datetime
    notify: bool  # False: recorded in the history, not sent (within a cooldown)
    incident_since: datetime | None = None  # when this incident began firing


def step(
    timing: Timing, state: AlertState, holds: bool | None, now: datetime
) -> tuple[AlertState, list[Transition]]:
    """The state after one evaluation at ``now`` where the condition ``holds`` (None: it could
    not be evaluated; nothing changes), and the transitions to record and notify."""
    if holds is None:
        return state, []
    if holds:
        return _holding(timing, state, now)
    return _not_holding(timing, state, now)


def _holding(
    timing: Timing, state: AlertState, now: datetime
) -> tuple[AlertState, list[Transition]]:
    transitions: list[Transition] = []
    if state.state in ("ok", "resolved"):
        state = dataclasses.replace(
            state,
            state="pending",
            since=now,
            incident=state.incident + 1,
            notified=False,
            reminders=0,
            last_sent_at=None,
        )
    if state.state == "pending":
        assert state.since is not None
        if now - state.since < timedelta(seconds=timing.for_):
            return state, []
        state = dataclasses.replace(state, state="firing", since=now)
        quiet = state.quiet_until is not None and now < state.quiet_until
        transitions.append(_transition(state, "firing", now, notify=not quiet))
        if not quiet:
            state = dataclasses.replace(state, notified=True, last_sent_at=now)
        return state, transitions
    # firing
    if not state.notified:
        if state.quiet_until is None or now >= state.quiet_until:
            transitions.append(_transition(state, "firing", now, notify=True))
            state = dataclasses.replace(state, notified=True, last_sent_at=now)
        return state, transitions
    last = state.last_sent_at or state.since or now
    if timing.repeat > 0 and now - last >= timedelta(seconds=timing.repeat):
        state = dataclasses.replace(state, reminders=state.reminders + 1, last_sent_at=now)
        transitions.append(_transition(state, "repeat", now, notify=True))
    return state, transitions


def _not_holding(
    timing: Timing, state: AlertState, now: datetime
) -> tuple[AlertState, list[Transition]]:
    if state.state == "pending":
        return dataclasses.replace(state, state="ok", since=now), []
    if state.state == "firing":
        transition = _transition(state, "resolved", now, notify=state.notified)
        quiet_until = state.quiet_until
        if state.notified:
            quiet_until = now + timedelta(seconds=timing.cooldown)
        resolved = dataclasses.replace(state, state="resolved", since=now, quiet_until=quiet_until)
        return resolved, [transition]
    if state.state == "resolved":
        assert state.since is not None
        if now - state.since >= timedelta(seconds=timing.cooldown):
            return dataclasses.replace(state, state="ok", since=now), []
    return state, []


def _transition(
    state: AlertState, kind: TransitionKind, now: datetime, *, notify: bool
) -> Transition:
    suffix = f".{state.reminders}" if kind == "repeat" else ""
    return Transition(
        id=f"{state.epoch}.{state.incident}.{kind}{suffix}",
        kind=kind,
        at=now,
        notify=notify,
        incident_since=state.since,
    )
