"""The seasonal anomaly detector (``metronome/alerts/anomaly.py``) on synthetic hourly series
with anomalies of known size, against naive detectors judged on the same series in the same run.

Series (time zone Europe/Warsaw, ``--weeks`` weeks from Monday 2026-02-02, so the March DST
change falls in the judged weeks): an hourly rate of ``level`` on average, shaped by the hour of
day (a sine, night at 0.2x and afternoon at 1.8x) and the day of week (weekends 0.6x), a trend
(``--trend`` per week), a day-to-day factor (log-normal, 5 %), then negative-binomial noise
(gamma-Poisson, dispersion ``--dispersion``: variance = mean + mean^2 / dispersion). Levels:
``--levels`` (default ~5, ~100 and ~10,000 hits an hour).

In each series with anomalies, ``--events`` one-hour anomalies of each size of ``--sizes``
(default spikes x3 and x1.5, drops x0.3 and x0.67) multiply the rate of random hours of the
last ``--judged-weeks`` weeks (never two in a row). The same seeds also give a clean series
(no anomaly). Every hour of the judged weeks is judged by:

- ``seasonal``: the detector as the alerts run it (``min_weeks`` 3, at most 8 weeks);
- ``seasonal_local_mad``: the same baseline (median of the same hour of week), its band from
  the median absolute deviation of those few values only, Poisson floor kept: what the
  calibration on the last week's prediction errors is measured against;
- ``naive_global``: mean +- k standard deviations of all the history (no season);
- ``naive_previous_week``: the value a week earlier, +- k sqrt(value + previous) (the spread
  of a difference of two Poisson counts).

``k`` is ``--sensitivity`` for every detector (3). Figures per level and detector: recall per
anomaly size (anomalies flagged in their direction / injected), precision (flagged hours that
were injected / flagged hours), false alarms per week on the clean series; mean, min and max
over the seeds, and the seasonal detector's ratios against each naive one. Then, on the
seasonal detector alone: false alarms and recall by sensitivity (2 to 5), by ``max_weeks``
(4 and 8), a young site (2 and 3 weeks of history, and the same-hour-of-day fallback over the
last 14 days; the same after an outage day in the history), and daily windows (``window`` 1
day) on the sparse level.

    .venv/bin/python bench/anomaly_bench.py > anomaly.json        # ~12 minutes
    .venv/bin/python bench/anomaly_bench.py --seeds 2 --levels 100 # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine
from metronome.alerts.anomaly import (
    DAY,
    HOUR,
    MAD_TO_SIGMA,
    WEEK,
    Baseline,
    HourlySeries,
    baseline_from_series,
    past_totals,
    sqrt_inverse,
    sqrt_transform,
    verdict,
)

TZ = ZoneInfo("Europe/Warsaw")
START = datetime(2026, 2, 2, tzinfo=TZ).astimezone(UTC)  # a Monday, local midnight
FAR = datetime(9999, 1, 1, tzinfo=UTC)
Verdict = str | None
Detector = Callable[[HourlySeries, datetime], Verdict]


@dataclass(frozen=True)
class Series:
    level: float
    seed: int
    values: dict[datetime, float]
    anomalies: dict[datetime, float]  # hour -> size (the rate's factor)
    judged: list[datetime]  # the hours judged


@dataclass
class Tally:
    """One detector on one series."""

    flagged: int = 0
    true_flagged: int = 0
    found: dict[float, int] = field(default_factory=dict)
    injected: dict[float, int] = field(default_factory=dict)


def main(argv: Sequence[str] | None = None) -> None:
    args = options(argv)
    began = time.monotonic()
    report: dict[str, Any] = {
        "bench": "anomaly",
        "machine": machine(),
        "recorded": datetime.now(UTC).isoformat(timespec="seconds"),
        "setup": {
            key: getattr(args, key)
            for key in (
                "weeks",
                "judged_weeks",
                "levels",
                "sizes",
                "events",
                "seeds",
                "sensitivity",
                "trend",
                "dispersion",
            )
        },
        "levels": {},
    }
    for level in args.levels:
        report["levels"][f"{level:g}"] = judge_level(level, args)
        progress(f"level {level:g} done ({time.monotonic() - began:.0f} s)")
    report["young_site"] = young_site(args)
    progress(f"young site done ({time.monotonic() - began:.0f} s)")
    report["daily_window"] = daily_window(args)
    report["seconds"] = round(time.monotonic() - began, 1)
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")


def options(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weeks", type=int, default=10, help="weeks of each series")
    parser.add_argument("--judged-weeks", type=int, default=3, help="the last weeks, judged")
    parser.add_argument("--levels", type=_floats, default=[5.0, 100.0, 10_000.0])
    parser.add_argument("--sizes", type=_floats, default=[3.0, 1.5, 0.3, 0.67])
    parser.add_argument("--events", type=int, default=6, help="anomalies of each size")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--sensitivity", type=float, default=3.0)
    parser.add_argument("--trend", type=float, default=0.02, help="growth per week")
    parser.add_argument("--dispersion", type=float, default=200.0, help="negative binomial r")
    return parser.parse_args(argv)


# --- the series -------------------------------------------------------------------------


def rate(level: float, hour: datetime, trend: float) -> float:
    local = hour.astimezone(TZ)
    daily = 1.0 + 0.8 * math.sin((local.hour - 9) / 24 * 2 * math.pi)
    weekly = 0.6 if local.weekday() >= 5 else 1.16  # averages to 1 over a week
    weeks = (hour - START) / WEEK
    return level * daily * weekly * (1.0 + trend * weeks)


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 60:  # normal approximation, exact enough here
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, product, count = math.exp(-mean), rng.random(), 0
    while product > limit:
        product *= rng.random()
        count += 1
    return count


def make_series(
    level: float,
    seed: int,
    args: argparse.Namespace,
    *,
    anomalous: bool,
    weeks: int = 0,
    outage: range = range(0),
) -> Series:
    """``outage``: hours (indices from the start) with no traffic at all."""
    rng = random.Random(f"{level}:{seed}")  # the clean and anomalous series share the noise
    weeks = weeks or args.weeks
    hours = [START + i * HOUR for i in range(weeks * 168)]
    judged = hours[-args.judged_weeks * 168 :]
    day_factor: dict[int, float] = {}
    anomalies: dict[datetime, float] = {}
    if anomalous:
        inject = random.Random(f"inject:{level}:{seed}")
        slots = inject.sample(range(0, len(judged), 2), len(args.sizes) * args.events)
        for number, slot in enumerate(slots):
            anomalies[judged[slot]] = args.sizes[number % len(args.sizes)]
    values: dict[datetime, float] = {}
    for index, hour in enumerate(hours):
        day = index // 24
        if day not in day_factor:
            day_factor[day] = rng.lognormvariate(0.0, 0.05)
        mean = rate(level, hour, args.trend) * day_factor[day]
        noisy = rng.gammavariate(args.dispersion, mean / args.dispersion)
        values[hour] = poisson(rng, noisy * anomalies.get(hour, 1.0))
        if index in outage:
            values[hour] = 0
    return Series(level, seed, values, anomalies, judged)


# --- the detectors ----------------------------------------------------------------------


def seasonal(
    sensitivity: float,
    *,
    min_weeks: int = 3,
    max_weeks: int = 8,
    period: timedelta = WEEK,
    follow_level: bool = True,
    nearest: int = 56,
) -> Detector:
    def judge(series: HourlySeries, at: datetime) -> Verdict:
        baseline = baseline_from_series(
            series,
            at,
            TZ,
            sensitivity=sensitivity,
            min_weeks=min_weeks,
            max_weeks=max_weeks,
            period=period,
            follow_level=follow_level,
            nearest=nearest,
        )
        return verdict(_value(series, at), baseline)

    return judge


def seasonal_bands(series: HourlySeries, at: datetime) -> tuple[float, float] | None:
    """The seasonal detector's centre and scale (transformed), for a sweep of sensitivities."""
    unit = baseline_from_series(series, at, TZ, sensitivity=1.0, min_weeks=3)
    if unit is None:
        return None
    centre = sqrt_transform(unit.expected)
    return centre, sqrt_transform(unit.high) - centre


