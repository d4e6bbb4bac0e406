"""The seasonal anomaly detector on crafted hourly series (its precision and recall on many
series are measured by bench/anomaly_bench.py)."""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from metronome.alerts.anomaly import (
    DAY,
    HOUR,
    WEEK,
    Baseline,
    hourly_history_range,
    seasonal_baseline,
    verdict,
    wall_clock_shift,
)

WARSAW = ZoneInfo("Europe/Warsaw")
UTC_ZONE = ZoneInfo("UTC")
Rate = Callable[[datetime], float]


def poisson(rng: random.Random, mean: float) -> int:
    if mean > 60:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def office_hours(level: float) -> Rate:
    """``level`` an hour from 09:00 to 17:00 Warsaw time on weekdays, a tenth of it otherwise:
    a shape that moves by an hour in UTC when the clocks change."""

    def rate(hour: datetime) -> float:
        local = hour.astimezone(WARSAW)
        busy = local.weekday() < 5 and 9 <= local.hour < 17
        return level if busy else level / 10

    return rate


def series(
    rate: Rate, start: datetime, end: datetime, seed: int = 0, noise: bool = True
) -> dict[datetime, float]:
    """Hourly values from ``start`` up to ``end`` (UTC hours), Poisson around ``rate``."""
    rng = random.Random(seed)
    values: dict[datetime, float] = {}
    hour = start
    while hour < end:
        values[hour] = float(poisson(rng, rate(hour)) if noise else round(rate(hour)))
        hour += HOUR
    return values


def weeks_before(at: datetime, weeks: int) -> datetime:
    return at - weeks * WEEK


AT = datetime(2026, 2, 18, 11, tzinfo=WARSAW).astimezone(UTC)  # a Wednesday, 11:00 local


def judge(history: dict[datetime, float], at: datetime, value: float, **options: object) -> object:
    baseline = seasonal_baseline(history, at, WARSAW, sensitivity=3.0, min_weeks=3, **options)  # type: ignore[arg-type]
    return verdict(value, baseline)


def test_spikes_and_drops_are_found_and_the_usual_value_is_not() -> None:
    history = series(office_hours(100), weeks_before(AT, 6), AT)
    baseline = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3)
    assert baseline is not None
    assert baseline.samples == 6
    assert 85 <= baseline.expected <= 115
    assert baseline.low < 100 < baseline.high
    assert verdict(300, baseline) == "spike"
    assert verdict(30, baseline) == "drop"
    assert verdict(100, baseline) is None
    assert verdict(baseline.high + 1, baseline) == "spike"
    assert verdict(baseline.low - 1, baseline) == "drop"


def test_a_clean_series_raises_no_alarm_over_several_seeds() -> None:
    # A week of hours (every 7th, so every hour of day and day of week is met) per seed.
    flagged = []
    for seed in range(5):
        end = AT + WEEK
        history = series(office_hours(200), weeks_before(AT, 5), end, seed=seed)
        hour = AT
        while hour < end:
            said = judge(history, hour, history[hour])
            if said is not None:
                flagged.append((seed, hour, said))
            hour += 7 * HOUR
    # 120 judgements of Poisson noise: at sensitivity 3 the band's tails hold 0.2-0.4 % of
    # the values (Gaussian tails beyond 3 standard deviations: 0.27 %), about 0.4 alarms
    # expected here; a band as narrow as the previous week's value +- 3 sqrt gives several.
    assert len(flagged) <= 1, flagged


@pytest.mark.parametrize(
    "sunday",
    [
        datetime(2026, 3, 29),  # clocks go forward: 02:00 -> 03:00
        datetime(2026, 10, 25),  # clocks go back: 03:00 -> 02:00
    ],
)
def test_dst_weeks_in_warsaw_follow_the_local_clock(sunday: datetime) -> None:
    start = sunday.replace(tzinfo=WARSAW).astimezone(UTC)
    end = start + 2 * DAY  # the day of the change and the Monday after, every hour
    history = series(office_hours(1000), weeks_before(start, 5), end + WEEK, noise=False)
    judged = [start + i * HOUR for i in range(round((end - start) / HOUR))]
    judged += [hour + WEEK for hour in judged]  # and a week later, the change in the history
    for hour in judged:
        baseline = seasonal_baseline(history, hour, WARSAW, sensitivity=3.0, min_weeks=3)
        assert baseline is not None
        assert baseline.expected == pytest.approx(office_hours(1000)(hour), rel=0.02), hour
        assert verdict(history[hour], baseline) is None, hour
    # Judged by UTC weeks instead, the office hours of the Monday after the change start an
    # hour early or late: alarms.
    monday = [hour for hour in judged if start + DAY <= hour < end]
    mistaken = [
        hour
        for hour in monday
        if verdict(
            history[hour],
            seasonal_baseline(history, hour, UTC_ZONE, sensitivity=3.0, min_weeks=3),
        )
        is not None
    ]
    assert len(mistaken) >= 2


def test_the_repeated_autumn_hour_is_judged_twice_against_the_same_hour() -> None:
    flat = lambda hour: 50.0 if hour.astimezone(WARSAW).hour == 2 else 500.0  # noqa: E731
    first = datetime(2026, 10, 25, 0, tzinfo=UTC)  # 02:00 CEST
    second = datetime(2026, 10, 25, 1, tzinfo=UTC)  # 02:00 CET
    history = series(flat, weeks_before(first, 5), second + HOUR, noise=False)
    for hour in (first, second):
        baseline = seasonal_baseline(history, hour, WARSAW, sensitivity=3.0, min_weeks=3)
        assert baseline is not None
        assert baseline.expected == pytest.approx(50.0)
        assert verdict(50.0, baseline) is None


