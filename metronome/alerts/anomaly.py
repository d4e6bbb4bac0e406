"""The seasonal anomaly detector of ``anomaly`` alert rules. Pure: no I/O, no clock.

A metric's value over a window (an hour by default) is judged against the same window in the
previous weeks: the same local wall-clock start in the rule's time zone, so an hour of week is
"Monday 09:00 in Europe/Warsaw" on both sides of a DST change. The expected value is the
median of those past values; the band around it is ``sensitivity`` times a robust scale.

- Counts (hits, visitors) are compared after a square-root transform (Anscombe's,
  ``2 sqrt(x + 3/8)``), under which Poisson noise has a spread of about 1 at any level. That
  spread is the scale's floor: a metric of a few hits an hour alarms only on what chance
  rarely gives (3 where 1 is typical: no; 40: yes), and an hour that is typically empty
  cannot drop.
- The scale and a level correction come from the metric itself (``calibrate``): each window
  of the last week (one per hour) is predicted the same way from its own previous weeks, and
  the errors of those closest in level to the judged window give the scale (their median
  absolute error, as a standard deviation); their median error corrects the prediction for a
  trend. Medians throughout: one huge outlier in the history moves neither.

History before the metric's first non-zero value is no history (zero-filled hours before a
site existed are not a baseline): with fewer than ``min_weeks`` past windows the detector
answers ``None`` and never fires. A window longer than an hour (up to a week) compares the
window's total with the same window of previous weeks: how a sparse metric is watched.
docs/anomaly-detection.md explains the choices and bench/anomaly_bench.py measures them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from statistics import median
from typing import Literal
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
WEEK = timedelta(weeks=1)
MAX_WINDOW = WEEK
DEFAULT_SENSITIVITY = 3.0
DEFAULT_MIN_WEEKS = 3  # a median of 3 weeks survives one odd week (a holiday, an outage)
MAX_WEEKS = 8  # older weeks add little and lag further behind a trend
CALIBRATION_WINDOWS = 168  # the last week's windows, one per hour, that calibrate the scale
NEAREST = 56  # the third of them closest in level to the judged window give its scale
MIN_CALIBRATION = 24  # fewer predicted windows than this: the floor alone is the scale
MAD_TO_SIGMA = 1.4826  # a median absolute deviation of normal noise, in standard deviations
LEVEL_BOUND = 1.5  # the level correction's bound, a factor on the metric either way
RELATIVE_FLOOR = 0.01  # not counts: a change under 1 % of the expected value never fires
_HOUR_S = 3600.0

Verdict = Literal["spike", "drop"]


@dataclass(frozen=True)
class Baseline:
    expected: float  # the typical value for this window of the week
    low: float  # below: a drop
    high: float  # above: a spike
    samples: int  # how many past same-window values it rests on


def hourly_history_range(
    at: datetime, weeks: int, window: timedelta = HOUR
) -> tuple[datetime, datetime]:
    """The hours to read, ``[start, end)`` in UTC, to judge the window starting at ``at``
    against ``weeks`` previous weeks: those weeks, the week before ``at`` that calibrates the
    scale, and an hour for a DST change. ``end`` is ``at``: read hourly buckets in the rule's
    time zone (a bucket not complete by ``at`` is not used)."""
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

    ``history`` maps each hour's start (aware) to the metric's value over that hour,
    zero-filled hours included; hours not complete by ``at`` are not used, a missing hour is
    unknown (a past window touching one is no sample). ``window``: the judged value is the
    metric's total over it (an hour to a week). ``counts``: the metric counts events (the
    Poisson floor); ``False`` for sums, averages and percentiles (a floor of 1 % of the
    expected value instead, no transform)."""
    return baseline_from_series(
        HourlySeries(history, counts=counts),
        at,
        tz,
        sensitivity=sensitivity,
        min_weeks=min_weeks,
        window=window,
        counts=counts,
    )


def verdict(value: float, baseline: Baseline | None) -> Verdict | None:
    """``spike`` above the band, ``drop`` below it, ``None`` inside it or without baseline."""
    if baseline is None:
        return None
    if value > baseline.high:
        return "spike"
    if value < baseline.low:
        return "drop"
    return None


