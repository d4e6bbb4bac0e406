"""The seasonal anomaly detector of ``anomaly`` alert rules. Pure: no I/O, no clock.

A metric's value over a window (one hour by default) is judged against the same window in the
previous weeks: the same local wall-clock start in the rule's time zone, so an hour of week is
"Monday 09:00 in Europe/Warsaw" on both sides of a DST change. The baseline is the median of
those past values, and the band around it is ``sensitivity`` times a robust scale:

- counts (``counts=True``: hits, visitors) are compared after a square-root transform
  (Anscombe's, ``2·sqrt(x + 3/8)``), under which Poisson noise has a spread of about 1 at
  every level; that spread is the scale's floor, so a series of a few hits an hour alarms
  only on what Poisson noise would rarely give (3 where 1 is typical: no; 40: yes);
- the scale is calibrated on the metric itself: the detector predicts each of the last 168
  windows (a week of hourly steps) from their own previous weeks and takes the median
  absolute error (times 1.4826, a standard deviation for normal noise). Medians throughout,
  so one huge outlier in the history moves neither the baseline nor the band.

History before the metric's first non-zero value is no history (zero-filled hours before a
site existed are not a baseline): with fewer than ``min_weeks`` usable past windows the
detector answers ``None`` and never fires. Windows longer than an hour (up to a week) compare
the window's total with the same window in previous weeks, which is how a sparse metric is
watched usefully (docs/anomaly-detection.md).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Literal
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
MAX_WINDOW = WEEK
DEFAULT_MIN_WEEKS = 3
DEFAULT_SENSITIVITY = 3.0
LEVEL_BOUND = 1.5  # the level correction's bound, a factor on the metric (calibrate)
MAX_WEEKS = 8  # older weeks lag behind a trend (bench/anomaly_bench.py)
CALIBRATION_WINDOWS = 168  # the windows of the last week, one per hour, that calibrate the scale
NEAREST = 56  # a third of them, those closest in level to the judged window, give its scale
MIN_CALIBRATION = 24  # fewer predicted windows than this: the scale is the floor alone
MAD_TO_SIGMA = 1.4826  # the median absolute deviation of normal noise, in standard deviations
RELATIVE_FLOOR = 0.01  # values (not counts): a change under 1 % of the baseline never fires
_SECONDS = 3600

Transform = Callable[[float], float]


@dataclass(frozen=True)
class Baseline:
    expected: float  # the typical value for this window of the week
    low: float  # below: a drop
    high: float  # above: a spike
    samples: int  # how many past same-window values it rests on


class HourlySeries:
    """An hourly history, indexed for window sums: each key covers ``[key, key + 1h)``.

    Hours before the first non-zero value (counts) or the first value (other metrics) are
    dropped: they are not history. Keys must be aware datetimes; missing hours are unknown
    (not zero), and a window touching one is not a sample."""

    def __init__(self, history: Mapping[datetime, float], *, counts: bool = True) -> None:
        items = sorted((_epoch(moment), float(value)) for moment, value in history.items())
        first = next((i for i, (_, value) in enumerate(items) if value != 0 or not counts), None)
        items = items[first:] if first is not None else []
        self.starts = [start for start, _ in items]
        self.values = [value for _, value in items]
        self.prefix = [0.0]
        for value in self.values:
            self.prefix.append(self.prefix[-1] + value)

    def total(self, start: datetime, length: timedelta, before: datetime) -> float | None:
        """The metric over ``[start, start + length)``, hours cut by the window counted in
        proportion; ``None`` when an hour it touches is unknown or ends after ``before``."""
        begin, end = _epoch(start), _epoch(start + length)
        if end > _epoch(before):
            return None
        first = bisect_right(self.starts, begin) - 1
        last = bisect_right(self.starts, end - 1e-6) - 1
        if (
            first < 0
            or last < first
            or self.starts[last] - self.starts[first] != ((last - first) * _SECONDS)
        ):
            return None
        if self.starts[first] + _SECONDS <= begin or self.starts[last] + _SECONDS < end:
            return None
        total = self.prefix[last + 1] - self.prefix[first]
        total -= self.values[first] * (begin - self.starts[first]) / _SECONDS
        total -= self.values[last] * (self.starts[last] + _SECONDS - end) / _SECONDS
        return total


def hourly_history_range(
    at: datetime, weeks: int, window: timedelta = HOUR
) -> tuple[datetime, datetime]:
    """The hours to read, ``[start, end)`` in UTC, to judge the window starting at ``at``
    against ``weeks`` previous weeks: those weeks, plus the week before ``at`` that calibrates
    the scale, plus an hour for a DST change. ``end`` is ``at``: read it as hourly buckets
    in the rule's time zone (a bucket not complete by ``at`` is not used)."""
    _check_window(window)
    start = at - window - (CALIBRATION_WINDOWS - 1) * HOUR - weeks * WEEK - HOUR
    return start.astimezone(UTC), at.astimezone(UTC)


