"""The dashboard bench: ``POST /api/v1/dashboards/web/data`` (every widget of the site dashboard
in one request, one multi-search) against the same widget queries sent one by one to
``POST /api/v1/query``, in the same run, on the same data.

1. an embedded Elasticsearch (temporary data directory, free port) unless ``--es-url``;
   Metronome's templates under a bench prefix;
2. ``--days`` days of hits ending now, ``--per-day`` a day (views and downloads, referrers,
   formats, browsers, systems, devices, bots, visitors and sessions), bulk-loaded into the
   daily index of each document's own ``@timestamp``;
3. Metronome's app (``create_app``, as the web workers build it) served on a loopback port by
   a threaded WSGI server in this process; one keep-alive HTTP client;
4. ``--runs`` rounds, alternating: the data endpoint (its 10-second answer cache emptied before
   each call, so every call searches), the same widget bodies (``widget_body``, plus each
   sparkline number's total) sent one after the other to ``/api/v1/query``, and the same sent
   six at a time (as a browser would, six connections to one host). Then the data endpoint
   again with its cache warm.

Prints one JSON object: milliseconds per page (p50, p90, min, max, mean, stdev over the runs)
of each way, and the ratios of their medians (``sequential_over_dashboard`` above 1 means the
dashboard endpoint is faster). Progress goes to stderr.

    .venv/bin/python bench/dashboard_bench.py                          # 90 days, ~3 minutes
    .venv/bin/python bench/dashboard_bench.py --days 30 --per-day 1000 --runs 10   # a quick look
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from elasticsearch import Elasticsearch
from elasticsearch.helpers import bulk
from werkzeug.serving import make_server

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import USER_AGENTS, Monitor, free_port, machine, ratio
from bench.elastic import delete_indices, start_elasticsearch
from metronome.config import settings_from_mapping
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.data import PageState, total_body, widget_body
from metronome.enrich.useragent import parse_user_agent
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.web.app import create_app
from metronome.web.views.dashboards import EXTENSION_KEY

SITE = "default"
READ_KEY = "sk_bench_dashboard_read"
PAGE = {"range": "90d", "interval": "day", "tz": "UTC", "compare": "previous"}
PARALLEL = 6  # a browser's connections to one host
REFERRERS = ("news.example.org", "www.google.com", "t.co", "blog.example.com", None)
FORMATS = ("csv", "json", "pdf", "zip")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def documents(prefix: str, days: int, per_day: int, now: datetime) -> Iterator[dict[str, Any]]:
    """Seeded synthetic hits as the pipeline stores them, ``per_day`` for each of ``days``."""
    rng = random.Random(20261207)
    agents = [parse_user_agent(agent) for agent in USER_AGENTS]
    received = now.isoformat()
    for day in range(days):
        start = now - timedelta(days=day + 1)
        for n in range(per_day):
            moment = start + timedelta(seconds=rng.randrange(86_400))
            download = rng.random() < 0.2
            agent = agents[rng.randrange(len(agents))]
            referrer = REFERRERS[min(int(rng.expovariate(1.2)), len(REFERRERS) - 1)]
            visitor = f"v{rng.randrange(per_day // 3 + 1)}-{day}"
            source: dict[str, Any] = {
                "@timestamp": moment.isoformat(),
                "received_at": received,
                "site": SITE,
                "id": f"/page-{min(int(rng.expovariate(0.15)), 200)}",
                "event": "download" if download else "view",
                "visitor": visitor,
                "session": f"{visitor}-{n % 3}",
                "bot": rng.random() < 0.05,
                "user_agent": {
                    "name": agent.name,
                    "os": agent.os,
                    "device": agent.device,
                },
                "url": {"host": "example.org", "path": "/"},
            }
            if referrer:
                source["referrer"] = {"host": referrer, "path": "/"}
            if download:
                source["format"] = FORMATS[rng.randrange(len(FORMATS))]
            yield {"_index": index_for(prefix, "hits", moment), "_source": source}


def load(client: Elasticsearch, prefix: str, days: int, per_day: int) -> None:
    now = datetime.now(UTC)
    started = time.monotonic()
    done, _ = bulk(client, documents(prefix, days, per_day, now), chunk_size=2000)
    client.indices.refresh(index=f"{prefix}-hits-*")
    client.indices.forcemerge(index=f"{prefix}-hits-*", max_num_segments=1)
    say(f"loaded {done} hits over {days} days in {time.monotonic() - started:.1f}s")


def widget_queries(app_fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The ``POST /api/v1/query`` bodies the data endpoint answers for the web dashboard."""
    web = next(d for d in builtin_dashboards() if d.id == "web")
    page = PageState(PAGE["range"], "day", PAGE["tz"], PAGE["compare"])
    bodies = []
    for widget in web.widgets:
        body = widget_body(web, widget, page=page, site=SITE, known=app_fields)
        if any(f not in app_fields for f in body.get("dimensions", []) if "time" not in f):
            continue  # answered as its own error (countries without geo data): not a search
        bodies.append(body)
        total = total_body(body) if widget.type == "number" else None
        if total is not None:
            bodies.append(total)
    return bodies


