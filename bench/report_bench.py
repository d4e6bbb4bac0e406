"""The report bench: ``GET /api/v1/dashboards/web.pdf`` (the data endpoint's answer drawn by the
headless Chromium and printed) against ``POST /api/v1/dashboards/web/data`` alone, in the same
run, on the same data.

1. an embedded Elasticsearch (temporary data directory, free port) unless ``--es-url``; the
   dashboard bench's synthetic hits (``bench/dashboard_bench.py``: ``--days`` days,
   ``--per-day`` a day) under a bench prefix;
2. Metronome's app (``create_app``, as a web worker builds it, its report renderer not yet
   started) on a loopback port; one keep-alive HTTP client;
3. the first PDF (cold: the worker starts its browser), then ``--runs`` rounds alternating the
   data endpoint and the PDF, the data endpoint's 10-second cache emptied before each call (so
   every PDF also searches), then PDFs with the answer cached (the render alone), and one PNG
   and one XLSX for scale.

Prints one JSON object: milliseconds (p50, p90, min, max, mean, stdev), the memory (PSS) of
this process and its browser after the renders, and the ratios of the medians against the data
endpoint. Progress goes to stderr.

    .venv/bin/python bench/report_bench.py                        # 30 days, ~2 minutes
    .venv/bin/python bench/report_bench.py --days 90 --per-day 2000 --runs 10
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from elasticsearch import Elasticsearch
from werkzeug.serving import make_server

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import Monitor, free_port, machine, process_tree, ratio
from bench.dashboard_bench import READ_KEY, SITE, figures, load, say, timed
from bench.elastic import delete_indices, start_elasticsearch
from metronome.config import settings_from_mapping
from metronome.es.templates import install_templates
from metronome.web.app import create_app
from metronome.web.views.dashboards import EXTENSION_KEY as DASHBOARDS_KEY
from metronome.web.views.reports import EXTENSION_KEY as REPORTS_KEY

PAGE = {"range": "30d", "interval": "day", "tz": "UTC", "compare": "previous"}


def pss_mb(root: int) -> float:
    """Proportional set size of a process and its descendants (shared pages split fairly)."""
    total = 0
    for pid in process_tree(root):
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total += sum(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except OSError:
            continue
    return round(total / 1024, 1)


def run(args: argparse.Namespace) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="metronome-report-bench-"))
    url, node = start_elasticsearch(args.es_url, workdir, args.es_heap, Monitor(), say)
    client = Elasticsearch(url, request_timeout=300)
    prefix = f"benchrep{uuid.uuid4().hex[:6]}"
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
            app.extensions[REPORTS_KEY].close()
    finally:
        delete_indices(client, prefix)
        client.close()
        if node is not None:
            node.stop()


def measure(app: Any, base: str, args: argparse.Namespace) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {READ_KEY}"}
    session = requests.Session()
    cache = app.extensions[DASHBOARDS_KEY].data_cache
    problem = app.extensions[REPORTS_KEY].problem()
    if problem is not None:
        raise SystemExit(f"reports cannot be rendered here: {problem}")

    def empty_cache() -> None:
        with cache.lock:
            cache.entries.clear()
            cache.bytes = 0

    def data(fresh: bool = True) -> None:
        if fresh:
            empty_cache()
        response = session.post(f"{base}/api/v1/dashboards/web/data",
                                json={"site": SITE, **PAGE}, headers=headers)  # fmt: skip
        response.raise_for_status()

    def report(fmt: str, fresh: bool = True) -> int:
        if fresh:
            empty_cache()
        response = session.get(f"{base}/api/v1/dashboards/web.{fmt}",
                               params={"site": SITE, **PAGE}, headers=headers)  # fmt: skip
        response.raise_for_status()
        return len(response.content)

    sizes: dict[str, int] = {}

    def pdf(fresh: bool = True) -> None:
        report("pdf", fresh)

    started = time.perf_counter()
    sizes["pdf"] = report("pdf")
    cold = time.perf_counter() - started
    say(f"first PDF (browser started): {cold * 1000:.0f} ms")
    for _ in range(args.warmup):
        data()
        report("pdf")
    samples: dict[str, list[float]] = {"data": [], "pdf": []}
    for number in range(args.runs):
        samples["data"].append(timed(data))
        samples["pdf"].append(timed(pdf))
        say(f"run {number + 1}/{args.runs}: data {samples['data'][-1] * 1000:.0f} ms, "
            f"pdf {samples['pdf'][-1] * 1000:.0f} ms")  # fmt: skip
    data(fresh=True)
    samples["pdf_render_only"] = [timed(lambda: pdf(fresh=False)) for _ in range(args.runs)]
    started = time.perf_counter()
    sizes["png"] = report("png")
    png = time.perf_counter() - started
    started = time.perf_counter()
    sizes["xlsx"] = report("xlsx")
    xlsx = time.perf_counter() - started
    memory = pss_mb(os.getpid())
    result = {name: figures(values) for name, values in samples.items()}
    return {
        "bench": "report",
        "machine": machine(),
        "data": {"days": args.days, "hits_per_day": args.per_day, "page": PAGE},
        "runs": args.runs,
        "ms": {
            **result,
            "pdf_cold": round(cold * 1000, 1),
            "png_once": round(png * 1000, 1),
            "xlsx_once": round(xlsx * 1000, 1),
        },
        "bytes": sizes,
        "memory_pss_mb_with_browser": memory,
        "browsers_started": app.extensions[REPORTS_KEY].worker.launches,
        "ratios": {
            "pdf_over_data": ratio(result["pdf"]["p50"], result["data"]["p50"]),
            "pdf_cold_over_data": ratio(cold * 1000, result["data"]["p50"]),
            "render_only_over_data": ratio(result["pdf_render_only"]["p50"], result["data"]["p50"]),
        },
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument(
        "--es-url", default=None, help="an Elasticsearch to use (default: embedded)"
    )
    parser.add_argument("--es-heap", default="512m")
    args = parser.parse_args()
    print(json.dumps(run(args), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
