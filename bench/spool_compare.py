"""Choose the spool mechanism on evidence: durable appends of ~300-byte records.

Three mechanisms, each append fsynced (fdatasync) before it returns:

- ``spoolwriter``: ``metronome.spool.writer.SpoolWriter`` (segment log, group commit);
- ``sqlite_wal``: a minimal SQLite spool (WAL, synchronous=FULL, one INSERT per append in its
  own transaction, busy_timeout, one connection per thread; every process shares one file);
- ``write_fdatasync`` (the baseline): ``os.write`` + ``os.fdatasync`` per append under a lock,
  no group commit, one file per process (as SpoolWriter has one segment per process).

Each runs with N threads in one process (default 1, 8, 32) and with 2 processes x T threads
(default T = 1 and 8; 2 x 8 is how ``metronome serve`` runs gunicorn). Figures are ratios
against the baseline of the same scenario. Prints one JSON object.

    .venv/bin/python bench/spool_compare.py --duration 10
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier as ProcessBarrier
from pathlib import Path
from typing import Any, Protocol

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import filesystem_of, flatten, machine, percentiles, print_report, ratio
from bench.options import add_subset_option, int_list
from metronome.config import SpoolSettings
from metronome.spool.writer import SpoolWriter

BASELINE = "write_fdatasync"
MECHANISMS = (BASELINE, "spoolwriter", "sqlite_wal")
RECORD_BYTES = 300
SQLITE_BUSY_TIMEOUT_MS = 30_000
STALL_SECONDS = 0.1

# --- counting fsyncs -----------------------------------------------------------------------
# SpoolWriter and the baseline call os.fdatasync / os.fsync from Python, so wrapping them
# counts every sync (segment data and directory). SQLite syncs from C: not counted (null).


class SyncCounter:
    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.installed = False

    def install(self) -> None:
        if self.installed:
            return
        real_fdatasync, real_fsync = os.fdatasync, os.fsync

        def counted_fdatasync(fd: Any) -> None:
            with self.lock:
                self.count += 1
            real_fdatasync(fd)

        def counted_fsync(fd: Any) -> None:
            with self.lock:
                self.count += 1
            real_fsync(fd)

        os.fdatasync = counted_fdatasync
        os.fsync = counted_fsync
        self.installed = True

    def value(self) -> int:
        with self.lock:
            return self.count


SYNCS = SyncCounter()


# --- the mechanisms ------------------------------------------------------------------------


class Spool(Protocol):
    """One per process; ``appender()`` is called once in each thread."""

    def appender(self) -> Callable[[bytes], None]: ...

    def close(self) -> None: ...


class BaselineSpool:
    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"baseline-{os.getpid()}.log"
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self.lock = threading.Lock()

    def appender(self) -> Callable[[bytes], None]:
        fd, lock = self.fd, self.lock

        def append(record: bytes) -> None:
            with lock:
                view = memoryview(record)
                while view:
                    view = view[os.write(fd, view) :]
                os.fdatasync(fd)

        return append

    def close(self) -> None:
        os.close(self.fd)


class SpoolWriterSpool:
    def __init__(self, directory: Path) -> None:
        defaults = SpoolSettings()
        self.writer = SpoolWriter(directory, defaults.segment_bytes, max_bytes=1 << 40, fsync=True)

    def appender(self) -> Callable[[bytes], None]:
        writer = self.writer

        def append(record: bytes) -> None:
            writer.append([record])

        return append

    def close(self) -> None:
        self.writer.close()


def _sqlite_path(directory: Path) -> Path:
    return directory / "spool.sqlite"


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(
        path, isolation_level=None, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=False
    )
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return connection


def prepare_sqlite(directory: Path) -> None:
    """Create the table once (and switch the file to WAL) before the writers start."""
    directory.mkdir(parents=True, exist_ok=True)
    connection = _sqlite_connect(_sqlite_path(directory))
    connection.execute(
        "CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB)"
    )
    connection.close()


class SqliteSpool:
    def __init__(self, directory: Path) -> None:
        self.path = _sqlite_path(directory)
        self.connections: list[sqlite3.Connection] = []
        self.lock = threading.Lock()

    def appender(self) -> Callable[[bytes], None]:
        connection = _sqlite_connect(self.path)  # one connection per thread
        with self.lock:
            self.connections.append(connection)

        def append(record: bytes) -> None:
            # Autocommit: the INSERT is its own transaction, committed (and synced) at once.
            connection.execute("INSERT INTO spool (payload) VALUES (?)", (record,))

        return append

    def close(self) -> None:
        for connection in self.connections:
            connection.close()


def open_spool(mechanism: str, directory: Path) -> Spool:
    if mechanism == BASELINE:
        return BaselineSpool(directory)
    if mechanism == "spoolwriter":
        return SpoolWriterSpool(directory)
    if mechanism == "sqlite_wal":
        return SqliteSpool(directory)
    raise ValueError(f"unknown mechanism {mechanism}")


# --- one process's share of a run ------------------------------------------------------------


@dataclass(frozen=True)
class Plan:
    mechanism: str
    directory: str
    threads: int
    duration: float
    warmup: float
    record_bytes: int


def _record_template(size: int) -> bytes:
    body = {
        "stream": "hits",
        "id": "0" * 32,
        "doc": {"id": "dataset-42", "event": "view", "referrer": "https://example.org/x"},
    }
    text = json.dumps(body, separators=(",", ":"))
    return (text + " " * max(0, size - len(text))).encode()[:size]


def run_process_share(plan: Plan, start_barrier: ProcessBarrier | None = None) -> dict[str, Any]:
    """Run ``plan.threads`` appending threads in this process; counts and latencies.

    Only appends that start after the warm-up are measured; fsyncs are counted from the end of
    the warm-up until every thread has finished its last append.
    """
    SYNCS.install()
    spool = open_spool(plan.mechanism, Path(plan.directory))
    template = _record_template(plan.record_bytes)
    prefix = f"{os.getpid():08d}".encode()
    latencies: list[list[float]] = [[] for _ in range(plan.threads)]
    completed = [0] * plan.threads  # appends that started after the warm-up and ended in time
    clock = {"start": 0.0}
    started = threading.Event()
    errors: list[str] = []
    appenders = [spool.appender() for _ in range(plan.threads)]

    def start_all() -> None:
        if start_barrier is not None:
            start_barrier.wait()  # every process starts at once
        clock["start"] = time.monotonic()
        started.set()

    barrier = threading.Barrier(plan.threads, action=start_all)

    def work(index: int) -> None:
        append = appenders[index]
        mine = latencies[index]
        tag = prefix + f"{index:04d}".encode()
        counter = 0
        barrier.wait()
        measure_from = clock["start"] + plan.warmup
        deadline = measure_from + plan.duration
        try:
            while True:
                begin = time.perf_counter()
                now = time.monotonic()
                if now >= deadline:
                    break
                counter += 1
                record = tag + f"{counter:012d}".encode() + template[len(tag) + 12 :]
                append(record)
                if now >= measure_from:
                    mine.append(time.perf_counter() - begin)
                    if time.monotonic() <= deadline:
                        completed[index] += 1
        except Exception as error:  # reported, not raised: the other threads finish
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(plan.threads)]
    for thread in threads:
        thread.start()
    started.wait()
    time.sleep(max(0.0, clock["start"] + plan.warmup - time.monotonic()))
    syncs_before = SYNCS.value()
    for thread in threads:
        thread.join()
    syncs = SYNCS.value() - syncs_before
    spool.close()
    return {
        "latencies": flatten(latencies),
        "completed": sum(completed),
        "syncs": syncs,
        "errors": errors,
    }


def _child(plan: Plan, barrier: ProcessBarrier, results: Any) -> None:
    try:
        results.put(run_process_share(plan, barrier))
    except BaseException as error:
        results.put({"fatal": f"{type(error).__name__}: {error}"})
        raise


# --- a scenario: several processes, or threads in this one -------------------------------


def run_cell(
    mechanism: str, processes: int, threads: int, args: argparse.Namespace, base: Path
) -> dict[str, Any]:
    directory = base / f"{mechanism}-{processes}p{threads}t"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    if mechanism == "sqlite_wal":
        prepare_sqlite(directory)
    plan = Plan(mechanism, str(directory), threads, args.duration, args.warmup, args.record_bytes)
    if processes == 1:
        shares = [run_process_share(plan)]
    else:
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(processes)
        queue = context.Queue()
        children = [
            context.Process(target=_child, args=(plan, barrier, queue)) for _ in range(processes)
        ]
        for child in children:
            child.start()
        try:
            timeout = args.duration + args.warmup + 120
            shares = [queue.get(timeout=timeout) for _ in children]
        finally:
            for child in children:
                child.join(timeout=10)
                if child.is_alive():
                    child.terminate()
                    child.join()
        fatal = [share["fatal"] for share in shares if "fatal" in share]
        if fatal:
            raise RuntimeError(f"{mechanism} {processes}p x {threads}t failed: {fatal}")
    shutil.rmtree(directory, ignore_errors=True)
    latencies = flatten(share["latencies"] for share in shares)
    appends = len(latencies)
    completed = sum(int(share["completed"]) for share in shares)
    syncs = sum(int(share["syncs"]) for share in shares)
    figures = percentiles(latencies)
    counted = mechanism != "sqlite_wal"  # SQLite syncs inside C, out of our sight
    return {
        "appends": appends,
        # Appends finished inside the window: a straggler's late append does not stretch it.
        "appends_per_s": round(completed / args.duration, 1),
        "latency_ms": {
            "p50": figures["p50"],
            "p99": figures["p99"],
            "p999": figures["p999"],
            "max": figures["max"],
        },
        # Closed-loop percentiles per append hide a starved thread (it adds one slow sample
        # while the others add thousands); count the stalls separately.
        "appends_over_100ms": sum(1 for latency in latencies if latency > STALL_SECONDS),
        "fsyncs_per_append": round(syncs / appends, 4) if counted and appends else None,
        "errors": flatten(share["errors"] for share in shares),
    }


def scenarios(args: argparse.Namespace) -> list[tuple[str, int, int]]:
    cells = [(f"{t}_threads", 1, t) for t in args.threads]
    cells += [
        (f"{args.processes}_processes_x_{t}_threads", args.processes, t)
        for t in args.process_threads
    ]
    return cells


def compare(args: argparse.Namespace) -> dict[str, Any]:
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="metronome-spool-bench-"))
    base.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    try:
        for name, processes, threads in scenarios(args):
            cell: dict[str, Any] = {}
            for mechanism in args.mechanisms:
                print(f"spool_compare: {name} {mechanism}...", file=sys.stderr, flush=True)
                cell[mechanism] = run_cell(mechanism, processes, threads, args, base)
            baseline = cell.get(BASELINE)
            if baseline is not None:
                for mechanism, figures in cell.items():
                    if mechanism == BASELINE:
                        continue
                    figures["vs_baseline"] = {
                        "appends_per_s": ratio(figures["appends_per_s"], baseline["appends_per_s"]),
                        "latency_p50": ratio(
                            figures["latency_ms"]["p50"], baseline["latency_ms"]["p50"]
                        ),
                        "latency_p99": ratio(
                            figures["latency_ms"]["p99"], baseline["latency_ms"]["p99"]
                        ),
                        "fsyncs_per_append": ratio(
                            figures["fsyncs_per_append"], baseline["fsyncs_per_append"]
                        ),
                    }
            cell["fastest"] = max(args.mechanisms, key=lambda m: float(cell[m]["appends_per_s"]))
            results[name] = cell
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return {
        "benchmark": "spool_compare",
        "short_run": args.duration < 30,
        "machine": {
            **machine(),
            "filesystem": filesystem_of(base),
            "directory": str(base),
            "python": sys.version.split()[0],
            "sqlite": sqlite3.sqlite_version,
        },
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "record_bytes": args.record_bytes,
            "threads": args.threads,
            "processes": args.processes,
            "process_threads": args.process_threads,
        },
        "baseline": (
            f"{BASELINE}: os.write + os.fdatasync per append under a lock (no group commit), "
            "one file per process"
        ),
        "ratios": (
            "vs_baseline = mechanism / baseline of the same scenario: appends_per_s higher is "
            "better; latency and fsyncs_per_append lower is better"
        ),
        "scenarios": results,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    parser.add_argument("--threads", type=int_list, default=[1, 8, 32], help="e.g. 1,8,32")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument(
        "--process-threads", type=int_list, default=[1, 8], help="threads per process, e.g. 1,8"
    )
    parser.add_argument("--record-bytes", type=int, default=RECORD_BYTES)
    add_subset_option(parser, "mechanisms", MECHANISMS)
    parser.add_argument(
        "--dir", help="where to write (default: a temporary directory; must not be tmpfs)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return print_report(compare(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
