"""Anonymous request bodies that inflate: the web workers' memory and every answer, measured.

Starts the web process as ``metronome serve`` runs it (2 gunicorn workers x 8 threads, no
Elasticsearch needed: nothing here reads it) and, for each kind of amplifying body, sends
``--concurrency`` of them at a time, ``--rounds`` times each, while two threads keep posting
ordinary hits. It samples the workers' resident memory every 50 ms and prints JSON: per kind,
the workers' peak RSS, the answers' statuses and latencies; the ordinary hits' statuses and
p99; and the baseline, the workers' RSS after start-up and after ordinary hits alone.

A safety valve stops the run when the workers together pass ``--abort-rss-mb`` (the code
before the body budget grew past 15 GB): the kind is reported as ``aborted``.

    .venv/bin/python bench/amplification.py > amplification.json      # ~1 minute
    .venv/bin/python bench/amplification.py --code /path/to/older/checkout   # the same, old code
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MiB = 1024 * 1024

CONFIG = """
server: {host: 127.0.0.1, port: %(port)d, workers: 2, threads: 8}
elasticsearch: {url: "http://127.0.0.1:9", index_prefix: bench}
spool: {dir: %(spool)s}
privacy: {visitor_secret: bench-only-visitor-secret-0123456789}
allezon: {enabled: true, site: allezon}
scheduler: {enabled: false}
default_site: default
sites:
  default: {write_auth: none, public_tock: true}
  allezon: {write_auth: none}
"""


def _gz(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9)


def _repeat(unit: bytes, size: int, head: bytes = b"", tail: bytes = b"") -> bytes:
    return head + unit * ((size - len(head) - len(tail)) // len(unit)) + tail


def bombs() -> dict[str, tuple[str, dict[str, str], bytes]]:
    """kind -> (path, headers, body). Each body is at most 1 MiB as sent (the raw limit)."""
    json_type = {"Content-Type": "application/json"}
    gzipped = {**json_type, "Content-Encoding": "gzip"}
    ten = 10 * MiB
    return {
        "gzip_objects_tick": ("/tick", gzipped, _gz(_repeat(b"{},", ten, b"[", b"{}]"))),
        "gzip_ndjson_tick": (
            "/tick",
            {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
            _gz(_repeat(b"{}\n", ten)),
        ),
        "gzip_numbers_ndjson_tick": (
            "/tick",
            {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
            _gz(_repeat(b"1\n", ten)),
        ),
        "item_flood_tick": ("/tick", json_type, _repeat(b"{},", MiB - 16, b"[", b"{}]")),
        "deep_tick": ("/tick", json_type, _repeat(b"[", MiB - 16)),
        "wide_gzip_tick": (
            "/tick",
            gzipped,
            _gz(b"{" + b",".join(b'"a%d":0' % i for i in range(400_000)) + b"}"),
        ),
        "gzip_form_tick": (
            "/tick",
            {"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
            _gz(_repeat(b"a=1&", ten)),
        ),
        "gzip_user_tags": ("/user_tags", gzipped, _gz(_repeat(b"{},", ten, b"[", b"{}]"))),
        "gzip_ingest_logs": (
            "/ingest/logs",
            {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"},
            _gz(_repeat(b"{}\n", ten)),
        ),
    }


def post(port: int, path: str, headers: dict[str, str], body: bytes) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.monotonic() - started
    except (OSError, http.client.HTTPException):
        return -1, time.monotonic() - started
    finally:
        connection.close()


def worker_pids(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    try:
        return [int(pid) for pid in path.read_text().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssWatch:
    """Samples the workers' RSS every 50 ms; ``peak`` per worker and summed, since ``reset``."""

    def __init__(self, master: int, abort_mb: float, on_abort: Callable[[], None]) -> None:
        self.master = master
        self.abort_mb = abort_mb
        self.on_abort = on_abort
        self.peak_each = 0.0
        self.peak_sum = 0.0
        self.aborted = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def reset(self) -> None:
        self.peak_each = self.peak_sum = 0.0

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            sizes = [rss_mb(pid) for pid in worker_pids(self.master)]
            if not sizes:
                continue
            self.peak_each = max(self.peak_each, *sizes)
            self.peak_sum = max(self.peak_sum, sum(sizes))
            if sum(sizes) > self.abort_mb and not self.aborted:
                self.aborted = True
                self.on_abort()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