def seasonal_baseline(
    history: Mapping[datetime, float],
    at: datetime,
    tz: ZoneInfo,
    *,
    sensitivity: float = DEFAULT_SENSITIVITY,
    min_weeks: int = DEFAULT_MIN_WEEKS,
    window: timedelta = HOUR,
    counts: bool = True,
) -> Baseline | None:
    """The baseline of the window ``[at, at + window)``, or ``None`` with too little history.

    ``history`` maps each hour's start (aware) to the metric's value for that hour, zero-filled
    hours included; only hours ending by ``at`` are used. ``window`` (one hour to a week) is
    the length of the judged value: its total is compared with the same window of previous
    weeks. ``counts``: the metric counts events (Poisson noise floor); ``False`` for sums,
    averages and percentiles (a floor of 1 % of the baseline instead)."""
    return baseline_from_series(
        HourlySeries(history, counts=counts),
        at,
        tz,
        sensitivity=sensitivity,
        min_weeks=min_weeks,
        window=window,
        counts=counts,
    )


def baseline_from_series(
    series: HourlySeries,
    at: datetime,
    tz: ZoneInfo,
    *,
    sensitivity: float = DEFAULT_SENSITIVITY,
    min_weeks: int = DEFAULT_MIN_WEEKS,
    window: timedelta = HOUR,
    counts: bool = True,
    period: timedelta = WEEK,
    max_weeks: int = MAX_WEEKS,
    follow_level: bool = True,
    nearest: int = NEAREST,
) -> Baseline | None:
    """``seasonal_baseline`` on a series indexed once (many judgements of one history).
    ``period``: the season (a week; a day gives the same-hour-of-day baseline);
    ``max_weeks``: how many past periods at most the baseline rests on; ``follow_level``:
    correct the baseline by the last week's level (``calibrate``); ``nearest``: how many of
    the last week's windows, the closest in level, give the scale (``Calibration.scale``)."""
    _check_window(window)
    if sensitivity <= 0 or min_weeks < 1:
        raise ValueError("sensitivity must be positive and min_weeks at least 1")
    samples = past_values(series, at, tz, window, period, before=at, limit=max_weeks)
    if len(samples) < min_weeks:
        return None
    transform = sqrt_transform if counts else _identity
    inverse = sqrt_inverse if counts else _identity
    fit = calibrate(
        series, at, tz, window, period, counts=counts, limit=max_weeks, follow_level=follow_level
    )
    center = median(transform(value) for value in samples) * fit.ratio + fit.offset
    floor = 1.0 if counts else max(RELATIVE_FLOOR * abs(center), 1e-9)
    scale = max(floor, fit.scale(center, nearest))
    return Baseline(
        expected=inverse(center),
        low=inverse(center - sensitivity * scale),
        high=inverse(center + sensitivity * scale),
        samples=len(samples),
    )


def verdict(value: float, baseline: Baseline | None) -> Literal["spike", "drop"] | None:
    """``spike`` above the band, ``drop`` below it, ``None`` inside it or without baseline."""
    if baseline is None:
        return None
    if value > baseline.high:
        return "spike"
    if value < baseline.low:
        return "drop"
    return None


def past_values(
    series: HourlySeries,
    start: datetime,
    tz: ZoneInfo,
    window: timedelta,
    period: timedelta,
    *,
    before: datetime,
    limit: int = 520,
) -> list[float]:
    """The totals of the window starting at ``start``, one and more ``period``s earlier in
    local wall-clock time, newest first, as far back as the series is known."""
    values: list[float] = []
    for count in range(1, limit + 1):
        earlier = wall_clock_shift(start, tz, period * count)
        if earlier is None:  # that local time did not exist (the spring DST gap)
            continue
        if earlier.timestamp() + window.total_seconds() <= _oldest(series):
            break
        total = series.total(earlier, window, before)
        if total is not None:
            values.append(total)
    return values