def swept(bands: tuple[float, float] | None, value: float, sensitivity: float) -> Verdict:
    if bands is None:
        return None
    centre, scale = bands
    low, high = centre - sensitivity * scale, centre + sensitivity * scale
    return verdict(value, Baseline(sqrt_inverse(centre), sqrt_inverse(low), sqrt_inverse(high), 0))


def seasonal_local_mad(sensitivity: float) -> Detector:
    def judge(series: HourlySeries, at: datetime) -> Verdict:
        past = _past(series, at, 8)
        if len(past) < 3:
            return None
        points = [sqrt_transform(value) for value in past]
        centre = statistics.median(points)
        spread = MAD_TO_SIGMA * statistics.median(abs(p - centre) for p in points)
        scale = max(1.0, spread)
        low, high = centre - sensitivity * scale, centre + sensitivity * scale
        band = Baseline(sqrt_inverse(centre), sqrt_inverse(low), sqrt_inverse(high), len(past))
        return verdict(_value(series, at), band)

    return judge


def naive_global(sensitivity: float) -> Detector:
    def judge(series: HourlySeries, at: datetime) -> Verdict:
        cut = _index(series, at)
        if cut < 3 * 168:
            return None
        history = series.values[:cut]
        mean, deviation = statistics.fmean(history), statistics.pstdev(history)
        band = Baseline(mean, mean - sensitivity * deviation, mean + sensitivity * deviation, cut)
        return verdict(_value(series, at), band)

    return judge


