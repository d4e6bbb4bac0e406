"""The rollup job keeping up with steady ingest, and what it costs in CPU.

Documents are fed straight into Elasticsearch at ``--rate`` hits/s (default 1,000, in bulks
of 100 every 0.1 s), each with ``@timestamp`` and ``received_at`` = now and the fields the
default hits groups roll up. Two phases of ``--seconds`` each, with the same ingest:

- ``baseline``: ``metronome scheduler`` with ``rollups.enabled: false``;
- ``job``: the same scheduler with rollups on (the shipped groups, ``rollups.interval`` of
  ``--interval`` seconds); measured after its first run (which fills the whole window) ends.

Figures: the scheduler's CPU time / wall time and Elasticsearch's (``_nodes/stats``) in each
phase and their difference; the job's runs in the phase (how long each took: keeping up means
a run ends well within its interval); the hour watermark's lag at the end.

Within a phase of a minute or two no hour ends, and an hour's end is when the job recomputes
it (an open bucket is never read, so it is not computed). So the bench then closes the hour
and the day the documents fell in, and sweeps the window, each once with the job on a clock
moved past their end, and measures the CPU of each against the documents it covered; from
those, the steady cost at ``--rate`` (an hour of documents closed every hour, a day of them
every day, a sweep of the late-data window every ``rollups.sweep_interval``) as a fraction
of one core.

    .venv/bin/python bench/rollup_job_bench.py > rollup.json          # ~5 minutes
    .venv/bin/python bench/rollup_job_bench.py --seconds 30 --warmup 20 # a quick look
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from elasticsearch import Elasticsearch, NotFoundError
from elasticsearch.helpers import bulk

from bench._common import ROOT, BenchError, Monitor, machine, report_main, run_in_workdir
from bench.elastic import Cluster, es_cpu_ms
from bench.options import bench_parser
from metronome.config.rollups import RollupSettings
from metronome.config.storage import StorageSettings
from metronome.es.naming import index_for
from metronome.es.templates import create_templated_index, install_templates
from metronome.query.rollup_schema import read_watermarks
from metronome.rollups.store import rollup_service

PREFIX = "rollbench"
PERIOD = StorageSettings().period_of("hits")  # the shipped index period of hits
CHUNK = 100
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
EVENTS = ("view", "view", "view", "download")
FORMATS = ("html", "pdf", "csv", "json")
AGENTS = (("Chrome", "Windows", "desktop"), ("Safari", "iOS", "mobile"),
          ("Firefox", "Linux", "desktop"))  # fmt: skip
COUNTRIES = ("Poland", "Germany", "France", "United States", "Japan")


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def document(number: int, now: datetime, rand: random.Random) -> dict[str, Any]:
    agent = AGENTS[number % len(AGENTS)]
    stamp = now.isoformat()
    doc: dict[str, Any] = {
        "@timestamp": stamp,
        "received_at": stamp,
        "site": "default",
        "event": EVENTS[number % len(EVENTS)],
        "id": f"dataset-{rand.randrange(500)}",
        "format": FORMATS[number % len(FORMATS)],
        "bot": number % 50 == 0,
        "referrer": {"host": f"site{rand.randrange(40)}.example.org"},
        "user_agent": {"name": agent[0], "os": agent[1], "device": agent[2]},
        "geo": {"country_name": COUNTRIES[rand.randrange(len(COUNTRIES))]},
    }
    if number % 10 == 0:
        doc.update(action="BUY", origin="web", device="PC", country="PL",
                   product_info={"brand_id": f"b{rand.randrange(20)}",
                                 "category_id": f"c{rand.randrange(30)}",
                                 "price": rand.randrange(100, 10_000) / 100})  # fmt: skip
    return doc


class Feeder:
    """Bulks of ``CHUNK`` documents at ``rate`` per second, stamped with the time of sending."""

    def __init__(self, client: Elasticsearch, rate: float) -> None:
        self.client = client
        self.rate = rate
        self.sent = 0
        self.behind = 0.0  # the largest delay behind schedule, seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feeder", daemon=True)
        self._rand = random.Random(7)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            now = datetime.now(UTC)
            index = index_for(PREFIX, "hits", now, PERIOD)
            actions = [
                {"_index": index, "_source": document(self.sent + n, now, self._rand)}
                for n in range(CHUNK)
            ]
            bulk(self.client, actions, chunk_size=CHUNK, stats_only=True, raise_on_error=False)
            self.sent += CHUNK
            due = started + self.sent / self.rate
            late = time.monotonic() - due
            self.behind = max(self.behind, late)
            if late < 0:
                self._stop.wait(-late)


def process_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def job_state(client: Elasticsearch) -> dict[str, Any]:
    try:
        return dict(client.get(index=f"{PREFIX}-rollup-state", id="job:hits")["_source"])
    except NotFoundError:
        return {}


class RollupBench:
    def __init__(self, workdir: Path, options: Any) -> None:
        self.workdir = workdir
        self.options = options
        self.monitor = Monitor()
        self.monitor.start()
        self.cluster = Cluster(options.es_url, workdir, options.es_heap, self.monitor, say)
        self.cluster.owned.append(PREFIX)
        self.client = self.cluster.client
        self.scheduler: subprocess.Popen[bytes] | None = None

    def close(self) -> None:
        self._stop_scheduler()
        self.cluster.close()
        self.monitor.close()

    def _config(self, enabled: bool) -> Path:
        path = self.workdir / f"metronome-{'on' if enabled else 'off'}.yml"
        path.write_text(
            json.dumps(
                {
                    "elasticsearch": {"url": self.cluster.url, "index_prefix": PREFIX},
                    "spool": {"dir": str(self.workdir / "spool")},
                    "logs": {"forward": {"enabled": False}},
                    "rollups": {"enabled": enabled, "interval": self.options.interval},
                }
            )
        )
        return path

    def _start_scheduler(self, enabled: bool) -> int:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "METRONOME_CONFIG": str(self._config(enabled)),
        }
        log = (self.workdir / f"scheduler-{enabled}.log").open("wb")
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "metronome.cli", "scheduler"],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self.scheduler.pid

    def _stop_scheduler(self) -> None:
        if self.scheduler is not None and self.scheduler.poll() is None:
            self.scheduler.terminate()
            try:
                self.scheduler.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.scheduler.kill()
                self.scheduler.wait()
        self.scheduler = None

    def _phase(self, name: str, enabled: bool) -> dict[str, Any]:
        pid = self._start_scheduler(enabled)
        if enabled:  # the first run fills the window: measured apart
            began = time.monotonic()
            wait_for(lambda: bool(job_state(self.client).get("last_run")), 600)
            first = job_state(self.client)["last_run"]
            say(f"{name}: first run done in {time.monotonic() - began:.1f}s ({first})")
        else:
            time.sleep(5)  # the scheduler's start
        say(f"{name}: measuring for {self.options.seconds}s")
        runs: dict[str, float] = {}
        cpu0, es0, wall0 = process_cpu(pid), es_cpu_ms(self.client), time.monotonic()
        while time.monotonic() - wall0 < self.options.seconds:
            time.sleep(1)
            last = job_state(self.client).get("last_run") if enabled else None
            if last:
                runs[str(last["at"])] = float(last["seconds"])
        wall = time.monotonic() - wall0
        cpu, es = process_cpu(pid) - cpu0, (es_cpu_ms(self.client) - es0) / 1000
        lag = None
        if enabled:
            hour = read_watermarks(self.client, PREFIX, "hits")["hour"].complete_through
            lag = round((datetime.now(UTC) - hour).total_seconds(), 1)
        self._stop_scheduler()
        return {
            "wall_s": round(wall, 1),
            "scheduler_cpu_s": round(cpu, 2),
            "scheduler_cpu_fraction": round(cpu / wall, 4),
            "es_cpu_s": round(es, 2),
            "es_cpu_fraction": round(es / wall, 4),
            "job_runs": len(runs),
            "job_run_seconds": sorted(runs.values()),
            "hour_watermark_lag_s": lag,
        }

    def _closing(self) -> dict[str, Any]:
        """Close the current hour and day, and sweep, with the job on a moved clock."""
        self.client.indices.refresh(index=f"{PREFIX}-*")
        now = datetime.now(UTC)
        hour_end = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        day_end = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
        hour_docs = self._count(hour_end - timedelta(hours=1), hour_end)
        day_docs = self._count(day_end - timedelta(days=1), day_end)
        window_docs = self._count(day_end - timedelta(days=9), day_end)
        settings = RollupSettings()
        figures: dict[str, Any] = {}
        steps = (
            ("close_hour", hour_end + timedelta(seconds=settings.settle + 1), False, hour_docs),
            ("close_day", day_end + timedelta(seconds=settings.settle + 1), False, day_docs),
            ("sweep", day_end + timedelta(seconds=settings.settle + 2), True, window_docs),
        )
        for name, moment, sweep, docs in steps:
            service = rollup_service(self.client, PREFIX, settings, clock=fixed(moment))
            service.job.streams = tuple(p for p in service.plans if p.stream == "hits")
            cpu0, es0, wall0 = time.process_time(), es_cpu_ms(self.client), time.monotonic()
            (run,) = service.job.run(sweep=sweep)
            wall = time.monotonic() - wall0
            cpu, es = time.process_time() - cpu0, (es_cpu_ms(self.client) - es0) / 1000
            if run.error:
                raise BenchError(f"{name}: {run.error}")
            figures[name] = {
                "documents": docs,
                "wall_s": round(wall, 2),
                "job_cpu_s": round(cpu, 3),
                "es_cpu_s": round(es, 3),
                "ranges": run.ranges,
                "written": run.written,
                "cpu_ms_per_1000_docs": round((cpu + es) * 1e6 / max(docs, 1), 3),
            }
            say(f"{name}: {figures[name]}")
        rate = self.options.rate
        per_doc = {name: (f["job_cpu_s"] + f["es_cpu_s"]) / max(f["documents"], 1)
                   for name, f in figures.items()}  # fmt: skip
        window = settings.late_window + 86_400  # the window reaches back to a day's start
        steady = {
            "close_hours": per_doc["close_hour"] * rate,  # an hour of documents each hour
            "close_days": per_doc["close_day"] * rate,  # a day of documents each day
            "sweeps": per_doc["sweep"] * rate * window / settings.sweep_interval,
        }
        figures["steady_cpu_fraction_at_rate"] = {k: round(v, 4) for k, v in steady.items()}
        figures["steady_cpu_fraction_total"] = round(sum(steady.values()), 4)
        return figures

    def _count(self, start: datetime, end: datetime) -> int:
        answer = self.client.count(
            index=f"{PREFIX}-hits-*",
            query={"range": {"@timestamp": {"gte": start.isoformat(), "lt": end.isoformat()}}},
        )
        return int(answer["count"])

    def run(self) -> dict[str, Any]:
        options = self.options
        install_templates(self.client, PREFIX)
        create_templated_index(self.client, PREFIX, f"{PREFIX}-rollup-state")  # polled below
        feeder = Feeder(self.client, options.rate)
        feeder.start()
        try:
            say(f"warming up: {options.warmup}s of ingest at {options.rate}/s")
            time.sleep(options.warmup)
            baseline = self._phase("baseline", enabled=False)
            say(f"baseline: {baseline}")
            job = self._phase("job", enabled=True)
            say(f"job: {job}")
        finally:
            feeder.stop()
        closing = self._closing()
        return {
            "bench": "rollup_job_bench",
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "machine": machine(),
            "rate": options.rate,
            "sent": feeder.sent,
            "feeder_max_behind_s": round(feeder.behind, 2),
            "interval_s": options.interval,
            "baseline": baseline,
            "job": job,
            "job_minus_baseline": {
                "scheduler_cpu_fraction": round(
                    job["scheduler_cpu_fraction"] - baseline["scheduler_cpu_fraction"], 4
                ),
                "es_cpu_fraction": round(job["es_cpu_fraction"] - baseline["es_cpu_fraction"], 4),
            },
            "closing": closing,
        }


def fixed(moment: datetime) -> Callable[[], datetime]:
    return lambda: moment


def wait_for(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise BenchError("timed out")
        time.sleep(0.5)


def main() -> int:
    parser, add = bench_parser("The rollup job at steady ingest: CPU and keeping up")
    add("--rate", type=float, default=1000.0, help="hits per second fed (default 1000)")
    add("--seconds", type=float, default=90.0, help="length of each phase (default 90)")
    add("--warmup", type=float, default=60.0, help="ingest before measuring (default 60)")
    add("--interval", type=float, default=30.0, help="rollups.interval (default 30)")
    add("--es-url", default=None, help="use this Elasticsearch instead of starting one")
    add("--es-heap", default="1g")
    add("--keep", action="store_true", help="keep the temporary directory")
    options = parser.parse_args()

    def produce() -> dict[str, Any]:
        return run_in_workdir(
            "rollbench-", lambda workdir: RollupBench(workdir, options), options.keep, say
        )

    return report_main(produce, say, (BenchError,))


if __name__ == "__main__":
    sys.exit(main())