class NormalHits:
    """Two threads posting one ordinary hit after another until stopped."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(2)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        body = json.dumps({"id": "normal", "event": "view"}).encode()
        headers = {"Content-Type": "application/json"}
        while not self._stop.is_set():
            status, seconds = post(self.port, "/tick", headers, body)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            self.latencies.append(seconds)
            time.sleep(0.02)

    def close(self) -> dict[str, Any]:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        ordered = sorted(self.latencies) or [0.0]
        return {
            "statuses": self.statuses,
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 1),
            "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 1),
            "max_ms": round(ordered[-1] * 1000, 1),
        }


def start_web(code: Path, config: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "METRONOME_CONFIG": str(config), "PYTHONPATH": str(code)}
    env.pop("METRONOME_ES_URL", None)
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
        "--threads", "8", "--worker-class", "gthread", "--log-level", "critical",
        "metronome.web.wsgi:app",
    ]  # fmt: skip
    web = subprocess.Popen(command, cwd=code, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status, _ = post(port, "/tick", {"Content-Type": "application/json"}, b'{"id":"up"}')
        if status == 202:
            return web
        time.sleep(0.2)
    web.kill()
    raise SystemExit("the web process did not start")


def run(args: argparse.Namespace) -> dict[str, Any]:
    port = args.port
    with tempfile.TemporaryDirectory() as workdir:
        config = Path(workdir) / "metronome.yml"
        config.write_text(CONFIG % {"port": port, "spool": json.dumps(f"{workdir}/spool")})
        web = start_web(Path(args.code).resolve(), config, port)
        kinds = bombs()
        report: dict[str, Any] = {"code": str(Path(args.code).resolve()), "kinds": {}}
        watch = RssWatch(web.pid, args.abort_rss_mb, web.kill)
        try:
            time.sleep(1)
            report["baseline_rss_mb"] = [round(rss_mb(pid), 1) for pid in worker_pids(web.pid)]
            normal = NormalHits(port)
            time.sleep(3)
            report["after_normal_hits_rss_mb"] = round(watch.peak_each, 1)
            for kind, (path, headers, body) in kinds.items():
                if watch.aborted:
                    report["kinds"][kind] = "not run: the workers were killed"
                    continue
                watch.reset()
                sys.stderr.write(f"{kind}: {len(body)} bytes x {args.concurrency}\n")
                started = time.monotonic()
                sends = args.concurrency * args.rounds
                with ThreadPoolExecutor(args.concurrency) as pool:
                    answers = list(
                        pool.map(post, [port] * sends, [path] * sends, [headers] * sends,
                                 [body] * sends)
                    )  # fmt: skip
                statuses: dict[int, int] = {}
                for status, _ in answers:
                    statuses[status] = statuses.get(status, 0) + 1
                slowest = max(seconds for _, seconds in answers)
                report["kinds"][kind] = {
                    "body_bytes": len(body),
                    "statuses": statuses,
                    "slowest_answer_s": round(slowest, 2),
                    "seconds": round(time.monotonic() - started, 2),
                    "peak_rss_mb_one_worker": round(watch.peak_each, 1),
                    "peak_rss_mb_workers": round(watch.peak_sum, 1),
                    "aborted": watch.aborted,
                }
            report["normal_hits"] = normal.close()
            report["final_rss_mb"] = [round(rss_mb(pid), 1) for pid in worker_pids(web.pid)]
        finally:
            watch.close()
            web.terminate()
            web.wait(timeout=30)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", default=str(ROOT), help="the checkout whose code is served")
    parser.add_argument("--port", type=int, default=18_081)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=2, help="bodies per sender per kind")
    parser.add_argument("--abort-rss-mb", type=float, default=8192)
    json.dump(run(parser.parse_args()), sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
