"""How long the embedded Elasticsearch takes to start, against another resolved release.

Starts a node from each Elasticsearch home in turn (``--home``, default ``var/es-dist``, and
``--baseline-home``, e.g. a copy of ``var/es-dist`` resolved by an older checkout), ``--runs``
times interleaved, each on a fresh data directory, with the JVM command ``metronome es start``
uses, and measures the wall time from spawning the JVM to the first green or yellow
``GET /_cluster/health``. Then it stops the node (SIGTERM) and measures how long it takes to
exit. Prints JSON: medians and spreads for both homes and the ratio of the medians
(home / baseline). A home's release is read from its server jar's name.

    python -m bench.es_startup --baseline-home /tmp/es-dist-8.14 --runs 5

Run it when nothing else is busy: start-up is mostly JIT compilation and class loading, which
take whatever CPU is free.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from metronome.es.data_version import home_version
from metronome.es.embedded import find_java, node_command

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_and_stop(home: Path, heap: str, timeout: float) -> tuple[float, float]:
    """Seconds to the first healthy answer, seconds to exit after SIGTERM."""
    with tempfile.TemporaryDirectory(prefix="es-startup-") as tmp:
        data = Path(tmp)
        (data / "tmp").mkdir()
        (data / "logs").mkdir()
        port = _free_port()
        command = node_command(find_java(), home, data, http_port=port, heap=heap)
        with open(data / "logs" / "console.log", "ab") as log:
            started = time.perf_counter()
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError((data / "logs" / "console.log").read_text()[-2000:])
                if time.perf_counter() - started > timeout:
                    raise RuntimeError(f"{home} did not start within {timeout:.0f}s")
                try:
                    health = requests.get(f"http://127.0.0.1:{port}/_cluster/health", timeout=2)
                    if health.ok and health.json().get("status") in ("green", "yellow"):
                        break
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            ready = time.perf_counter() - started
            stopping = time.perf_counter()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
            return ready, time.perf_counter() - stopping
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 2),
        "min_s": round(min(values), 2),
        "max_s": round(max(values), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "es-dist")
    parser.add_argument("--baseline-home", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--heap", default="768m", help="the heap the test suite's node uses")
    parser.add_argument("--timeout", type=float, default=180.0)
    options = parser.parse_args()
    homes = {"baseline": options.baseline_home.resolve(), "home": options.home.resolve()}
    ready: dict[str, list[float]] = {name: [] for name in homes}
    stop: dict[str, list[float]] = {name: [] for name in homes}
    for run in range(options.runs):
        for name, home in homes.items():
            up, down = start_and_stop(home, options.heap, options.timeout)
            ready[name].append(up)
            stop[name].append(down)
            print(
                f"run {run + 1}: {name} ready in {up:.2f}s, stopped in {down:.2f}s", file=sys.stderr
            )
    report: dict[str, object] = {"runs": options.runs, "heap": options.heap, "cpus": os.cpu_count()}
    for name, home in homes.items():
        report[name] = {
            "home": str(home),
            "release": home_version(home),
            "ready": _summary(ready[name]),
            "stop": _summary(stop[name]),
        }
    baseline = statistics.median(ready["baseline"])
    report["ready_ratio_home_to_baseline"] = round(statistics.median(ready["home"]) / baseline, 2)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
