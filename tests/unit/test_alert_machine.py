"""The alert state machine, walked minute by minute with a clock (no sleeping)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from metronome.alerts.machine import AlertState, Timing, Transition, step

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def walk(
    timing: Timing, holds: Callable[[int], bool | None], minutes: int
) -> tuple[AlertState, list[Transition], list[str]]:
    """Evaluate once a minute for ``minutes``; the transitions and the state each minute."""
    state = AlertState(rule="r", epoch="e")
    transitions: list[Transition] = []
    states: list[str] = []
    for minute in range(minutes):
        state, found = step(timing, state, holds(minute), START + timedelta(minutes=minute))
        transitions.extend(found)
        states.append(state.state)
    return state, transitions, states


def sent(transitions: list[Transition]) -> list[str]:
    return [
        f"{t.kind}@{int((t.at - START).total_seconds() // 60)}" for t in transitions if t.notify
    ]


def test_a_condition_holding_for_an_hour_sends_one_notification_not_sixty() -> None:
    timing = Timing(for_=300, repeat=4 * 3600, cooldown=900)
    state, transitions, states = walk(timing, lambda minute: True, 60)
    assert sent(transitions) == ["firing@5"]
    assert states[:5] == ["pending"] * 5 and states[5:] == ["firing"] * 55
    assert state.incident == 1


def test_pending_that_stops_before_for_returns_to_ok_silently() -> None:
    _, transitions, states = walk(Timing(for_=300), lambda minute: minute < 3, 10)
    assert transitions == []
    assert states[:3] == ["pending"] * 3 and states[3:] == ["ok"] * 7


def test_for_zero_fires_at_the_first_evaluation() -> None:
    _, transitions, states = walk(Timing(for_=0), lambda minute: True, 2)
    assert sent(transitions) == ["firing@0"]
    assert states == ["firing", "firing"]


def test_repeat_reminds_while_firing_and_resolution_is_sent_once() -> None:
    timing = Timing(for_=0, repeat=3600, cooldown=900)
    _, transitions, states = walk(timing, lambda minute: minute < 150, 180)
    assert sent(transitions) == ["firing@0", "repeat@60", "repeat@120", "resolved@150"]
    assert states[150:165] == ["resolved"] * 15 and states[165:] == ["ok"] * 15
    ids = [t.id for t in transitions]
    assert ids == ["e.1.firing", "e.1.repeat.1", "e.1.repeat.2", "e.1.resolved"]


def test_repeat_zero_never_reminds() -> None:
    _, transitions, _ = walk(Timing(for_=0, repeat=0), lambda minute: True, 600)
    assert sent(transitions) == ["firing@0"]


def test_flapping_pages_at_most_once_per_cooldown() -> None:
    """On one minute, off the next, for an hour, with for 0: without a cooldown that would be
    30 firings and 30 resolutions."""
    timing = Timing(for_=0, repeat=3600, cooldown=900)
    _, transitions, _ = walk(timing, lambda minute: minute % 2 == 0, 60)
    notified = sent(transitions)
    assert notified == [
        "firing@0", "resolved@1",  # then quiet for 15 minutes
        "firing@16", "resolved@17",
        "firing@32", "resolved@33",
        "firing@48", "resolved@49",
    ]  # fmt: skip
    # every incident is still recorded, with its own id
    assert len({t.id for t in transitions}) == len(transitions) == 60


def test_flapping_with_for_never_fires() -> None:
    _, transitions, states = walk(Timing(for_=300), lambda minute: minute % 2 == 0, 60)
    assert transitions == []
    assert set(states) == {"pending", "ok"}


def test_an_incident_coming_back_within_the_cooldown_is_sent_when_it_ends() -> None:
    timing = Timing(for_=0, repeat=3600, cooldown=900)
    # fires at 0, resolves at 10, fires again at 12 and lasts
    _, transitions, states = walk(timing, lambda minute: minute < 10 or minute >= 12, 40)
    assert sent(transitions) == ["firing@0", "resolved@10", "firing@25"]
    assert states[12] == "firing"  # visible at once, sent when the cooldown is over
    firings = [(t.id, t.notify) for t in transitions if t.kind == "firing"]
    assert firings == [("e.1.firing", True), ("e.2.firing", False), ("e.2.firing", True)]


def test_unknown_values_change_nothing() -> None:
    timing = Timing(for_=0)
    _, transitions, states = walk(timing, lambda minute: None if minute % 2 else True, 10)
    assert sent(transitions) == ["firing@0"]
    assert states == ["firing"] * 10


def test_the_same_stored_state_gives_the_same_transition_ids() -> None:
    """Two evaluators starting from one stored state (one died before saving) agree."""
    timing = Timing(for_=0)
    stored = AlertState(rule="r", epoch="abc", incident=4)
    first = step(timing, stored, True, START)
    second = step(timing, stored, True, START + timedelta(minutes=1))
    assert [t.id for t in first[1]] == [t.id for t in second[1]] == ["abc.5.firing"]


def test_the_state_survives_json() -> None:
    timing = Timing(for_=0)
    state, _ = step(timing, AlertState(rule="r", epoch="e"), True, START)
    assert AlertState.from_json(state.to_json()) == state
