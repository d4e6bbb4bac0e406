"""Retrying bulk writes (``metronome.es.retry``, ``metronome.es.bulk.bulk_until_settled``): what
is sent again, what is final, how long it waits and when it gives up or stops.

``send`` is the loop's own parameter (the callers pass ``bulk_create`` or ``bulk_delete``);
here it answers from a script, so every answer Elasticsearch can give is played in order.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence

import pytest

from metronome.es.bulk import GaveUp, ItemResult, StoreUnavailable, bulk_until_settled
from metronome.es.retry import Retry, Stopped, backoff_delay, is_retryable

Answer = dict[str, int] | StoreUnavailable  # status by item, or the whole request failing
Send = Callable[[list[str]], list[ItemResult]]


def scripted(answers: Sequence[Answer]) -> tuple[Send, list[list[str]]]:
    """A ``send`` that plays ``answers`` one try after the other; and the items of each try."""
    sent: list[list[str]] = []
    script: Iterator[Answer] = iter(answers)

    def send(items: list[str]) -> list[ItemResult]:
        sent.append(list(items))
        answer = next(script)
        if isinstance(answer, StoreUnavailable):
            raise answer
        return [ItemResult(answer[item]) for item in items]

    return send, sent


def no_wait(cap: float = 1.0, tries: int | None = None) -> tuple[Retry, list[float]]:
    slept: list[float] = []
    return Retry(cap=cap, tries=tries, sleep=slept.append), slept


def test_backoff_grows_exponentially_and_is_capped() -> None:
    assert backoff_delay(0, cap=30, rand=lambda: 1.0) == pytest.approx(0.1)
    assert backoff_delay(3, cap=30, rand=lambda: 1.0) == pytest.approx(0.8)
    assert backoff_delay(20, cap=30, rand=lambda: 1.0) == 30
    assert backoff_delay(5, cap=30, rand=lambda: 0.0) == 0


def test_429_and_5xx_pass_other_answers_are_final() -> None:
    assert [is_retryable(s) for s in (429, 500, 503)] == [True, True, True]
    assert [is_retryable(s) for s in (200, 201, 400, 404, 409)] == [False] * 5


def test_only_what_passes_is_sent_again_and_results_keep_the_items_order() -> None:
    send, sent = scripted(
        [{"a": 201, "b": 429, "c": 400, "d": 503}, {"b": 409, "d": 201}]  # 409: stored before
    )
    retry, slept = no_wait()
    results = bulk_until_settled(["a", "b", "c", "d"], send, retry)
    assert sent == [["a", "b", "c", "d"], ["b", "d"]]
    assert [r.status for r in results] == [201, 409, 400, 201]
    assert [r.stored for r in results] == [True, True, False, True]
    assert len(slept) == 1


def test_a_failed_request_sends_every_item_again_and_is_told_to_the_caller() -> None:
    down = StoreUnavailable("connection refused")
    send, sent = scripted([down, {"a": 201, "b": 503}, {"b": 201}])
    told: list[tuple[int, StoreUnavailable | None]] = []
    retry, _ = no_wait()
    results = bulk_until_settled(
        ["a", "b"], send, retry, on_retry=lambda n, failure: told.append((n, failure))
    )
    assert sent == [["a", "b"], ["a", "b"], ["b"]]
    assert told == [(2, down), (1, None)]
    assert [r.status for r in results] == [201, 201]


def test_the_caller_says_what_is_not_final() -> None:
    send, sent = scripted([{"a": 400}, {"a": 201}])
    retry, _ = no_wait()
    results = bulk_until_settled(["a"], send, retry, again=lambda result: not result.stored)
    assert (len(sent), results[0].status) == (2, 201)


def test_it_gives_up_after_its_tries_saying_why() -> None:
    send, sent = scripted([{"a": 429, "b": 201}, {"a": 429}, {"a": 429}])
    retry, slept = no_wait(tries=3)
    with pytest.raises(GaveUp, match="keeps refusing 1 documents for now; gave up after 3 tries"):
        bulk_until_settled(["a", "b"], send, retry)
    assert (len(sent), len(slept)) == (3, 2)  # no wait after the last try

    send, _ = scripted([StoreUnavailable("timed out")] * 2)
    with pytest.raises(GaveUp, match="unavailable: timed out; gave up after 2 tries") as caught:
        bulk_until_settled(["a"], send, no_wait(tries=2)[0])
    assert isinstance(caught.value, StoreUnavailable) and caught.value.pending == 1


def test_waits_grow_and_stay_under_the_cap() -> None:
    send, _ = scripted([{"a": 503}] * 8 + [{"a": 201}])
    retry, slept = no_wait(cap=0.5)
    bulk_until_settled(["a"], send, retry)
    assert len(slept) == 8 and all(0 <= s <= 0.5 for s in slept)


def test_a_stop_ends_the_retries_before_the_next_try() -> None:
    stop = threading.Event()
    sent: list[list[str]] = []

    def send(items: list[str]) -> list[ItemResult]:
        sent.append(items)
        stop.set()  # requested while the first try was under way
        return [ItemResult(503) for _ in items]

    with pytest.raises(Stopped):
        bulk_until_settled(["a"], send, Retry(cap=60.0, stop=stop))  # the wait is cut short
    assert len(sent) == 1
    with pytest.raises(Stopped):
        bulk_until_settled(["a"], send, Retry(cap=1.0, stop=stop))  # nothing sent once stopped
    assert len(sent) == 1


def test_nothing_to_send_sends_nothing() -> None:
    send, sent = scripted([])
    assert bulk_until_settled([], send, no_wait()[0]) == []
    assert sent == []
