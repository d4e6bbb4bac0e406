"""Answers from rollups against the same answers from raw events, in the same run on the same
data: a year of hits by day, 90 days by hour in New York, a year of downloads by format.

1. an embedded Elasticsearch (temporary data directory) unless ``--es-url``;
2. ``--docs`` synthetic hits (``bench/query.py``'s generator) over ``--days`` days ending now;
3. the rollups of the built-in ``hits`` groups at both grains over the whole range
   (``rollup_range``, a day of hours or a month of days at a time): how long, events per second;
   then the watermarks (hours complete up to the current hour, days up to today);
4. ``--runs`` rounds per case, alternating the planner on (the built-in ``rollups:`` settings)
   and off, through ``run_query`` (what ``POST /api/v1/query`` calls). Every call adds a filter
   excluding an event nobody sends, new each time, so no search is answered from Elasticsearch's
   request cache (it names ``event``, so the planner picks the group it would without it).

Prints one JSON object: per case milliseconds (p50, p99, min, max) with rollups and raw, the
ratio ``raw / rollup`` of the medians, where the answer came from (``meta.source``) and whether
it equalled the raw one; the rollups' build time; their storage as a share of the raw indices'.
Progress goes to stderr.

    .venv/bin/python bench/rollup_bench.py --docs 500000 --days 365
    .venv/bin/python bench/rollup_bench.py --docs 200000 --groups items   # the cases' group only
    .venv/bin/python bench/rollup_bench.py --docs 5000000 --days 365 --es-heap 2g   # the issue's
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Monitor, machine, percentiles, ratio
from bench.elastic import delete_indices, es_cpu_ms, start_elasticsearch
from bench.query import SITE, SyntheticHits
from metronome.config import RollupSettings
from metronome.query.catalog import FieldCatalog
from metronome.query.model import Filter, Query
from metronome.query.parse import parse_query
from metronome.query.planner import choose_group
from metronome.query.rollup_schema import GRAINS, Watermark, floor_grain, write_watermark
from metronome.query.runner import run_query
from metronome.rollups.compute import DaySource, RollupWrite, rollup_range

CASES: dict[str, dict[str, Any]] = {
    "views by day, a year (UTC)": {
        "metrics": ["count"], "dimensions": ["time:day"], "date_range": "365d",
        "filters": [["is", "event", ["view"]]],
    },
    "views by hour, 90 days (America/New_York)": {
        "metrics": ["count"], "dimensions": ["time:hour"], "date_range": "90d",
        "tz": "America/New_York", "filters": [["is", "event", ["view"]]],
    },
    "downloads by format, a year": {
        "metrics": ["count"], "dimensions": ["format"], "date_range": "365d",
        "filters": [["is", "event", ["download"]]], "exact": True,
    },
}  # fmt: skip


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def rollup_settings(names: str | None) -> RollupSettings:
    """The built-in ``rollups:`` settings, or only the named built-in hits groups."""
    settings = RollupSettings()
    if names is None:
        return settings
    wanted = set(names.split(","))
    groups = tuple(group for group in settings.groups_of("hits") if group.name in wanted)
    return replace(settings, groups={**settings.groups, "hits": groups})


def build_rollups(
    client: Elasticsearch, prefix: str, start: datetime, settings: RollupSettings
) -> dict[str, Any]:
    """The hits groups at both grains from ``start`` to the last whole hour and day, and the
    watermarks."""
    groups = settings.groups_of("hits")
    now = datetime.now(UTC)
    report: dict[str, Any] = {}
    for grain in GRAINS:
        end = floor_grain(now, grain)
        started = time.monotonic()
        total = RollupWrite()
        for group in groups:
            total += rollup_range(client, prefix, "hits", group, grain, start, end)
        seconds = time.monotonic() - started
        write_watermark(client, prefix, Watermark.of_groups("hits", grain, end, groups))
        report[grain] = {"seconds": round(seconds, 1), "documents": total.documents}
        say(f"{grain} rollups: {total.documents:,} documents in {seconds:.1f} s")
    return report


SOURCES: tuple[DaySource, ...] = ("raw", "hours", "cheaper")


def day_sources(
    client: Elasticsearch, prefix: str, settings: RollupSettings, rounds: int
) -> dict[str, Any]:
    """The last 30 whole days' day rollups of each group recomputed from the raw events, from
    the hour rollups, and from the cheaper of the two (what the job does), in turn, ``rounds``
    times: wall and Elasticsearch CPU seconds (medians), and whether the stored documents were
    left as they were (written 0)."""
    end = floor_grain(datetime.now(UTC), "day")
    start = end - timedelta(days=30)
    samples: dict[str, dict[str, list[float]]] = {
        source: {"wall_s": [], "es_cpu_s": []} for source in SOURCES
    }
    rewritten = 0
    for _ in range(rounds):
        for source in SOURCES:
            wall, cpu = time.monotonic(), es_cpu_ms(client)
            for group in settings.groups_of("hits"):
                done = rollup_range(
                    client, prefix, "hits", group, "day", start, end, day_source=source
                )
                rewritten += done.written + done.deleted
            samples[source]["wall_s"].append(time.monotonic() - wall)
            samples[source]["es_cpu_s"].append((es_cpu_ms(client) - cpu) / 1000)
    report: dict[str, Any] = {
        source: {name: round(statistics.median(values), 2) for name, values in figures.items()}
        for source, figures in samples.items()
    }
    for source in ("hours", "cheaper"):
        report[f"raw_over_{source}_es_cpu"] = ratio(
            report["raw"]["es_cpu_s"], report[source]["es_cpu_s"]
        )
    report["documents_rewritten"] = rewritten
    say(f"30 days of day rollups: {json.dumps(report)}")
    return report


def storage(client: Elasticsearch, prefix: str) -> dict[str, Any]:
    def size(pattern: str) -> int:
        stats = client.indices.stats(index=pattern, metric="store").body
        return int(stats["_all"]["primaries"]["store"]["size_in_bytes"])

    raw, rollups = size(f"{prefix}-hits-*"), size(f"{prefix}-rollup.*")
    return {"raw_bytes": raw, "rollup_bytes": rollups, "rollup_over_raw": ratio(rollups, raw)}


def uncached(query: Query) -> Query:
    """``query`` excluding an event nobody sends: a new search for Elasticsearch's request
    cache, the same answer, and the same group for the planner (every group of the cases has
    ``event``; a filter on ``id`` would send them all to a group with 10,000 ids)."""
    nonce = Filter("is_not", "event", (f"nonce-{uuid.uuid4().hex}",))
    return replace(query, filters=(*query.filters, nonce))


def measure(
    client: Elasticsearch, prefix: str, runs: int, settings: RollupSettings
) -> dict[str, Any]:
    fields = FieldCatalog(client, prefix).fields("hits")
    report: dict[str, Any] = {}
    for name, body in CASES.items():
        query = parse_query(body, SITE, fields, datetime.now(UTC))[0]
        samples: dict[str, list[float]] = {"rollup": [], "raw": []}
        sources, equal = set(), True
        for number in range(runs + 1):  # the first round warms up
            fresh = uncached(query)
            timed = {}
            for plan, rollups in (("rollup", settings), ("raw", None)):
                started = time.perf_counter()
                outcome = run_query(client, prefix, fresh, rollups)
                timed[plan] = (time.perf_counter() - started, outcome)
            equal &= timed["rollup"][1].rows == timed["raw"][1].rows
            sources.add(timed["rollup"][1].source)
            if number:
                for plan, (seconds, _) in timed.items():
                    samples[plan].append(seconds)
        result: dict[str, Any] = {plan: figures(values) for plan, values in samples.items()}
        result["raw_over_rollup"] = ratio(result["raw"]["p50"], result["rollup"]["p50"])
        result["source"] = sorted(sources)
        chosen = choose_group(uncached(query), settings.groups_of("hits"))
        result["group"] = chosen.name if chosen else None
        result["answers_equal"] = equal
        report[name] = result
        say(f"{name}: {json.dumps(result)}")
    return report


def figures(samples: list[float]) -> dict[str, float | None]:
    ms = [s * 1000 for s in samples]
    spread = percentiles(samples)
    return {"p50": round(statistics.median(ms), 1), "p99": spread.get("p99"),
            "min": round(min(ms), 1), "max": round(max(ms), 1)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="metronome-rollup-bench-"))
    url, node = start_elasticsearch(args.es_url, workdir, args.es_heap, Monitor(), say)
    client = Elasticsearch(url, request_timeout=600)
    prefix = args.prefix or f"benchroll{uuid.uuid4().hex[:6]}"
    settings = rollup_settings(args.groups)
    try:
        loaded: dict[str, Any] | None = None
        built: dict[str, Any] | None = None
        if not args.skip_load:
            loaded = SyntheticHits.from_args(args).load(client, prefix)
            start = floor_grain(datetime.now(UTC) - timedelta(days=args.days + 1), "day")
            built = build_rollups(client, prefix, start, settings)
        else:  # the hours and days ended since the run that loaded them (nothing new in them)
            today = floor_grain(datetime.now(UTC), "day")
            build_rollups(client, prefix, today - timedelta(days=2), settings)
        return {
            "bench": "rollups",
            "machine": machine(),
            "data": {"prefix": prefix, "docs": args.docs, "days": args.days, "loaded": loaded},
            "groups": [group.name for group in settings.groups_of("hits")],
            "rollups_built": built,
            "storage": storage(client, prefix),
            "runs": args.runs,
            "ms": measure(client, prefix, args.runs, settings),
            "day_rollups_from": day_sources(client, prefix, settings, args.day_rounds)
            if args.day_rounds
            else None,
        }
    finally:
        if not args.skip_load and not args.keep:
            delete_indices(client, prefix)
        client.close()
        if node is not None:
            node.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add = parser.add_argument
    SyntheticHits.add_options(add, docs=500_000, days=365, items=1_000, pages=300)
    add("--runs", type=int, default=15)
    add("--es-url", default=None, help="a running cluster instead of a new node")
    add("--es-heap", default="1g")
    add("--groups", default=None, help="build only these built-in hits groups (comma list)")
    add("--keep", action="store_true", help="keep the loaded indices")
    add(
        "--day-rounds",
        type=int,
        default=0,
        help="also time 30 days of day rollups from raw events against from hour rollups",
    )
    add("--prefix", default=None, help="the index prefix (default: a new one)")
    add(
        "--skip-load",
        action="store_true",
        help="measure the hits and rollups a run with --keep --prefix P left (and --es-url)",
    )
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