def test_a_local_hour_the_spring_change_skipped_is_no_sample() -> None:
    at = datetime(2026, 4, 5, 2, tzinfo=WARSAW).astimezone(UTC)  # a week after the gap
    assert wall_clock_shift(at, WARSAW, WEEK) is None
    history = series(office_hours(100), weeks_before(at, 5), at, noise=False)
    baseline = seasonal_baseline(history, at, WARSAW, sensitivity=3.0, min_weeks=3)
    assert baseline is not None
    assert baseline.samples == 4


def test_too_little_history_gives_no_baseline() -> None:
    history = series(office_hours(100), weeks_before(AT, 2), AT)
    assert seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3) is None
    assert verdict(10_000, None) is None
    two = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=2)
    assert two is not None
    assert two.samples == 2
    # Zero-filled hours before the metric's first value are not history.
    padded = {hour: 0.0 for hour in series(office_hours(1), weeks_before(AT, 6), AT)}
    padded.update(history)
    assert seasonal_baseline(padded, AT, WARSAW, sensitivity=3.0, min_weeks=3) is None


def test_one_huge_outlier_in_the_history_moves_nothing() -> None:
    history = series(office_hours(100), weeks_before(AT, 6), AT, seed=3)
    clean = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3)
    history[AT - 2 * WEEK] = 1_000_000.0  # the same hour of week, two weeks ago
    history[AT - 2 * DAY] = 1_000_000.0  # and one in the week that calibrates the scale
    spoiled = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3)
    assert clean is not None
    assert spoiled is not None
    assert spoiled.expected == pytest.approx(clean.expected, rel=0.1)
    assert spoiled.high == pytest.approx(clean.high, rel=0.15)
    assert verdict(300, spoiled) == "spike"
    assert verdict(100, spoiled) is None


def test_sparse_and_zero_traffic_hours_alarm_only_on_what_noise_rarely_gives() -> None:
    def sparse(hour: datetime) -> float:
        return 0.0 if hour.astimezone(WARSAW).hour < 6 else 1.0

    history = series(sparse, weeks_before(AT, 6), AT, seed=1)
    baseline = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3)
    assert baseline is not None
    assert verdict(3, baseline) is None  # 3 where 1 is typical: noise
    assert verdict(0, baseline) is None  # and so is none
    assert verdict(40, baseline) == "spike"
    night = datetime(2026, 2, 18, 3, tzinfo=WARSAW).astimezone(UTC)
    quiet = seasonal_baseline(history, night, WARSAW, sensitivity=3.0, min_weeks=3)
    assert quiet is not None
    assert quiet.expected == 0.0
    assert quiet.low == 0.0  # nothing is below it: a zero hour cannot drop
    assert verdict(0, quiet) is None
    assert verdict(2, quiet) is None
    assert verdict(40, quiet) == "spike"


def test_a_day_long_window_compares_the_day_with_the_same_day_of_previous_weeks() -> None:
    at = datetime(2026, 2, 18, tzinfo=WARSAW).astimezone(UTC)  # a Wednesday, local midnight
    history = series(office_hours(20), weeks_before(at, 6), at + DAY, seed=2)
    baseline = seasonal_baseline(history, at, WARSAW, sensitivity=3.0, min_weeks=3, window=DAY)
    assert baseline is not None
    day = sum(value for hour, value in history.items() if at <= hour < at + DAY)
    assert baseline.expected == pytest.approx(8 * 20 + 16 * 2, rel=0.1)
    assert verdict(day, baseline) is None
    assert verdict(day * 1.5, baseline) == "spike"
    assert verdict(day * 0.6, baseline) == "drop"
    # An hour at 1.5x is within hourly noise at this level: the day reveals it, the hour not.
    hourly = seasonal_baseline(history, at + 10 * HOUR, WARSAW, sensitivity=3.0, min_weeks=3)
    assert verdict(30, hourly) is None


def test_metrics_that_are_not_counts_have_a_relative_floor() -> None:
    rng = random.Random(4)
    start = weeks_before(AT, 5)
    history = {start + i * HOUR: 200.0 + rng.gauss(0, 2) for i in range(5 * 168)}
    baseline = seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3, counts=False)
    assert baseline is not None
    assert baseline.expected == pytest.approx(200, abs=3)
    assert verdict(203, baseline) is None
    assert verdict(230, baseline) == "spike"
    assert verdict(170, baseline) == "drop"


def test_the_history_range_holds_everything_the_baseline_reads() -> None:
    history = series(office_hours(100), weeks_before(AT, 12), AT + WEEK, seed=5)
    for window in (HOUR, DAY):
        start, end = hourly_history_range(AT, 8, window)
        assert end == AT
        read = {hour: value for hour, value in history.items() if start <= hour < end}
        options = {"sensitivity": 3.0, "min_weeks": 3, "window": window}
        assert seasonal_baseline(read, AT, WARSAW, **options) == seasonal_baseline(  # type: ignore[arg-type]
            history,
            AT,
            WARSAW,
            **options,  # type: ignore[arg-type]
        )


def test_bad_input_is_refused() -> None:
    history = series(office_hours(100), weeks_before(AT, 4), AT)
    with pytest.raises(ValueError, match="aware"):
        seasonal_baseline(history, AT.replace(tzinfo=None), WARSAW, sensitivity=3.0, min_weeks=3)
    with pytest.raises(ValueError, match="week"):
        seasonal_baseline(history, AT, WARSAW, sensitivity=3.0, min_weeks=3, window=2 * WEEK)
    with pytest.raises(ValueError, match="sensitivity"):
        seasonal_baseline(history, AT, WARSAW, sensitivity=0.0, min_weeks=3)
    assert verdict(1.0, Baseline(1.0, 0.5, 2.0, 3)) is None