class HourlySeries:
    """An hourly history indexed for window totals: each key covers ``[key, key + 1h)``.

    Hours before the first non-zero value (counts) or the first value (other metrics) are
    dropped: they are not history. Keys must be aware and whole hours apart."""

    def __init__(self, history: Mapping[datetime, float], *, counts: bool = True) -> None:
        items = sorted((_epoch(moment), float(value)) for moment, value in history.items())
        first = next((i for i, (_, value) in enumerate(items) if value != 0 or not counts), None)
        items = items[first:] if first is not None else []
        self.first = items[0][0] if items else math.inf
        size = round((items[-1][0] - self.first) / _HOUR_S) + 1 if items else 0
        self.values = [math.nan] * size
        for start, value in items:
            offset = (start - self.first) / _HOUR_S
            if offset != round(offset):
                raise ValueError("the history's hours must be whole hours apart")
            self.values[round(offset)] = value
        self.sums = [0.0]  # running totals, unknown hours as 0
        self.unknown = [0]  # running count of unknown hours
        for value in self.values:
            self.sums.append(self.sums[-1] + (0.0 if math.isnan(value) else value))
            self.unknown.append(self.unknown[-1] + math.isnan(value))

    def total(self, start: datetime, length: timedelta, before: datetime) -> float | None:
        """The metric over ``[start, start + length)``, hours cut by the window counted in
        proportion; ``None`` when an hour it touches is unknown or not complete by ``before``."""
        begin = _epoch(start)
        return self.total_s(begin, begin + length.total_seconds(), _epoch(before))

    def total_s(self, begin: float, end: float, before: float) -> float | None:
        """``total`` in POSIX seconds."""
        first = math.floor((begin - self.first) / _HOUR_S)
        last = math.ceil((end - self.first) / _HOUR_S) - 1
        if first < 0 or last < first or last >= len(self.values):
            return None
        if (
            self.first + (last + 1) * _HOUR_S > before
            or self.unknown[last + 1] > self.unknown[first]
        ):
            return None
        total = self.sums[last + 1] - self.sums[first]
        total -= self.values[first] * (begin - self.first - first * _HOUR_S) / _HOUR_S
        total -= self.values[last] * (self.first + (last + 1) * _HOUR_S - end) / _HOUR_S
        return total


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
    """``seasonal_baseline`` on a series indexed once (many judgements of one history), with
    the knobs the bench turns: ``period`` (the season: a week; a day gives a same-hour-of-day
    baseline), ``max_weeks`` (past periods at most), ``follow_level`` (the level correction)
    and ``nearest`` (how many calibration windows give the scale)."""
    _check_window(window)
    if sensitivity <= 0 or min_weeks < 1:
        raise ValueError("sensitivity must be positive and min_weeks at least 1")
    seconds = (window.total_seconds(), period.total_seconds())
    samples = past_totals(series, _epoch(at), tz, *seconds, before=_epoch(at), limit=max_weeks)
    if len(samples) < min_weeks:
        return None
    transform, inverse = (sqrt_transform, sqrt_inverse) if counts else (_same, _same)
    fit = calibrate(
        series, at, tz, window, period, counts=counts, limit=max_weeks, level=follow_level
    )
    center = fit.correct(median(transform(value) for value in samples))
    floor = 1.0 if counts else max(RELATIVE_FLOOR * abs(center), 1e-9)
    scale = max(floor, fit.scale(center, nearest))
    return Baseline(
        expected=inverse(center),
        low=inverse(center - sensitivity * scale),
        high=inverse(center + sensitivity * scale),
        samples=len(samples),
    )