@dataclass(frozen=True)
class Calibration:
    """The last week's windows, each predicted by the seasonal median, in the transformed
    scale: the correction of the prediction (``median * ratio + offset``: counts a ratio,
    other metrics an offset), and each window's corrected prediction and absolute error."""

    ratio: float = 1.0
    offset: float = 0.0
    predicted: tuple[float, ...] = ()
    errors: tuple[float, ...] = ()

    def scale(self, center: float, nearest: int = NEAREST) -> float:
        """The robust spread of the errors of the ``nearest`` windows whose prediction is
        closest to ``center`` (noise grows with the level faster than the square-root
        transform assumes when traffic varies beyond Poisson); 0 with too few windows."""
        if len(self.errors) < MIN_CALIBRATION:
            return 0.0
        indices = range(len(self.errors))
        closest = sorted(indices, key=lambda i: abs(self.predicted[i] - center))[:nearest]
        return MAD_TO_SIGMA * median(self.errors[i] for i in closest)


def calibrate(
    series: HourlySeries,
    at: datetime,
    tz: ZoneInfo,
    window: timedelta,
    period: timedelta,
    *,
    counts: bool = True,
    limit: int = MAX_WEEKS,
    follow_level: bool = True,
) -> Calibration:
    """Predict each of the last ``CALIBRATION_WINDOWS`` windows ending by ``at`` (one per
    hour) by the median of its own previous periods, and measure the errors.

    ``follow_level``: correct the predictions by their median error over the week. That
    follows a trend (the median lags behind a growing series by half the weeks it rests on);
    being a median over a week of windows, a few anomalous hours do not move it, and it is
    bounded to a factor of 1.5 either way on the metric, so an outage or a surge lasting days
    is not taken for the new level."""
    transform = sqrt_transform if counts else _identity
    actual: list[float] = []
    predicted: list[float] = []
    for step in range(CALIBRATION_WINDOWS):
        start = at - window - step * HOUR
        value = series.total(start, window, at)
        if value is None:
            continue
        past = past_values(series, start, tz, window, period, before=at, limit=limit)
        if past:
            actual.append(transform(value))
            predicted.append(median(transform(v) for v in past))
    if len(actual) < MIN_CALIBRATION:
        return Calibration()
    pairs = list(zip(actual, predicted, strict=True))
    ratio, offset = 1.0, 0.0
    if follow_level and counts:
        ratio = median(a / p for a, p in pairs)
        ratio = min(max(ratio, LEVEL_BOUND**-0.5), LEVEL_BOUND**0.5)  # y ~ sqrt(count)
    elif follow_level:
        bound = (LEVEL_BOUND - 1.0) * median(abs(p) for _, p in pairs)
        offset = min(max(median(a - p for a, p in pairs), -bound), bound)
    corrected = tuple(p * ratio + offset for p in predicted)
    errors = tuple(abs(a - c) for a, c in zip(actual, corrected, strict=True))
    return Calibration(ratio, offset, corrected, errors)


def wall_clock_shift(moment: datetime, tz: ZoneInfo, back: timedelta) -> datetime | None:
    """``moment`` moved ``back`` in local wall-clock time (UTC), or ``None`` when that local
    time does not exist; a repeated local time keeps ``moment``'s fold."""
    local = moment.astimezone(tz)
    same = (moment - back).astimezone(tz)
    if same.utcoffset() == local.utcoffset() and same.fold == local.fold:
        return same.astimezone(UTC)  # no DST change between: absolute and wall clock agree
    naive = local.replace(tzinfo=None) - back
    earlier = naive.replace(tzinfo=tz, fold=local.fold)
    if earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return earlier.astimezone(UTC)


def sqrt_transform(value: float) -> float:
    """Anscombe's transform: Poisson counts of any mean get a spread of about 1."""
    return 2.0 * math.sqrt(max(value, 0.0) + 0.375)


def sqrt_inverse(value: float) -> float:
    # Below the transform of 0 there is no count: a band reaching there has a low of 0, which
    # no count is below (a metric typically near 0 cannot drop).
    return max((max(value, 0.0) / 2.0) ** 2 - 0.375, 0.0)


def _identity(value: float) -> float:
    return value


def _oldest(series: HourlySeries) -> float:
    return series.starts[0] if series.starts else math.inf


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("history and at must be aware datetimes")
    return moment.timestamp()


def _check_window(window: timedelta) -> None:
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ValueError("an anomaly window is longer than 0 and at most a week")


__all__: Sequence[str] = (
    "Baseline",
    "HourlySeries",
    "baseline_from_series",
    "calibrate",
    "hourly_history_range",
    "seasonal_baseline",
    "verdict",
)
