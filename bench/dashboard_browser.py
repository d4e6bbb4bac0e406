"""The dashboard app's speed in a real browser: from navigation to every widget drawn, as the
browser's own clock (the Performance API) reports it.

1. an embedded Elasticsearch (or ``--es-url``) holding synthetic hits (``bench/query.py``'s
   generator: Zipf popularity, downloads, referrers, daily and weekly seasonality) over
   ``--days`` days ending now, bulk-loaded under a bench prefix (or ``--skip-load`` with the
   ``--prefix`` of data loaded before);
2. Metronome's web process as ``metronome serve`` starts it, with a read key for the run;
3. Debian's Chromium (Playwright) signs in once, then loads, alternately, each case's page in a
   new tab: the page marks ``metronome:widgets-drawn`` (``performance.mark``) when the last
   widget of the dashboard is drawn, and the bench reads that instant (milliseconds since
   navigation start). Each load carries a page filter that excludes one id nobody has
   (``is_not id nonce-N``), so no load is answered from the data endpoint's 10-second cache.

Cases: ``web`` (the ready-made site dashboard, every widget, ``--range`` by day), ``web-year``
(the same over 12 months by day) and the baseline ``one-widget`` (a dashboard with the views
number only, same range): the same shell, session and network path, so the ratio is the cost
of the whole dashboard over the cost of the app itself. Prints one JSON object.

    .venv/bin/python bench/dashboard_browser.py                     # 500,000 hits over 90 days
    .venv/bin/python bench/dashboard_browser.py --docs 5000000 --days 365 --loads 15
    .venv/bin/python bench/dashboard_browser.py --es-url URL --prefix P --skip-load
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import uuid
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Page, sync_playwright

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import BenchError, percentiles, ratio
from bench.options import add_run_options, add_subset_option, bench_parser
from bench.query import SyntheticHits
from bench.server_bench import ServerBench, run_bench
from metronome.reports.worker import CHROMIUM_ARGS
from metronome.serve.plan import WEB

CHROMIUM = "/usr/bin/chromium"
APP_MANIFEST = Path(__file__).resolve().parents[1] / "clients" / "app" / "dist" / "manifest.json"
ONE_WIDGET = {
    "id": "bench-one-widget",
    "title": "One widget",
    "stream": "hits",
    "defaults": {"range": "30d", "interval": "day", "tz": "UTC", "compare": "previous"},
    "widgets": [
        {
            "id": "views",
            "title": "Views",
            "type": "number",
            "query": {
                "metrics": ["count"],
                "dimensions": ["time"],
                "filters": [["is", "event", ["view"]]],
            },
            "layout": {"x": 0, "y": 0, "w": 3, "h": 2},
        }
    ],
}


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DashboardBrowserBench(ServerBench):
    name = "dashboard-browser"

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir, say)

    def run(self) -> dict[str, Any]:
        args = self.args
        if not APP_MANIFEST.exists():
            raise BenchError(f"{APP_MANIFEST} is missing: run `make app` first")
        self.begin()
        self.start_elasticsearch()
        prefix = args.prefix or f"bench-{uuid.uuid4().hex[:8]}-dash"
        loaded = None if args.skip_load else self.load(prefix)
        key = f"sk_bench_{secrets.token_hex(8)}"
        os.environ["METRONOME_SITES__DEFAULT__READ_KEYS"] = key  # the web process's
        settings = self.metronome_settings(prefix)
        self.start_metronome(settings, only=(WEB,))
        base = f"http://127.0.0.1:{settings.server.port}"
        self.create_baseline(base, key)
        pages = {
            "web": f"/?site=default&d=web&range={args.range}&interval=day",
            "web-year": "/?site=default&d=web&range=12mo&interval=day",
            "one-widget": f"/?site=default&d=bench-one-widget&range={args.range}&interval=day",
        }
        cases = {case: pages[case] for case in [*args.cases, "one-widget"]}
        timings = self.measure(base, key, cases)
        figures: dict[str, Any] = {"loaded": loaded, "cases": {}}
        baseline = statistics.median(timings["one-widget"])
        for case, values in timings.items():
            p = percentiles(values, scale=1.0)
            figures["cases"][case] = {
                "path": cases[case],
                "drawn_ms": p,
                "p50_vs_one_widget": ratio(statistics.median(values), baseline),
            }
        return self.report(
            figures,
            short_run=args.loads < 10,
            limits=lambda report: "browser timing on the same 2-core machine as Elasticsearch",
        )

    def load(self, prefix: str) -> dict[str, Any]:
        args = self.args
        return SyntheticHits.from_args(args).load(self.client, prefix)

    def create_baseline(self, base: str, key: str) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        body = {**ONE_WIDGET, "site": "default"}
        answer = requests.post(f"{base}/api/v1/dashboards", json=body, headers=headers, timeout=30)
        if answer.status_code not in (201, 409):
            raise BenchError(f"could not store the one-widget dashboard: {answer.text[:300]}")

    def measure(self, base: str, key: str, cases: dict[str, str]) -> dict[str, list[float]]:
        args = self.args
        timings: dict[str, list[float]] = {case: [] for case in cases}
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=list(CHROMIUM_ARGS))
            context = browser.new_context(viewport={"width": 1360, "height": 900})
            page = context.new_page()
            page.goto(f"{base}/?d=bench-one-widget")
            page.get_by_label("Read key").fill(key)
            page.get_by_role("button", name="Sign in").click()
            drawn_at(page)
            page.close()
            for load in range(-args.warmup, args.loads):
                for case, path in cases.items():
                    nonce = f"f=is_not,id,nonce-{uuid.uuid4().hex[:8]}"
                    page = context.new_page()
                    page.goto(f"{base}{path}&{nonce}")
                    drawn = drawn_at(page)
                    page.close()
                    if load >= 0:
                        timings[case].append(drawn)
                say(f"load {load + 1}/{args.loads}: " + ", ".join(
                    f"{case} {values[-1]:.0f} ms" for case, values in timings.items() if values
                ))  # fmt: skip
            browser.close()
        return timings


def drawn_at(page: Page) -> float:
    """Milliseconds from navigation start to every widget drawn; a page whose data could not
    load (its error banner) fails the run rather than hanging it."""
    page.wait_for_selector("html[data-drawn], .banner.error", state="attached", timeout=300_000)
    drawn = page.get_attribute("html", "data-drawn")
    if drawn is None:
        raise BenchError(f"the page did not load: {page.locator('.banner.error').inner_text()}")
    return float(drawn)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser, add = bench_parser("Metronome dashboard in the browser")
    SyntheticHits.add_options(add, docs=500_000, days=90, items=10_000, pages=2_000)
    add("--range", default="90d", help="the range of the web and one-widget cases")
    add("--loads", type=int, default=15, help="measured page loads per case")
    add("--warmup", type=int, default=2, help="loads per case before measuring")
    add("--prefix", help="index prefix (default: a fresh bench-<id>-dash)")
    add_subset_option(parser, "cases", ["web", "web-year"])
    add("--skip-load", action="store_true", help="measure data already under --prefix")
    add_run_options(parser, heap="2g", keep="logs")
    args = parser.parse_args(argv)
    if args.skip_load and not (args.es_url and args.prefix):
        parser.error("--skip-load needs --es-url and the --prefix of the loaded data")
    return args


def main(argv: list[str] | None = None) -> int:
    return run_bench(DashboardBrowserBench, parse_args(argv), say)


if __name__ == "__main__":
    sys.exit(main())
