"""The top-N plan against the exact plan, in the same run on the same data: the site dashboard's
two breakdowns (``top-pages``: views and visitors by ``id``; ``referrers``: by
``referrer.host``), and every widget of the ``web`` dashboard as its data endpoint runs them
(one multi-search per round), over each ``--ranges`` by day, with the previous period.

1. an embedded Elasticsearch (temporary data directory) unless ``--es-url``;
2. ``--docs`` synthetic hits (``bench/query.py``'s generator: Zipf popularity over ``--items``
   ids and ``--referrer-pages`` referrers) over ``--days`` days ending now, under a bench prefix
   (or ``--skip-load`` with the ``--prefix`` of data loaded before);
3. ``--runs`` rounds, alternating the plans: each case through ``run_queries`` (what the data
   endpoint calls) with the queries as parsed (top-N where it applies) and with ``exact``.

Every call adds a filter excluding an id nobody has, new each time, so that no search is
answered from Elasticsearch's request cache. Prints one JSON object: milliseconds per case and
plan (p50, min, max over the runs), the ratio ``exact / top_n`` of the medians, how many
answers were refused (a shard failed: Elasticsearch's memory breaker), whether the top-N rows
and ``total_rows`` equalled the exact plan's (and whether the order was flagged), and each
widget's cost alone. Progress goes to stderr.

    .venv/bin/python bench/topn_bench.py --docs 300000 --items 1000 --referrer-pages 300
    .venv/bin/python bench/topn_bench.py --es-url URL --prefix P --skip-load
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Monitor, machine, ratio
from bench.elastic import delete_indices, start_elasticsearch
from bench.query import SyntheticHits
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState, total_body, widget_body
from metronome.errors import ApiError
from metronome.query.catalog import FieldCatalog
from metronome.query.model import Filter, Query
from metronome.query.multi import run_queries
from metronome.query.parse import parse_query
from metronome.query.result import query_result
from metronome.query.runner import Outcome

SITE = "default"
BREAKDOWNS = ("top-pages", "referrers")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def load(client: Elasticsearch, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    return SyntheticHits.from_args(args).load(client, prefix)


def web_queries(fields: dict[str, Any], date_range: str) -> dict[str, list[Query]]:
    """The queries the data endpoint runs for the ``web`` dashboard, by widget id."""
    web = next(d for d in builtin_dashboards() if d.id == "web")
    page = PageState(date_range, "day", "UTC", "previous")
    now = datetime.now(UTC)
    queries: dict[str, list[Query]] = {}
    for widget in web.widgets:
        try:
            body = widget_body(web, widget, page=page, site=SITE, known=fields)
            parsed = [parse_query(body, SITE, fields, now)[0]]
            total = total_body(body) if widget.type == "number" else None
            if total is not None:
                parsed.append(parse_query(total, SITE, fields, now)[0])
        except ApiError:
            continue  # answered as its own error (countries without geo data): not a search
        queries[widget.id] = parsed
    return queries


def uncached(queries: list[Query]) -> list[Query]:
    """The same questions with a filter that excludes an id nobody has, new every call: no
    search is answered from Elasticsearch's shard request cache (as a real page's would not
    be, its range moving with the clock)."""
    nonce = Filter("is_not", "id", (f"nonce-{uuid.uuid4().hex}",))
    return [replace(query, filters=(*query.filters, nonce)) for query in queries]


def figures(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50": round(statistics.median(ms), 1),
        "min": round(ms[0], 1),
        "max": round(ms[-1], 1),
    }


def measure(client: Elasticsearch, prefix: str, args: argparse.Namespace) -> dict[str, Any]:
    fields = FieldCatalog(client, prefix).fields("hits")
    report: dict[str, Any] = {}
    for date_range in args.ranges:
        by_widget = web_queries(fields, date_range)
        cases = {name: by_widget[name] for name in BREAKDOWNS}
        cases["web dashboard"] = [q for qs in by_widget.values() for q in qs]
        for name, queries in cases.items():
            plans = {"top_n": queries, "exact": [replace(q, exact=True) for q in queries]}
            outcomes: dict[str, list[Outcome | ApiError]] = {}
            samples: dict[str, list[float]] = {"top_n": [], "exact": []}
            errors = {"top_n": 0, "exact": 0}  # answers refused (a shard failed), all runs
            for number in range(args.warmup + args.runs):
                for plan, batch in plans.items():  # alternating
                    fresh = uncached(batch)
                    started = time.perf_counter()
                    outcomes[plan] = run_queries(client, prefix, fresh)
                    errors[plan] += sum(isinstance(o, ApiError) for o in outcomes[plan])
                    if number >= args.warmup:
                        samples[plan].append(time.perf_counter() - started)
            result: dict[str, Any] = {plan: figures(v) for plan, v in samples.items()}
            result["exact_over_top_n"] = ratio(result["exact"]["p50"], result["top_n"]["p50"])
            result.update(agreement(queries, outcomes["top_n"], outcomes["exact"]))
            result["errors"] = {plan: errors[plan] for plan in plans}
            report[f"{name}, {date_range}"] = result
            say(f"{name}, {date_range}: {json.dumps(result)}")
        report[f"each widget alone (top-N plan), {date_range}"] = widget_costs(
            client, prefix, by_widget, args.runs
        )
    return report


def widget_costs(
    client: Elasticsearch, prefix: str, by_widget: dict[str, list[Query]], runs: int
) -> dict[str, float]:
    """Median milliseconds of each widget's queries run alone, costliest first."""
    costs = {}
    for name, queries in by_widget.items():
        samples = []
        for _ in range(max(3, runs // 2)):
            fresh = uncached(queries)
            started = time.perf_counter()
            run_queries(client, prefix, fresh)
            samples.append(time.perf_counter() - started)
        costs[name] = round(statistics.median(samples) * 1000, 1)
    return dict(sorted(costs.items(), key=lambda item: -item[1]))


def agreement(
    queries: list[Query], fast: list[Outcome | ApiError], exact: list[Outcome | ApiError]
) -> dict[str, Any]:
    """How many top-N answers equal the exact plan's (rows, compare and total_rows), and how
    many said ``approximate`` because of the plan."""
    top_n = same = totals = flagged = 0
    for query, a, b in zip(queries, fast, exact, strict=True):
        if isinstance(a, ApiError) or isinstance(b, ApiError) or a.plan != "top_n":
            continue
        top_n += 1
        left, right = query_result(query, a), query_result(query, b)
        same += left["results"] == right["results"]
        totals += left["meta"]["total_rows"] == right["meta"]["total_rows"]
        flagged += not a.order_exact
    return {"top_n_compared": top_n, "rows_equal": same, "total_rows_equal": totals,
            "order_flagged": flagged}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="metronome-topn-bench-"))
    url, node = start_elasticsearch(args.es_url, workdir, args.es_heap, Monitor(), say)
    client = Elasticsearch(url, request_timeout=300)
    prefix = args.prefix or f"benchtopn{uuid.uuid4().hex[:6]}"
    loaded = None
    try:
        if not args.skip_load:
            loaded = load(client, prefix, args)
        return {
            "bench": "topn",
            "machine": machine(),
            "data": {
                "docs": client.count(index=f"{prefix}-hits-*")["count"],
                "days": args.days,
                "items": args.items,
                "referrer_pages": args.referrer_pages,
                "loaded": loaded,
            },
            "runs": args.runs,
            "ms": measure(client, prefix, args),
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
    SyntheticHits.add_options(add, docs=300_000, days=90, items=1_000, pages=300)
    add("--ranges", nargs="+", default=["7d", "90d"])
    add("--runs", type=int, default=7)
    add("--warmup", type=int, default=1)
    add("--es-url", default=None, help="a running cluster instead of a new node")
    add("--es-heap", default="1g")
    add("--prefix", help="index prefix (default: a fresh one)")
    add("--skip-load", action="store_true", help="measure data already under --prefix")
    add("--keep", action="store_true", help="keep the loaded indices")
    args = parser.parse_args()
    if args.skip_load and not (args.es_url and args.prefix):
        parser.error("--skip-load needs --es-url and the --prefix of the loaded data")
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
