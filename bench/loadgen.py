"""HTTP load generator for bench/ingest.py: keep-alive connections driven by one epoll loop.

It runs as its own process (``python -m bench.loadgen ...``) so that its CPU and memory can be
told apart from the server's, and prints one JSON object. A hand-written non-blocking loop
with pre-built requests costs far less CPU per request than ``http.client`` in threads (no
aiohttp or wrk is installed here), which matters on a 2-core machine shared with the server.

Modes:

- ``closed``: every connection sends its next request as soon as the previous one is
  answered; requests answered inside ``[warmup, warmup + duration]`` are measured (peak rate);
- ``paced``: open loop at ``--rate`` requests/s; latency is measured from the time each
  request was *scheduled*, so a stalled server cannot hide queueing (no coordinated omission);
- ``count``: send exactly ``--requests`` requests, closed loop, then stop (end-to-end runs).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import USER_AGENTS, batch_body, hit_body, percentiles
from bench.keepalive import Connection, Counts, Loop, Pacer, open_socket

DRAIN_SECONDS = 60.0  # after the last send, how long answers may take before giving up


def build_requests(host: str, port: int, kind: str, batch_size: int) -> list[bytes]:
    """Pre-built raw requests, cycled: the tracked id and the user agent vary."""
    requests = []
    count = 256 if kind == "single" else 8
    for number in range(count):
        single = kind == "single"
        body = hit_body(number) if single else batch_body(number * batch_size, batch_size)
        head = (
            f"POST /tick HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\n"
            f"User-Agent: {USER_AGENTS[number % len(USER_AGENTS)]}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        requests.append(head.encode() + body)
    return requests


@dataclass
class Tally(Counts):
    window_start: float
    window_end: float
    scheduled_at: list[float] = field(default_factory=list)  # per latency: when it was due
    send_lags: list[float] = field(default_factory=list)  # paced: sent this long after due
    completed: int = 0  # every answer, in the window or not
    in_window: int = 0
    accepted_hits: int = 0
    first_send: float | None = None
    last_answer: float | None = None


def _by_second(
    latencies: list[float], scheduled_at: list[float], start: float
) -> dict[int, list[float]]:
    seconds: dict[int, list[float]] = {}
    for latency, due in zip(latencies, scheduled_at, strict=True):
        seconds.setdefault(int(due - start), []).append(latency)
    return seconds


def timeline(
    latencies: list[float], scheduled_at: list[float], start: float
) -> list[dict[str, Any]]:
    """Per second of the schedule (from the window start): requests, p50, p99 and max."""
    rows = []
    for second, values in sorted(_by_second(latencies, scheduled_at, start).items()):
        figures = percentiles(values)
        row = {key: figures[key] for key in ("p50", "p99", "max")}
        rows.append({"s": second, "n": len(values), **row})
    return rows


def tail_by_second(
    latencies: list[float], scheduled_at: list[float], start: float
) -> dict[str, Any]:
    """Whether the slowest 1 % comes in bursts (a few stalled seconds) or is spread out.

    ``share_in_worst_tenth``: of the requests slower than the overall p99, the share that was
    due in the worst tenth of the seconds (ranked by how many such requests each holds). Near
    0.1 means queueing spread over the run; near 1 means a few stalls make the tail.
    """
    if len(latencies) < 100:
        return {}
    threshold = sorted(latencies)[int(0.99 * len(latencies))]
    seconds = _by_second(latencies, scheduled_at, start)
    slow_per_second = sorted(
        (sum(1 for value in values if value >= threshold), second)
        for second, values in seconds.items()
    )
    slow_per_second.reverse()
    total_slow = sum(count for count, _ in slow_per_second) or 1
    tenth = max(1, len(slow_per_second) // 10)
    return {
        "p99_ms": round(threshold * 1000, 3),
        "seconds": len(slow_per_second),
        "seconds_with_slow": sum(1 for count, _ in slow_per_second if count),
        "share_in_worst_tenth": round(sum(c for c, _ in slow_per_second[:tenth]) / total_slow, 3),
        "worst_seconds": [second for count, second in slow_per_second[:5] if count],
        # The p99 of a typical second: what the path costs when nothing stalls it.
        "median_second_p99_ms": round(
            statistics.median(percentiles(values)["p99"] or 0.0 for values in seconds.values()), 3
        ),
    }


class LoadGenerator(Loop[Connection]):
    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__()
        self.args = args
        self.requests = build_requests(args.host, args.port, args.kind, args.batch_size)
        self.next_request = 0
        self.idle: deque[Connection] = deque()
        self.backlog: deque[float] = deque()  # paced: due times waiting for a free connection
        self.sent = 0
        self.stop_sending_at = 0.0
        self.tally = Tally(0.0, 0.0)

    # --- connections ---------------------------------------------------------------------

    def _connect(self) -> Connection:
        return self._register(Connection(open_socket(self.args.host, self.args.port)))

    def _reconnect(self, connection: Connection) -> Connection:
        self._unregister(connection)
        self.tally.reconnects += 1
        fresh = self._connect()
        fresh.retried = connection.retried
        return fresh

    # --- sending and receiving -------------------------------------------------------------

    def _send(self, connection: Connection, scheduled: float, request: bytes | None = None) -> None:
        if request is None:
            request = self.requests[self.next_request % len(self.requests)]
            self.next_request += 1
            self.sent += 1
            connection.retried = False
        connection.request = request
        self._begin(connection, scheduled)
        if self.args.mode == "paced" and scheduled >= self.tally.window_start:
            self.tally.send_lags.append(time.perf_counter() - scheduled)
        if self.tally.first_send is None:
            self.tally.first_send = time.perf_counter()
        self._flush(connection)

    def _closed(self, connection: Connection) -> None:
        """The server closed the connection; resend once if it had not answered at all."""
        was_busy, request, scheduled = connection.busy, connection.request, connection.scheduled
        retry = connection.resendable
        fresh = self._reconnect(connection)
        if was_busy:
            self.in_flight -= 1
            if retry:
                fresh.retried = True
                self._send(fresh, scheduled, request)
                return
            self.tally.error("connection_closed")
            self.tally.completed += 1
        self._became_idle(fresh)

    def _answered(self, connection: Connection, status: int, body: bytes) -> None:
        now = self._finish(connection)
        tally = self.tally
        tally.completed += 1
        tally.last_answer = now
        tally.status(status)
        if self.args.kind == "batch" and status == 202:
            try:
                tally.accepted_hits += int(json.loads(body)["accepted"])
            except (ValueError, KeyError, TypeError):
                tally.error("unreadable_answer")
        elif status == 202:
            tally.accepted_hits += 1
        if tally.window_start <= now <= tally.window_end and (
            self.args.mode != "paced" or connection.scheduled >= tally.window_start
        ):
            tally.in_window += 1
            tally.latencies.append(now - connection.scheduled)
            tally.scheduled_at.append(connection.scheduled)

    def _became_idle(self, connection: Connection) -> None:
        now = time.perf_counter()
        mode = self.args.mode
        more = now < self.stop_sending_at if mode == "closed" else self.sent < self.args.requests
        if mode != "paced" and more:
            self._send(connection, now)
        elif mode == "paced" and self.backlog:
            self._send(connection, self.backlog.popleft())
        else:
            self.idle.append(connection)

    # --- the loop ------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        args = self.args
        connections = [self._connect() for _ in range(args.connections)]
        start = time.perf_counter()
        wall_offset = time.time() - start
        if args.mode == "count":
            self.stop_sending_at = float("inf")
            self.tally = Tally(start, float("inf"))
            give_up_at = start + args.timeout
        else:
            self.stop_sending_at = start + args.warmup + args.duration
            self.tally = Tally(start + args.warmup, self.stop_sending_at)
            give_up_at = self.stop_sending_at + DRAIN_SECONDS
        pacer = Pacer(start, args.rate) if args.mode == "paced" else None
        if pacer is not None:
            self.idle.extend(connections)
        else:
            for connection in connections:
                self._became_idle(connection)
        while True:
            now = time.perf_counter()
            timeout = self._pace(pacer, now) if pacer is not None else 0.5
            if self._finished(now):
                break
            if now > give_up_at:
                self.tally.error("timed_out_waiting")
                break
            self._poll(timeout)
        self._close_all()
        return self._report(start, wall_offset, pacer.scheduled if pacer else 0)

    def _pace(self, pacer: Pacer, now: float) -> float:
        """Queue the requests now due, start what free connections allow; the wait until next."""
        self.backlog.extend(pacer.due(now, self.stop_sending_at))
        while self.backlog and self.idle:
            self._send(self.idle.popleft(), self.backlog.popleft())
        if self.backlog:
            return 0.5  # every connection is busy: wait for an answer
        return max(0.0, min(0.5, pacer.next_due() - now))

    def _finished(self, now: float) -> bool:
        if self.in_flight or self.backlog:
            return False
        if self.args.mode == "count":
            return self.sent >= int(self.args.requests)
        return now >= self.stop_sending_at

    def _report(self, start: float, wall_offset: float, scheduled: int) -> dict[str, Any]:
        args, tally = self.args, self.tally
        usage = resource.getrusage(resource.RUSAGE_SELF)
        first = tally.first_send if tally.first_send is not None else start
        last = tally.last_answer if tally.last_answer is not None else first
        if args.mode == "count":
            elapsed = max(last - first, 1e-9)
            rate = tally.completed / elapsed
        else:
            elapsed = args.duration
            rate = tally.in_window / elapsed
        report: dict[str, Any] = {
            "mode": args.mode,
            "kind": args.kind,
            "connections": args.connections,
            "requests_sent": self.sent,
            "requests_answered": tally.completed,
            "measured_requests": tally.in_window,
            "measured_seconds": round(elapsed, 3),
            "requests_per_s": round(rate, 1),
            "statuses": tally.statuses,
            "errors": tally.errors,
            "reconnects": tally.reconnects,
            "accepted_hits": tally.accepted_hits,
            "latency_ms": percentiles(tally.latencies),
            "first_send_unix": round(first + wall_offset, 6),
            "last_answer_unix": round(last + wall_offset, 6),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }
        if args.mode == "paced":
            report["target_rate_per_s"] = args.rate
            report["scheduled_requests"] = scheduled
            report["window_start_unix"] = round(tally.window_start + wall_offset, 6)
            report["send_lag_ms"] = percentiles(tally.send_lags)
            by_due = (tally.latencies, tally.scheduled_at, tally.window_start)
            report["tail"] = tail_by_second(*by_due)
            if args.timeline:
                report["timeline"] = timeline(*by_due)
        return report


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="HTTP load generator for bench/ingest.py")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mode", choices=("closed", "paced", "count"), default="closed")
    parser.add_argument("--kind", choices=("single", "batch"), default="single")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rate", type=float, default=1000.0, help="paced: requests per second")
    parser.add_argument("--requests", type=int, default=1000, help="count: how many to send")
    parser.add_argument("--timeout", type=float, default=1800.0, help="count: give up after")
    parser.add_argument(
        "--timeline", action="store_true", help="paced: report p50/p99/max for every second"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    report = LoadGenerator(parse_args(argv)).run()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
