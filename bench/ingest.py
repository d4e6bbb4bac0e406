"""The ingestion benchmark: accept rate, paced latency and end-to-end rate, against baselines.

Everything runs on this machine, in this run:

1. an embedded Elasticsearch (temporary data directory, free port, 1g heap), warmed up;
2. accept rate, baseline: a bare Flask app (``bench/bare_app.py``: append the body to a file,
   answer 202) on gunicorn with the settings ``metronome serve`` uses; peak single-hit
   ``POST /tick`` rate from a separate load-generator process (``bench/loadgen.py``), then an
   open-loop run at 80 % of that peak: the tail this machine gives any app at that load;
3. end-to-end, baseline: the same documents as the pipeline makes, sent with
   ``elasticsearch.helpers.bulk`` in chunks of 1000, timed until ``_count`` sees them all;
4. Metronome (gunicorn ``metronome.web.wsgi:app`` + the shipper, as ``metronome serve`` runs them):
   end-to-end (N hits in batches of 500 until all are searchable), then the peak single-hit
   accept rate, then an open-loop run at 80 % of that peak for p50/p99 latency.

CPU (cores used) and peak RSS are sampled per process tree from /proc. Prints one JSON object;
progress goes to stderr. Every process started here is stopped on exit, Ctrl-C included.

    .venv/bin/python bench/ingest.py                       # full run, ~6-8 minutes
    .venv/bin/python bench/ingest.py --duration 3 --warmup 1 --e2e-hits 5000   # a quick look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import elastic
from bench._common import DISTINCT_IDS, USER_AGENTS, BenchError, hit, ratio
from bench.harness import Process
from bench.limits import CpuUse, shared_cores_note
from bench.options import add_run_options, bench_parser, int_list, name_list
from bench.server_bench import ServerBench, run_bench
from metronome.config import HitLimits, PrivacySettings, Settings
from metronome.enrich.visitors import DailySalts
from metronome.es.naming import index_for
from metronome.es.templates import install_templates
from metronome.hits.definition import load_hit
from metronome.hits.pipeline import Document, HitContext, enrich

ACCEPT_TARGET = 0.6
E2E_TARGET = 0.8
P99_TARGET_MS = 50.0
WARMUP_CHUNK = 250  # documents per warm-up bulk: about what the shipper sends at 1000 hits/s
SINGLE_THREADED = ("shipper", "bench_driver", "loadgen")  # Python, one busy thread each


def say(message: str) -> None:
    print(f"ingest: {message}", file=sys.stderr, flush=True)


# --- the load generator --------------------------------------------------------------------


def loadgen_command(port: int, **options: object) -> list[str]:
    """``bench/loadgen.py`` against ``port`` with ``options`` (``batch_size=500``:
    ``--batch-size=500``)."""
    flags = [f"--{name.replace('_', '-')}={value}" for name, value in options.items()]
    return [sys.executable, "-m", "bench.loadgen", "--port", str(port), *flags]


def _non_202(report: dict[str, Any]) -> dict[str, int]:
    other = {code: n for code, n in report["statuses"].items() if code != "202"}
    return {**other, **report["errors"]}


# --- Elasticsearch -------------------------------------------------------------------------


class PipelineDocuments:
    """Documents as Metronome's own pipeline makes them from the hits the load generator sends.

    ``load_hit`` + ``enrich`` run once per distinct hit (tracked id x user agent); each
    document is then that template with its own ``hit_id`` (a fresh uuid, as the pipeline
    gives a hit sent without one), so building one costs microseconds inside the timed bulk.
    """

    def __init__(self, batch_size: int) -> None:
        now = datetime.now(UTC)
        salt = DailySalts(os.urandom(32)).for_day(now.date())
        self.now = now
        self.batch_size = batch_size
        self.templates: dict[tuple[int, int], Document] = {}
        for agent_number, agent in enumerate(USER_AGENTS):
            context = HitContext(
                site=Settings().default_site,
                received_at=now,
                user_agent=agent,
                client_ip="127.0.0.1",
                ip_mode=PrivacySettings().ip,
                salt=salt,
            )
            for number in range(DISTINCT_IDS):
                document = enrich(load_hit(hit(number), HitLimits(), now), context)
                self.templates[(number, agent_number)] = document

    def actions(self, prefix: str, total: int, same_ids: bool) -> Iterator[dict[str, Any]]:
        index = index_for(prefix, "hits", self.now)
        for number in range(total):
            agent = (number // self.batch_size) % len(USER_AGENTS)
            document = dict(self.templates[(number % DISTINCT_IDS, agent)])
            document["hit_id"] = uuid.uuid4().hex
            if same_ids:  # what the shipper does: create with the hit's own id
                yield elastic.create_action(index, document["hit_id"], document)
            else:
                yield {"_index": index, "_source": document}


# --- the run -------------------------------------------------------------------------------


class IngestBench(ServerBench):
    """One run: the processes it started, the monitor, Elasticsearch, and the figures."""

    name = "ingest"

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir, say)
        run_id = uuid.uuid4().hex[:8]
        self.prefixes = {name: f"bench-{run_id}-{name}" for name in ("warm", "raw", "app")}
        self.pattern = f"{self.prefixes['app']}-hits-*"
        self.e2e_hits = math.ceil(args.e2e_hits / args.e2e_batch) * args.e2e_batch

    # --- the load generator ----------------------------------------------------------------

    def start_loadgen(self, port: int, **options: object) -> Process:
        return self.harness.start("loadgen", loadgen_command(port, **options), capture=True)

    def finish_loadgen(self, timeout: float) -> dict[str, Any]:
        report: dict[str, Any] = json.loads(self.harness.collect("loadgen", timeout))
        return report

    def measured(self, phase: str, port: int, **options: object) -> dict[str, Any]:
        """One load-generator run inside a monitored phase: its report and the resources."""
        say(f"{phase}...")
        self.monitor.begin(phase)
        self.start_loadgen(port, **options)
        report = self.finish_loadgen(self.args.duration + self.args.warmup + 180)
        report["resources"] = self.monitor.end({"loadgen": float(report["cpu_seconds"])})
        return report

    def peak_rate(self, phase: str, port: int) -> dict[str, Any]:
        """Closed-loop single-hit runs, one per connection count; the best is the peak."""
        args = self.args
        runs: dict[str, Any] = {}
        for connections in args.connections:
            runs[str(connections)] = self.measured(
                f"{phase} ({connections} connections)",
                port,
                mode="closed",
                kind="single",
                connections=connections,
                duration=args.duration,
                warmup=args.warmup,
            )
        best = max(runs.values(), key=lambda run: float(run["requests_per_s"]))
        return {
            "requests_per_s": best["requests_per_s"],
            "connections": best["connections"],
            "latency_ms": best["latency_ms"],
            "non_202": _non_202(best),
            "resources": best["resources"],
            "runs": {
                name: {"requests_per_s": run["requests_per_s"], "latency_ms": run["latency_ms"]}
                for name, run in runs.items()
            },
            "accepted_hits": sum(int(run["accepted_hits"]) for run in runs.values()),
        }

    def paced(self, label: str, port: int, peak: dict[str, Any]) -> dict[str, Any] | None:
        """An open-loop run at ``--paced-fraction`` of ``peak``: latency when not saturated."""
        args = self.args
        rate = round(float(peak["requests_per_s"]) * args.paced_fraction, 1)
        if rate <= 0:
            return None
        run = self.measured(
            f"paced at {rate}/s, {label}",
            port,
            mode="paced",
            kind="single",
            rate=rate,
            connections=args.paced_connections,
            duration=args.duration,
            warmup=args.warmup,
        )
        return {
            "fraction_of_peak": args.paced_fraction,
            "target_rate_per_s": rate,
            "achieved_rate_per_s": run["requests_per_s"],
            "latency_ms": run["latency_ms"],
            "tail": run.get("tail"),
            "loadgen_send_lag_ms": run.get("send_lag_ms"),
            "non_202": _non_202(run),
            "resources": run["resources"],
        }

    # --- the phases ------------------------------------------------------------------------

    def bulk_load(self, documents: PipelineDocuments, prefix: str, total: int) -> dict[str, Any]:
        """helpers.bulk into a fresh prefix (Metronome's templates), timed until searchable."""
        install_templates(self.client, prefix)
        return elastic.timed_bulk(
            self.client,
            documents.actions(prefix, total, self.args.baseline_ids == "same"),
            chunk=self.args.bulk_chunk,
            pattern=f"{prefix}-hits-*",
            timeout=self.args.e2e_timeout,
            rate="hits_per_s",
        )

    def baseline_end_to_end(self, documents: PipelineDocuments) -> dict[str, Any]:
        say(f"end-to-end, baseline: helpers.bulk of {self.e2e_hits} documents...")
        self.monitor.begin("end-to-end, baseline")
        result = self.bulk_load(documents, self.prefixes["raw"], self.e2e_hits)
        result["resources"] = self.monitor.end()
        elastic.delete_indices(self.client, self.prefixes["raw"])
        return result

    def metronome_end_to_end(self, port: int) -> dict[str, Any]:
        """N hits in batches via POST /tick; hits/s from the first send until all searchable."""
        args = self.args
        say(f"end-to-end, Metronome: {self.e2e_hits} hits in batches of {args.e2e_batch}...")
        self.monitor.begin("end-to-end, Metronome")
        process = self.start_loadgen(
            port,
            mode="count",
            kind="batch",
            batch_size=args.e2e_batch,
            requests=self.e2e_hits // args.e2e_batch,
            connections=args.e2e_connections,
            timeout=args.e2e_timeout,
        )
        report, seen, done = elastic.searchable_while(
            self.client,
            self.pattern,
            process,
            lambda: self.finish_loadgen(args.e2e_timeout),
            expected=self.e2e_hits,
            sent="accepted_hits",
            timeout=args.e2e_timeout,
        )
        resources = self.monitor.end({"loadgen": float(report["cpu_seconds"])})
        first_send = float(report["first_send_unix"])
        return {
            "documents": seen,
            "accepted_hits": report["accepted_hits"],
            "non_202": _non_202(report),
            "accept_s": round(float(report["last_answer_unix"]) - first_send, 3),
            "searchable_s": round(done - first_send, 3),
            "hits_per_s": round(seen / max(done - first_send, 1e-9), 1),
            "batch_latency_ms": report["latency_ms"],
            "resources": resources,
        }

    def metronome_accept(self, port: int, already_stored: int) -> dict[str, Any]:
        args = self.args
        result: dict[str, Any] = {}
        peak = self.peak_rate("accept peak, Metronome", port)
        result["metronome"] = peak
        # Let the shipper catch up, so that the paced run starts from an empty spool.
        say("waiting for the shipper to catch up...")
        drain_started = time.time()
        try:
            expected = already_stored + int(peak["accepted_hits"])
            drained = elastic.wait_for_count(
                self.client, self.pattern, expected, args.drain_timeout
            )
            result["spool_drain_s"] = round(drained - drain_started, 2)
        except BenchError:
            result["spool_drain_s"] = None  # not drained in time; the paced run starts anyway
        paced = self.paced("Metronome", port, peak)
        if paced is not None:
            paced["p99_target_ms"] = f"< {P99_TARGET_MS}"
            p99 = paced["latency_ms"]["p99"]
            paced["meets_target"] = p99 is not None and p99 < P99_TARGET_MS
            result["paced"] = paced
        return result

    def run(self) -> dict[str, Any]:
        args = self.args
        self.begin()
        self.start_elasticsearch(nice=args.es_nice)
        documents = PipelineDocuments(args.e2e_batch)
        warm_up: dict[str, Any] | None = None
        if args.es_warmup_seconds > 0:
            prefix = self.prefixes["warm"]
            install_templates(self.client, prefix)
            planned = math.ceil(args.es_warmup_seconds * args.es_warmup_rate) + 1000
            warm_up = elastic.warm_up_elasticsearch(
                self.client,
                documents.actions(prefix, planned, args.baseline_ids == "same"),
                seconds=args.es_warmup_seconds,
                rate=args.es_warmup_rate,
                chunk=WARMUP_CHUNK,
                say=say,
            )
            elastic.delete_indices(self.client, prefix)
        accept: dict[str, Any] = {}
        e2e: dict[str, Any] = {}
        if "accept" in args.phases:
            port = self.start_bare()
            bare_peak = self.peak_rate("accept peak, bare Flask", port)
            accept["baseline_bare_flask"] = bare_peak
            if args.paced_baseline:
                accept["paced_baseline_bare_flask"] = self.paced("bare Flask", port, bare_peak)
            self.harness.stop("gunicorn_bare")
        if "e2e" in args.phases:
            e2e["baseline_bulk"] = self.baseline_end_to_end(documents)
        settings = self.metronome_settings(self.prefixes["app"])
        self.start_metronome(settings)  # gunicorn + shipper, as ``metronome serve`` runs them
        port = settings.server.port
        if "e2e" in args.phases:
            e2e["metronome"] = self.metronome_end_to_end(port)
            e2e["ratio"] = ratio(e2e["metronome"]["hits_per_s"], e2e["baseline_bulk"]["hits_per_s"])
            e2e["target"] = f">= {E2E_TARGET}"
            e2e["meets_target"] = e2e["ratio"] is not None and e2e["ratio"] >= E2E_TARGET
        if "accept" in args.phases:
            stored = int(e2e["metronome"]["documents"]) if e2e else 0
            accept.update(self.metronome_accept(port, stored))
            ratio_ = ratio(
                accept["metronome"]["requests_per_s"],
                accept["baseline_bare_flask"]["requests_per_s"],
            )
            accept["ratio"] = ratio_
            paced, bare_paced = accept.get("paced"), accept.get("paced_baseline_bare_flask")
            if paced and bare_paced:  # the tail the machine gives any app at the same load
                paced["p99_vs_bare_flask"] = ratio(
                    paced["latency_ms"]["p99"], bare_paced["latency_ms"]["p99"]
                )
            accept["target"] = f">= {ACCEPT_TARGET}"
            accept["meets_target"] = ratio_ is not None and ratio_ >= ACCEPT_TARGET
        self.harness.stop("gunicorn_metronome")
        self.harness.stop("shipper")
        figures = {
            "elasticsearch_warm_up": warm_up,
            "accept": accept or None,
            "end_to_end": e2e or None,
        }
        short_run = args.duration < 30 or args.e2e_hits < 100_000
        return self.report(figures, short_run=short_run, limits=limits_note)


def _phase_note(label: str, resources: dict[str, Any] | None) -> str:
    """One phase: where the CPU went and what that says about the limit."""
    if not resources:
        return f"{label}: n/a."
    cpu = CpuUse.of(resources)
    used = ", ".join(part for part in (cpu.listing(), f"other processes {cpu.other:.2f}") if part)
    findings = []
    if cpu.saturated:
        findings.append(f"CPU-saturated, most of it in {cpu.busiest}")
    findings += [
        f"{name} near one full core (its single Python thread is the limit)"
        for name in cpu.at_one_core(SINGLE_THREADED)
    ]
    if cpu.noisy:
        findings.append("other programs took a large share: noisy, rerun on an idle machine")
    if not findings:
        findings.append("CPU not saturated: waiting (fsync, Elasticsearch refresh, polling)")
    return f"{label}: {cpu.busy_text()} ({used}); {'; '.join(findings)}."


def limits_note(report: dict[str, Any]) -> str:
    """What limited the rates, from the CPU measured per process in each phase."""
    accept = report.get("accept") or {}
    e2e = report.get("end_to_end") or {}
    phases = [
        ("Bare Flask peak", accept.get("baseline_bare_flask")),
        ("Metronome peak", accept.get("metronome")),
        ("Bare Flask paced", accept.get("paced_baseline_bare_flask")),
        ("Metronome paced", accept.get("paced")),
        ("Bulk baseline", e2e.get("baseline_bulk")),
        ("Metronome end-to-end", e2e.get("metronome")),
    ]
    notes = [_phase_note(label, phase["resources"]) for label, phase in phases if phase]
    notes.append(
        shared_cores_note(
            "the gunicorn workers, the shipper and the load generator",
            "hit",
            "; in the Metronome phases Elasticsearch also indexes what the shipper sends, CPU "
            "the bare-Flask baseline never pays",
        )
    )
    return " ".join(notes)


# --- command line --------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser, add = bench_parser("Metronome ingestion benchmark")
    add("--duration", type=float, default=60.0, help="seconds measured per accept run")
    add("--warmup", type=float, default=5.0, help="seconds before measuring each accept run")
    add("--connections", type=int_list, default=[32], help="peak: connection counts, e.g. 16,64")
    add("--paced-fraction", type=float, default=0.8, help="paced rate as a fraction of the peak")
    add("--paced-connections", type=int, default=64)
    add(
        "--no-paced-baseline",
        dest="paced_baseline",
        action="store_false",
        help="skip the paced run of the bare app (the machine's own tail at the same fraction)",
    )
    add("--e2e-hits", type=int, default=200_000)
    add("--e2e-batch", type=int, default=500, help="hits per POST /tick in the end-to-end run")
    add("--e2e-connections", type=int, default=4)
    add("--e2e-timeout", type=float, default=1800.0)
    add("--bulk-chunk", type=int, default=1000, help="baseline helpers.bulk chunk size")
    add(
        "--baseline-ids",
        choices=("same", "auto"),
        default="same",
        help="baseline bulk: create with the hit's id, as the shipper does (same) or auto ids",
    )
    add("--drain-timeout", type=float, default=600.0)
    add("--phases", type=name_list, default=["accept", "e2e"], help="accept,e2e (default both)")
    add_run_options(parser, heap="1g", keep="logs, spool", nice=True, warm_up="documents")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_bench(IngestBench, parse_args(argv), say)


if __name__ == "__main__":
    sys.exit(main())
