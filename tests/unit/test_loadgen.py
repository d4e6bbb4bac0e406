"""The load generator's per-second view of latency: bursts (stalls) told from spread queueing."""

from __future__ import annotations

from bench.loadgen import tail_by_second, timeline


def _run(
    latency_of: dict[int, float], seconds: int = 20, per_second: int = 50
) -> tuple[list[float], list[float], float]:
    """``per_second`` requests due in each second from 100.0; 2 ms each unless ``latency_of``."""
    latencies, due = [], []
    for second in range(seconds):
        for number in range(per_second):
            due.append(100.0 + second + number / per_second)
            latencies.append(latency_of.get(second, 0.002))
    return latencies, due, 100.0


def test_a_stall_puts_the_whole_tail_in_its_seconds() -> None:
    latencies, due, start = _run({})
    for index in range(7 * 50, 7 * 50 + 6):  # the first requests due in seconds 7 and 8 stall
        latencies[index] = 0.250
    for index in range(8 * 50, 8 * 50 + 4):
        latencies[index] = 0.180
    tail = tail_by_second(latencies, due, start)
    assert tail["p99_ms"] == 180.0  # the 10 slowest of 1,000
    assert tail["seconds"] == 20
    assert tail["worst_seconds"] == [7, 8]
    assert tail["seconds_with_slow"] == 2
    assert tail["share_in_worst_tenth"] == 1.0
    assert tail["median_second_p99_ms"] == 2.0  # a typical second never saw the stall


def test_a_tail_spread_over_the_run_is_not_a_burst() -> None:
    latencies, due, start = _run({})
    for index in range(0, len(latencies), 50):  # one slow request in every second
        latencies[index] = 0.040
    tail = tail_by_second(latencies, due, start)
    assert tail["seconds_with_slow"] == 20
    assert tail["share_in_worst_tenth"] == 0.1
    assert tail["median_second_p99_ms"] == 40.0  # every second has its slow request


def test_too_few_requests_say_nothing() -> None:
    assert tail_by_second([0.1] * 99, [1.0] * 99, 0.0) == {}


def test_timeline_has_a_row_per_second_of_the_schedule() -> None:
    rows = timeline(*_run({3: 0.050}, seconds=5))
    assert [row["s"] for row in rows] == [0, 1, 2, 3, 4]
    assert all(row["n"] == 50 for row in rows)
    assert rows[3]["p50"] == rows[3]["max"] == 50.0
    assert rows[0]["p99"] == 2.0