@dataclass(frozen=True)
class Calibration:
    """The last week's windows, each predicted by the median of its previous periods, in the
    transformed scale: how predictions are corrected (counts: their distance from the
    transformed zero times ``ratio``, so that a prediction of nothing stays nothing; other
    metrics: plus ``offset``), and each window's corrected prediction and absolute error."""

    zero: float = 0.0
    ratio: float = 1.0
    offset: float = 0.0
    predicted: tuple[float, ...] = ()
    errors: tuple[float, ...] = ()

    def correct(self, prediction: float) -> float:
        return self.zero + (prediction - self.zero) * self.ratio + self.offset

    def scale(self, center: float, nearest: int = NEAREST) -> float:
        """The robust spread of the errors of the ``nearest`` windows predicted closest to
        ``center``: beyond Poisson, noise grows with the level faster than the transform
        assumes (a busy afternoon varies more than a quiet night). 0 with too few windows."""
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
    level: bool = True,
) -> Calibration:
    """Predict each of the last ``CALIBRATION_WINDOWS`` windows ending by ``at`` (one per
    hour) from its previous periods, and measure the errors.

    ``level``: correct predictions by their median error over the week, which follows a trend
    (a median of past weeks lags behind a growing metric by half the weeks it rests on). A
    median over a week of windows, a few anomalous hours do not move it; it is bounded to a
    factor of ``LEVEL_BOUND`` either way on the metric, so an outage or a surge lasting days is
    not taken for the new level."""
    transform = sqrt_transform if counts else _same
    zero = transform(0.0) if counts else 0.0
    length, step = window.total_seconds(), period.total_seconds()
    end = _epoch(at)
    actual: list[float] = []
    predicted: list[float] = []
    for hours in range(CALIBRATION_WINDOWS):
        begin = end - length - hours * _HOUR_S
        value = series.total_s(begin, begin + length, end)
        if value is None:
            continue
        past = past_totals(series, begin, tz, length, step, before=end, limit=limit)
        if past:
            actual.append(transform(value))
            predicted.append(median(transform(v) for v in past))
    if len(actual) < MIN_CALIBRATION:
        return Calibration(zero)
    pairs = list(zip(actual, predicted, strict=True))
    ratio, offset = 1.0, 0.0
    above_zero = [(a - zero) / (p - zero) for a, p in pairs if p > zero]
    if level and counts and above_zero:
        bound = math.sqrt(LEVEL_BOUND)  # the transform is a square root
        ratio = min(max(median(above_zero), 1 / bound), bound)
    elif level and not counts:
        bound = (LEVEL_BOUND - 1.0) * median(abs(p) for _, p in pairs)
        offset = min(max(median(a - p for a, p in pairs), -bound), bound)
    fit = Calibration(zero, ratio, offset)
    corrected = tuple(fit.correct(p) for p in predicted)
    errors = tuple(abs(a - c) for a, c in zip(actual, corrected, strict=True))
    return Calibration(zero, ratio, offset, corrected, errors)


def past_totals(
    series: HourlySeries,
    begin: float,
    tz: ZoneInfo,
    length: float,
    period: float,
    *,
    before: float,
    limit: int,
) -> list[float]:
    """The totals of the window of ``length`` seconds starting at ``begin`` (POSIX seconds),
    one to ``limit`` periods earlier in local wall-clock time, newest first, as far back as
    the series goes. A local time that did not exist (the spring DST gap) is no sample."""
    totals: list[float] = []
    offset = _offset(begin, tz)
    for count in range(1, limit + 1):
        earlier = begin - count * period
        if earlier + length <= series.first:
            break
        if _offset(earlier, tz) != offset:  # a DST change between: go by the wall clock
            moment = datetime.fromtimestamp(begin, UTC)
            moved = wall_clock_shift(moment, tz, timedelta(seconds=count * period))
            if moved is None:
                continue
            earlier = moved.timestamp()
        total = series.total_s(earlier, earlier + length, before)
        if total is not None:
            totals.append(total)
    return totals


def wall_clock_shift(moment: datetime, tz: ZoneInfo, back: timedelta) -> datetime | None:
    """``moment`` moved ``back`` in local wall-clock time, in UTC; ``None`` when that local
    time does not exist. A local time that happened twice: the occurrence with ``moment``'s
    UTC offset, else the first."""
    local = moment.astimezone(tz)
    same = (moment - back).astimezone(tz)
    if same.utcoffset() == local.utcoffset():
        return same.astimezone(UTC)  # no DST change between: absolute and wall clock agree
    naive = local.replace(tzinfo=None) - back
    earlier = naive.replace(tzinfo=tz)
    if earlier.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != naive:
        return None
    return earlier.astimezone(UTC)


def sqrt_transform(value: float) -> float:
    """Anscombe's transform: Poisson counts of any mean get a spread of about 1."""
    return 2.0 * math.sqrt(max(value, 0.0) + 0.375)


def sqrt_inverse(value: float) -> float:
    """Back from the transform; a band reaching below the transformed zero ends at 0, which
    no count is below (a metric typically near 0 cannot drop)."""
    return max((max(value, 0.0) / 2.0) ** 2 - 0.375, 0.0)


def _same(value: float) -> float:
    return value


def _offset(seconds: float, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(seconds, tz).utcoffset()


def _epoch(moment: datetime) -> float:
    if moment.tzinfo is None:
        raise ValueError("history and at must be aware datetimes")
    return moment.timestamp()


def _check_window(window: timedelta) -> None:
    if not timedelta(0) < window <= MAX_WINDOW:
        raise ValueError("an anomaly window is longer than 0 and at most a week")