def naive_previous_week(sensitivity: float) -> Detector:
    def judge(series: HourlySeries, at: datetime) -> Verdict:
        past = _past(series, at, 1)
        if not past or _index(series, at) < 3 * 168:
            return None
        value = _value(series, at)
        spread = sensitivity * math.sqrt(value + past[0] + 1.0)
        return verdict(value, Baseline(past[0], past[0] - spread, past[0] + spread, 1))

    return judge


def _value(series: HourlySeries, at: datetime) -> float:
    return series.values[_index(series, at)]


def _index(series: HourlySeries, at: datetime) -> int:
    return round((at.timestamp() - series.first) / 3600)


def _past(series: HourlySeries, at: datetime, limit: int) -> list[float]:
    moment = at.timestamp()
    week = WEEK.total_seconds()
    return past_totals(series, moment, TZ, 3600.0, week, before=moment, limit=limit)


# --- judging ------------------------------------------------------------------------------


def tally(series: Series, indexed: HourlySeries, verdicts: Iterable[Verdict]) -> Tally:
    result = Tally()
    for hour, said in zip(series.judged, verdicts, strict=True):
        size = series.anomalies.get(hour)
        if size is not None:
            result.injected[size] = result.injected.get(size, 0) + 1
            expected = "spike" if size > 1 else "drop"
            if said == expected:
                result.found[size] = result.found.get(size, 0) + 1
        if said is not None:
            result.flagged += 1
            result.true_flagged += size is not None
    return result


def judge_level(level: float, args: argparse.Namespace) -> dict[str, Any]:
    k = args.sensitivity
    detectors: dict[str, Detector] = {
        "seasonal": seasonal(k),
        "seasonal_max4": seasonal(k, max_weeks=4),
        "seasonal_no_level": seasonal(k, follow_level=False),
        "seasonal_one_scale": seasonal(k, nearest=168),
        "seasonal_local_mad": seasonal_local_mad(k),
        "naive_global": naive_global(k),
        "naive_previous_week": naive_previous_week(k),
    }
    anomalous: dict[str, list[Tally]] = {name: [] for name in detectors}
    clean: dict[str, list[Tally]] = {name: [] for name in detectors}
    sweep_clean: dict[float, list[Tally]] = {s: [] for s in SWEEP}
    sweep_found: dict[float, list[Tally]] = {s: [] for s in SWEEP}
    timing: list[float] = []
    for seed in range(args.seeds):
        for is_anomalous, into in ((True, anomalous), (False, clean)):
            series = make_series(level, seed, args, anomalous=is_anomalous)
            indexed = HourlySeries(series.values)
            for name, detector in detectors.items():
                began = time.perf_counter()
                verdicts = [detector(indexed, hour) for hour in series.judged]
                if name == "seasonal":
                    timing.append((time.perf_counter() - began) / len(series.judged))
                into[name].append(tally(series, indexed, verdicts))
            bands = [seasonal_bands(indexed, hour) for hour in series.judged]
            values = [_value(indexed, hour) for hour in series.judged]
            target = sweep_found if is_anomalous else sweep_clean
            for s in SWEEP:
                said = [swept(b, v, s) for b, v in zip(bands, values, strict=True)]
                target[s].append(tally(series, indexed, said))
        progress(f"level {level:g} seed {seed}")
    weeks = args.judged_weeks
    figures = {name: summary(anomalous[name], clean[name], weeks, args.sizes) for name in detectors}
    return {
        "detectors": figures,
        "seasonal_vs_naive": {
            naive: ratios(figures["seasonal"], figures[naive], args.sizes)
            for naive in ("naive_global", "naive_previous_week", "seasonal_local_mad")
        },
        "sensitivity_sweep": {
            f"{s:g}": summary(sweep_found[s], sweep_clean[s], weeks, args.sizes) for s in SWEEP
        },
        "ms_per_judgement": round(1000 * statistics.median(timing), 2),
    }


SWEEP = (2.0, 3.0, 4.0, 5.0)


def summary(
    anomalous: list[Tally], clean: list[Tally], weeks: int, sizes: Sequence[float]
) -> dict[str, Any]:
    recall = {
        f"x{size:g}": spread(
            [t.found.get(size, 0) / t.injected[size] for t in anomalous if t.injected.get(size)]
        )
        for size in sizes
    }
    precision = spread([t.true_flagged / t.flagged for t in anomalous if t.flagged])
    return {
        "recall": recall,
        "precision": precision,
        "false_alarms_per_week": spread([t.flagged / weeks for t in clean]),
    }


