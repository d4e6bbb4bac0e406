"""Leases, state and the scheduler against the real Elasticsearch."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from metronome.config import SourceSettings
from metronome.es.templates import install_templates
from metronome.sources.lease import LeaseStore, holding
from metronome.sources.registry import register
from metronome.sources.scheduler import LEASE_NAME, PeriodicTask, Scheduler
from metronome.sources.store import SourceState, StateConflict, StateStore, Versioned
from tests.integration.sources.contract import StaticSource, services, stored_documents

register(StaticSource)


@pytest.fixture
def prefix(es: Elasticsearch, index_prefix: str) -> str:
    install_templates(es, index_prefix)
    return index_prefix


def test_of_two_processes_taking_a_lease_at_once_exactly_one_wins(
    es: Elasticsearch, prefix: str
) -> None:
    leases = LeaseStore(es, prefix)
    results: dict[str, bool] = {}
    barrier = threading.Barrier(4)

    def take(holder: str) -> None:
        barrier.wait()
        results[holder] = leases.acquire("race", holder, ttl=30)

    threads = [threading.Thread(target=take, args=(f"p{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [holder for holder, won in results.items() if won]
    assert len(winners) == 1
    current = leases.current("race")
    assert current is not None and current.holder == winners[0]


def test_a_lease_is_renewed_by_its_holder_and_taken_over_once_expired(
    es: Elasticsearch, prefix: str
) -> None:
    clock = {"now": 1000.0}
    leases = LeaseStore(es, prefix, clock=lambda: clock["now"])
    assert leases.acquire("scheduler", "a", ttl=10)
    assert not leases.acquire("scheduler", "b", ttl=10)
    clock["now"] = 1009.0
    assert leases.acquire("scheduler", "a", ttl=10)  # renewed until 1019
    clock["now"] = 1015.0
    assert not leases.acquire("scheduler", "b", ttl=10)
    clock["now"] = 1019.5  # "a" died and stopped renewing
    assert leases.acquire("scheduler", "b", ttl=10)
    leases.release("scheduler", "a")  # not a's any more: nothing happens
    assert leases.current("scheduler") is not None
    leases.release("scheduler", "b")
    assert leases.current("scheduler") is None


def test_holding_renews_the_lease_through_the_block_and_frees_it_after(
    es: Elasticsearch, prefix: str
) -> None:
    leases = LeaseStore(es, prefix)
    with holding(leases, "archive", "a", ttl=1.5) as held:
        assert held
        first = leases.current("archive")
        time.sleep(2.0)  # longer than the TTL: only the heartbeat keeps it
        assert not leases.acquire("archive", "b", ttl=1.5)
        renewed = leases.current("archive")
        assert first is not None and renewed is not None
        assert renewed.holder == "a" and renewed.expires_at > first.expires_at
        with holding(leases, "archive", "b", ttl=1.5) as other:
            assert not other  # the second holder gets nothing and frees nothing
        assert leases.current("archive") is not None
    assert leases.current("archive") is None  # released at once, no TTL to wait out
    with holding(leases, "archive", "b", ttl=1.5) as held:
        assert held


def test_a_state_written_by_another_process_since_it_was_read_is_not_overwritten(
    es: Elasticsearch, prefix: str
) -> None:
    store = StateStore(es, prefix)
    first = store.save(Versioned(SourceState("api", cursor={"after": 1})))
    mine = store.load("api")
    theirs = store.load("api")
    store.save(theirs.with_state(cursor={"after": 9}))
    with pytest.raises(StateConflict):
        store.save(mine.with_state(cursor={"after": 5}))
    assert store.load("api").state.cursor == {"after": 9}
    assert first.seq_no is not None
    with pytest.raises(StateConflict):  # creating over an existing state is a conflict too
        store.save(Versioned(SourceState("api", cursor={})))


@pytest.fixture
def static_sources() -> dict[str, SourceSettings]:
    return {
        name: SourceSettings(name=name, type=StaticSource.type_name, interval=3600, site="shop")
        for name in ("one", "two")
    }


def _scheduler(
    es: Elasticsearch, prefix: str, holder: str, sources: dict[str, SourceSettings], said: list[str]
) -> Scheduler:
    return Scheduler(
        sources, "default", services(es, prefix, holder=holder), lease_ttl=2.0, say=said.append
    )


def _wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def stop_events() -> Iterator[list[threading.Event]]:
    events: list[threading.Event] = []
    yield events
    for event in events:
        event.set()


def test_one_scheduler_runs_the_sources_and_another_takes_over_when_it_dies(
    es: Elasticsearch, prefix: str, static_sources: dict[str, SourceSettings]
) -> None:
    said_a: list[str] = []
    said_b: list[str] = []
    first = _scheduler(es, prefix, "scheduler-a", static_sources, said_a)
    second = _scheduler(es, prefix, "scheduler-b", static_sources, said_b)
    first.tick()
    second.tick()
    assert first.holding and not second.holding
    states = StateStore(es, prefix)
    # every source runs once at once: catching up on whatever was missed
    _wait_for(lambda: all(s.last_success_at for s in states.load_many(static_sources).values()))
    source = StaticSource("one", "shop", {})
    assert len(stored_documents(es, prefix, source)) == 6
    assert any("one: ok" in line for line in said_a) and not said_b[1:]

    first._stop_jobs()
    first._jobs = None
    second.tick()
    assert not second.holding  # not before the dead holder's lease expires
    time.sleep(2.1)
    second.tick()
    assert second.holding
    current = LeaseStore(es, prefix).current(LEASE_NAME)
    assert current is not None and current.holder == "scheduler-b"
    _wait_for(lambda: any("one: ok" in line for line in said_b))
    assert len(stored_documents(es, prefix, source)) == 6  # ran again, duplicated nothing
    second._stop_jobs()


def test_run_forever_releases_the_lease_when_stopped(
    es: Elasticsearch,
    prefix: str,
    static_sources: dict[str, SourceSettings],
    stop_events: list[threading.Event],
) -> None:
    said: list[str] = []
    scheduler = _scheduler(es, prefix, "scheduler-c", static_sources, said)
    stop = threading.Event()
    stop_events.append(stop)
    thread = threading.Thread(target=scheduler.run_forever, args=(stop,))
    thread.start()
    _wait_for(lambda: scheduler.holding)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert LeaseStore(es, prefix).current(LEASE_NAME) is None  # the next one need not wait


def test_periodic_tasks_run_under_the_lease_and_local_ones_everywhere(
    es: Elasticsearch, prefix: str, stop_events: list[threading.Event]
) -> None:
    ran: dict[str, list[str]] = {"a": [], "b": []}

    def tasks(name: str) -> dict[str, Any]:
        def failing() -> None:
            ran[name].append("failing")
            raise RuntimeError("a task's failure is logged, never the scheduler's end")

        return {
            "periodic": [
                PeriodicTask("alerts", 0.2, lambda: ran[name].append("alerts")),
                PeriodicTask("failing", 0.2, failing),
            ],
            "local": [PeriodicTask("health", 0.2, lambda: ran[name].append("health"))],
        }

    schedulers = {
        name: Scheduler({}, "default", services(es, prefix, holder=f"scheduler-{name}"),
                        lease_ttl=2.0, say=lambda message: None, **tasks(name))
        for name in ("a", "b")
    }  # fmt: skip
    threads = []
    for name, scheduler in schedulers.items():  # a first: it takes the lease
        stop = threading.Event()
        stop_events.append(stop)
        threads.append(threading.Thread(target=scheduler.run_forever, args=(stop,)))
        threads[-1].start()
        if name == "a":
            _wait_for(lambda: schedulers["a"].holding)
    _wait_for(lambda: ran["a"].count("alerts") >= 3 and ran["b"].count("health") >= 3)
    assert ran["a"].count("failing") >= 3  # still scheduled after failing
    assert "alerts" not in ran["b"] and "failing" not in ran["b"]  # b does not hold the lease
    assert "health" in ran["a"]
    for stop in stop_events:
        stop.set()
    for thread in threads:
        thread.join(timeout=10)