def timed(call: Callable[[], None]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def figures(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    ordered = sorted(ms)
    return {
        "p50": round(statistics.median(ms), 1),
        "p90": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1),
        "min": round(ordered[0], 1),
        "max": round(ordered[-1], 1),
        "mean": round(statistics.fmean(ms), 1),
        "stdev": round(statistics.stdev(ms), 1) if len(ms) > 1 else 0.0,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="metronome-dashboard-bench-"))
    url, node = start_elasticsearch(args.es_url, workdir, args.es_heap, Monitor(), say)
    client = Elasticsearch(url, request_timeout=300)
    prefix = f"benchdash{uuid.uuid4().hex[:6]}"
    try:
        install_templates(client, prefix)
        load(client, prefix, args.days, args.per_day)
        settings = settings_from_mapping({
            "elasticsearch": {"url": url, "index_prefix": prefix},
            "spool": {"dir": str(workdir / "spool")},
            "sites": {SITE: {"write_auth": "none", "read_keys": [READ_KEY]}},
            "rate_limits": {"enabled": False},
        })  # fmt: skip
        app = create_app(settings, es=client)
        port = free_port()
        server = make_server("127.0.0.1", port, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            return measure(app, f"http://127.0.0.1:{port}", args)
        finally:
            server.shutdown()
    finally:
        delete_indices(client, prefix)
        client.close()
        if node is not None:
            node.stop()


def measure(app: Any, base: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {READ_KEY}"}
    session = requests.Session()
    with app.app_context():
        fields = app.extensions["metronome"].catalog.fields("hits")
    bodies = widget_queries(fields)
    cache = app.extensions[EXTENSION_KEY].data_cache

    def dashboard() -> None:
        with cache.lock:
            cache.entries.clear()
            cache.bytes = 0
        response = session.post(f"{base}/api/v1/dashboards/web/data",
                                json={"site": SITE, **PAGE}, headers=headers)  # fmt: skip
        response.raise_for_status()

    def one(body: dict[str, Any], http: requests.Session) -> None:
        response = http.post(f"{base}/api/v1/query", json=body, headers=headers)
        response.raise_for_status()

    def sequential() -> None:
        for body in bodies:
            one(body, session)

    pool_sessions = [requests.Session() for _ in range(PARALLEL)]

    def parallel() -> None:
        with ThreadPoolExecutor(PARALLEL) as pool:
            list(pool.map(lambda pair: one(pair[1], pool_sessions[pair[0] % PARALLEL]),
                          enumerate(bodies)))  # fmt: skip

    say(f"{len(bodies)} widget queries; warming up")
    for _ in range(args.warmup):
        dashboard()
        sequential()
        parallel()
    samples: dict[str, list[float]] = {"dashboard": [], "sequential": [], "parallel": []}
    for number in range(args.runs):
        for name, call in (("dashboard", dashboard), ("sequential", sequential),
                           ("parallel", parallel)):  # fmt: skip
            samples[name].append(timed(call))
        say(f"run {number + 1}/{args.runs}: " + ", ".join(
            f"{name} {values[-1] * 1000:.0f} ms" for name, values in samples.items()))  # fmt: skip

    def warm() -> None:
        response = session.post(f"{base}/api/v1/dashboards/web/data",
                                json={"site": SITE, **PAGE}, headers=headers)  # fmt: skip
        response.raise_for_status()

    warm()
    cached = [timed(warm) for _ in range(args.runs)]
    result = {name: figures(values) for name, values in samples.items()}
    result["dashboard_cached"] = figures(cached)
    return {
        "bench": "dashboard",
        "machine": machine(),
        "data": {
            "days": args.days,
            "hits_per_day": args.per_day,
            "hits": args.days * args.per_day,
            "page": PAGE,
            "widget_queries": len(bodies),
        },
        "runs": args.runs,
        "ms_per_page": result,
        "ratios": {
            "sequential_over_dashboard": ratio(
                result["sequential"]["p50"], result["dashboard"]["p50"]
            ),
            "parallel_over_dashboard": ratio(result["parallel"]["p50"], result["dashboard"]["p50"]),
            "dashboard_over_cached": ratio(
                result["dashboard"]["p50"], result["dashboard_cached"]["p50"]
            ),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--per-day", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--es-url", default=None, help="a running cluster instead of a new node")
    parser.add_argument("--es-heap", default="1g")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