def ratios(ours: dict[str, Any], naive: dict[str, Any], sizes: Sequence[float]) -> dict[str, Any]:
    def divide(a: float | None, b: float | None) -> float | None:
        if a is None or b is None or b == 0:
            return None
        return round(a / b, 2)

    return {
        "recall": {
            f"x{s:g}": divide(ours["recall"][f"x{s:g}"]["mean"], naive["recall"][f"x{s:g}"]["mean"])
            for s in sizes
        },
        "precision": divide(ours["precision"]["mean"], naive["precision"]["mean"]),
        "false_alarms_per_week": divide(
            ours["false_alarms_per_week"]["mean"], naive["false_alarms_per_week"]["mean"]
        ),
    }


def spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "min": None, "max": None}
    return {
        "mean": round(statistics.fmean(values), 3),
        "min": round(min(values), 3),
        "max": round(max(values), 3),
    }


# --- a young site, daily windows ----------------------------------------------------------


def young_site(args: argparse.Namespace) -> dict[str, Any]:
    """The first judged week of a site whose history is 2 or 3 weeks long: the weekly baseline
    (min_weeks 2 and 3) against a same-hour-of-day baseline over the last 14 days; and the
    weekly ones again when the history's last Wednesday was an outage (no traffic all day)."""
    k = args.sensitivity
    results: dict[str, Any] = {}
    for level in args.levels:
        cases: dict[str, tuple[int, Detector, bool]] = {
            "weekly_2_weeks": (2, seasonal(k, min_weeks=2), False),
            "weekly_3_weeks": (3, seasonal(k, min_weeks=3), False),
            "daily_14_days": (2, seasonal(k, min_weeks=14, max_weeks=14, period=DAY), False),
            "weekly_2_weeks_outage": (2, seasonal(k, min_weeks=2), True),
            "weekly_3_weeks_outage": (3, seasonal(k, min_weeks=3), True),
        }
        per_level: dict[str, Any] = {}
        for name, (history_weeks, detector, outage) in cases.items():
            found: list[Tally] = []
            clean: list[Tally] = []
            wednesday = (history_weeks - 1) * 168 + 2 * 24
            hours = range(wednesday, wednesday + 24) if outage else range(0)
            for seed in range(min(args.seeds, 3)):
                for is_anomalous, into in ((True, found), (False, clean)):
                    young = argparse.Namespace(**{**vars(args), "judged_weeks": 1})
                    series = make_series(
                        level,
                        seed,
                        young,
                        anomalous=is_anomalous,
                        weeks=history_weeks + 1,
                        outage=hours,
                    )
                    indexed = HourlySeries(series.values)
                    verdicts = [detector(indexed, hour) for hour in series.judged]
                    into.append(tally(series, indexed, verdicts))
            per_level[name] = summary(found, clean, 1, args.sizes)
        results[f"{level:g}"] = per_level
    return results


def daily_window(args: argparse.Namespace) -> dict[str, Any]:
    """The sparse level judged by day (window 1 day, at local midnight): day-long anomalies of
    x1.5 and x0.67 (one day each in the judged weeks), and the clean series."""
    level = min(args.levels)
    found: list[Tally] = []
    clean: list[Tally] = []
    for seed in range(args.seeds):
        for is_anomalous, into in ((True, found), (False, clean)):
            base = make_series(level, seed, args, anomalous=False)
            days = sorted({h.astimezone(TZ).date() for h in base.judged})
            days = days[1:]  # whole days only
            starts = [datetime(d.year, d.month, d.day, tzinfo=TZ).astimezone(UTC) for d in days]
            values = dict(base.values)
            marked: dict[datetime, float] = {}
            if is_anomalous:
                pick = random.Random(f"days:{seed}").sample(range(0, len(starts), 2), 4)
                for number, slot in enumerate(pick):
                    size = (1.5, 0.67)[number % 2]
                    marked[starts[slot]] = size
                    for hour in range(24):
                        moment = starts[slot] + hour * HOUR
                        if moment in values:
                            values[moment] = _rescaled(values[moment], size, seed + hour)
            indexed = HourlySeries(values)
            verdicts = []
            for start in starts:
                baseline = baseline_from_series(
                    indexed, start, TZ, sensitivity=args.sensitivity, min_weeks=3, window=DAY
                )
                total = indexed.total(start, DAY, FAR)
                verdicts.append(None if total is None else verdict(total, baseline))
            day_series = Series(level, seed, {}, marked, starts)
            into.append(tally(day_series, indexed, verdicts))
    weeks = args.judged_weeks
    return {
        "level": level,
        "window": "1d",
        **summary(found, clean, weeks, (1.5, 0.67)),
    }


def _rescaled(value: float, size: float, seed: int) -> float:
    """A count drawn as if its rate had been ``size`` times what gave ``value``."""
    return float(poisson(random.Random(seed), value * size))


def _floats(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part]


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    main()
