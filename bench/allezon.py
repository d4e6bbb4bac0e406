"""The Allezon benchmark (issue 5): user tags, profiles and aggregates at the spec's rates,
latency from a separate open-loop load generator, every answer compared with the reference model.

Everything runs on this machine, in this run:

1. an embedded Elasticsearch (temporary data directory, free port, 1g heap) unless ``--es-url``,
   warmed up with tag documents indexed and queried under a throw-away prefix;
2. optionally (``--baseline-duration``, default 60 s) the baseline: the same tags, paced the same
   way, sent to a bare Flask app (``bench/bare_app.py``: append the body, answer 202) on the
   same gunicorn settings, for the latency the HTTP stack alone costs at that rate;
3. Metronome's web process (gunicorn as ``metronome serve`` starts it: gthread, 2 workers x 8
   threads) and the shipper, with a temporary spool and a bench index prefix; the default
   configuration's ``allezon`` site (``write_auth: none``) takes the tags;
4. the main run: for ``--warmup`` + ``--duration`` seconds a load-generator process (this file
   with ``--loadgen``) sends, open loop, user tags at ``--tag-rate`` (one tag per
   ``POST /user_tags``, made by ``bench/allezon_model.py``, 1 ms apart in logical time),
   profiles at a tenth of it and aggregates at a thousandth. Latency counts from when a request
   was *due*, so queueing is not hidden; only requests due after the warm-up are measured;
5. correctness: every profile and aggregate answer is compared with the reference model of the
   tags that got 204. A query only covers tags whose 204 came at least 10 s (profiles) or 60 s
   (aggregates) before it was sent -- the spec's allowances -- so every answer has exactly one
   right value. Wrong answers that only lack tags are told apart (``mismatched_stale``), with
   how long before the query those tags got their 204; ``_count`` sampled every 0.5 s gives a
   lower bound of the same lag. Tags whose request got no answer may be stored all the same:
   answers that differ from the model only by such tags are counted apart
   (``mismatched_unknown_outcome``, not errors; ``Uncertain``). After the shipper has drained
   (every tag Metronome counted as accepted is searchable), a final pass asks more profiles
   and aggregates over the whole data (the newest tags included), each also sent straight to
   Elasticsearch as the request Metronome builds, for Metronome's overhead over its store;
6. ``--search``: when the main run misses a target, a short bisection over the tag rate finds
   the highest one that still meets them.

Prints one JSON object; progress goes to stderr. Every process started here is stopped on exit,
Ctrl-C included.

    .venv/bin/python bench/allezon.py --search      # full run: ~8 minutes, ~14 with a search
    .venv/bin/python bench/allezon.py --duration 10 --warmup 3 --tag-rate 300 \\
        --baseline-duration 0 --final-profiles 40 --final-aggregates 20     # a quick look
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import json
import math
import random
import resource
import sys
import threading
import time
import uuid
from array import array
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from elasticsearch import Elasticsearch

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import keepalive
from bench._common import BenchError, percentiles, ratio
from bench.allezon_model import ReferenceModel, Tag, TagShape, format_range, generate_tags
from bench.elastic import count, create_action, delete_indices, warm_up_elasticsearch
from bench.limits import CpuUse, shared_cores_note
from bench.options import add_run_options, bench_parser
from bench.server_bench import ServerBench, run_bench
from metronome.access.opskeys import metrics_token_path
from metronome.compat.allezon.builder import ANSWER_PARTS, aggregates_body, indices_for
from metronome.compat.allezon.model import AggregatesQuery, ProfileQuery
from metronome.compat.allezon.profiles import Search, fetch_profile
from metronome.compat.allezon.tag import tag_document
from metronome.config import Settings
from metronome.es.naming import index_for, stream_pattern
from metronome.es.templates import install_templates, remove_templates

TAG_P99_TARGET_MS = 200.0
PROFILE_P99_TARGET_MS = 200.0
AGGREGATE_P99_TARGET_MS = 1000.0
MATCH_TARGET_PCT = 100.0
PROFILE_LAG_S = 10.0  # the spec: a profile reflects tags 10 s after their 204
AGGREGATE_LAG_S = 60.0  # the spec: an aggregate is right 1 minute after the tags' 204
SITE = Settings().allezon.site  # the site the default configuration stores tags in
MINUTE_MS = 60_000
WARMUP_CHUNK = 250  # tags per warm-up bulk: about what the shipper sends at 1000 tags/s
WARMUP_QUERY_SECONDS = 30.0  # then a profile and an aggregate per warm-up tag, this long
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DRAIN_SECONDS = 60.0  # after the last request was due, how long answers may take
SETTLE_S = 2.0  # the service's accepted count unchanged this long: nothing is still running
ACTIONS = ("VIEW", "BUY")
FILTERS = ("origin", "brand_id", "category_id")
MISMATCH_EXAMPLES = 5
SINGLE_THREADED = ("shipper", "loadgen", "bench_driver")


def say(message: str) -> None:
    print(f"allezon: {message}", file=sys.stderr, flush=True)


def to_ms(moment: datetime) -> int:
    return (moment - EPOCH) // timedelta(milliseconds=1)


def from_ms(millis: int) -> datetime:
    return EPOCH + timedelta(milliseconds=millis)


def tag_ms(tag: Tag) -> int:
    return to_ms(datetime.fromisoformat(tag["time"]))


def time_range(start_ms: int, end_ms: int, timespec: str = "milliseconds") -> str:
    return format_range(from_ms(start_ms), from_ms(end_ms), timespec)


def profile_url(cookie: str, start_ms: int, end_ms: int, limit: int) -> str:
    return (
        f"/user_profiles/{quote(cookie, safe='')}"
        f"?time_range={time_range(start_ms, end_ms)}&limit={limit}"
    )


def aggregates_url(
    start_ms: int,
    end_ms: int,
    *,
    action: str,
    filters: list[tuple[str, str]],
    aggregates: list[str],
    timespec: str = "milliseconds",
) -> str:
    parts = [f"time_range={time_range(start_ms, end_ms, timespec)}", f"action={action}"]
    parts += [f"{name}={quote(value, safe='')}" for name, value in filters]
    parts += [f"aggregates={name}" for name in aggregates]
    return "/aggregates?" + "&".join(parts)


# --- the load generator (its own process: python -m bench.allezon --loadgen SPEC) ----------


# The files of one load-generator run, in its folder: it reads the tags (one per line, exactly
# the body to send) and writes every profile / aggregate request and its answer, the HTTP status
# of every tag sent (array of uint16, 0 = none), when each tag got its good answer (unix time,
# array of double), and per tag the attempts whose outcome is unknown because no answer came
# (array of uint8: a resend after the connection closed before any answer, or no answer at
# all; such an attempt may have been stored).
TAGS_FILE = "tags.ndjson"
ANSWERS_FILE = "answers.bin"
STATUS_FILE = "statuses.bin"
ACK_FILE = "acked.bin"
UNSURE_FILE = "unsure.bin"
STREAMS = ("tags", "profiles", "aggregates")


@dataclass
class LoadSpec:
    """What one load-generator run does; written as JSON by the driver."""

    port: int
    folder: str  # where its files are (TAGS_FILE ...)
    rates: dict[str, float]  # requests per second of each stream (STREAMS; none: not sent)
    connections: dict[str, int]  # of each stream
    duration: float
    warmup: float
    seed: int
    profile_limit: int = 200
    profile_range_s: float = 300.0
    tag_path: str = "/user_tags"
    tag_status: int = 204  # what a stored tag answers (the bare baseline answers 202)

    def file(self, name: str) -> str:
        return str(Path(self.folder) / name)


@dataclass(eq=False)
class Stream(keepalive.Counts):
    """One endpoint's open-loop schedule, its connections and its figures."""

    kind: str  # one of STREAMS
    rate: float
    connections: int
    expect: int  # the status of a good answer
    pacer: keepalive.Pacer | None = None
    idle: deque[Conn] = field(default_factory=deque)
    backlog: deque[float] = field(default_factory=deque)  # due times waiting for a connection
    window_scheduled: int = 0
    window_ok: int = 0
    sent: int = 0
    retries: int = 0
    max_backlog: int = 0

    def report(self, duration: float) -> dict[str, Any]:
        scheduled = self.pacer.scheduled if self.pacer is not None else 0
        return {
            "target_rate_per_s": self.rate,
            "achieved_rate_per_s": round(self.window_ok / duration, 1) if duration else None,
            "connections": self.connections,
            "scheduled": scheduled,
            "measured_requests": self.window_scheduled,
            "sent": self.sent,
            "answered": sum(self.statuses.values()),
            "statuses": self.statuses,
            "errors": self.errors,
            "error_count": sum(self.errors.values()),
            "latency_ms": percentiles(self.latencies),
            "max_backlog": self.max_backlog,
            "retries": self.retries,
            "reconnects": self.reconnects,
        }


@dataclass(eq=False)
class Conn(keepalive.Connection):
    stream: Stream = field(kw_only=True)
    meta: Any = None  # a tag's index, or the parameters of a query
    sent_at: float = 0.0
    last_used: float = 0.0


class AllezonLoad(keepalive.Loop[Conn]):
    """Three paced streams over keep-alive connections, driven by one epoll loop.

    Tags are sent in order; each answer *settles* its tag. ``watermark(t)`` is the index of the
    first tag not settled by time ``t`` (sent or not): every tag before it has its answer, so a
    query whose range ends at that tag's time covers only tags whose outcome was known by then.
    """

    def __init__(self, spec: LoadSpec) -> None:
        super().__init__()
        self.spec = spec
        self.rng = random.Random(spec.seed + 1)
        self.requests: list[bytes] = []
        self.times = array("q")
        self.cookies: list[str] = []
        self.values: list[tuple[str, str, str]] = []  # origin, brand_id, category_id as text
        self._load_tags()
        count_ = len(self.requests)
        self.statuses = array("H", bytes(2 * count_))
        self.acked = array("d", bytes(8 * count_))  # unix time of the good answer, 0 = none
        self.unsure = array("B", bytes(count_))  # attempts without an answer, per tag
        self.settled = bytearray(count_)
        self.prefix = 0  # tags [0, prefix) are settled
        self.history_t: list[float] = []  # when the settled prefix grew ...
        self.history_k: list[int] = []  # ... and to what
        self.next_tag = 0
        self.answers = open(spec.file(ANSWERS_FILE), "wb", buffering=1 << 20)  # noqa: SIM115
        self.window_start = self.stop_at = 0.0
        self.wall_offset = 0.0
        self.streams = [
            Stream(kind, rate, spec.connections[kind], spec.tag_status if kind == "tags" else 200)
            for kind, rate in spec.rates.items()
            if rate > 0
        ]

    def _load_tags(self) -> None:
        spec = self.spec
        head = f"POST {spec.tag_path} HTTP/1.1\r\nHost: 127.0.0.1:{spec.port}\r\n"
        head += "Content-Type: application/json\r\nContent-Length: "
        with open(spec.file(TAGS_FILE), "rb") as lines:
            for line in lines:
                body = line.rstrip(b"\n")
                tag = json.loads(body)
                info = tag["product_info"]
                self.requests.append(f"{head}{len(body)}\r\n\r\n".encode() + body)
                self.times.append(tag_ms(tag))
                self.cookies.append(tag["cookie"])
                self.values.append((tag["origin"], str(info["brand_id"]), str(info["category_id"])))

    # --- which tags are settled ----------------------------------------------------------

    def _settle(self, index: int, status: int, now: float) -> None:
        self.statuses[index] = status
        if status == 0:  # no answer: the server may have stored it all the same
            self._unsure(index)
        if status == self.spec.tag_status:
            self.acked[index] = now + self.wall_offset
        self.settled[index] = 1
        if index != self.prefix:
            return
        prefix = self.prefix
        while prefix < len(self.settled) and self.settled[prefix]:
            prefix += 1
        self.prefix = prefix
        self.history_t.append(now)
        self.history_k.append(prefix)

    def _unsure(self, index: int) -> None:
        self.unsure[index] = min(255, self.unsure[index] + 1)

    def watermark(self, moment: float) -> int:
        at = bisect.bisect_right(self.history_t, moment)
        return self.history_k[at - 1] if at else 0

    def _time_of(self, index: int) -> int:
        """The logical time (ms) a range may end at to hold only tags before ``index``."""
        if index < len(self.times):
            return int(self.times[index])
        return int(self.times[-1]) + 1

    # --- the requests --------------------------------------------------------------------

    def _query(self, path: str) -> bytes:
        host = f"127.0.0.1:{self.spec.port}"
        return f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n\r\n".encode()

    def _pick(self, below: int, span: int) -> int:
        """A tag among the ``span`` before ``below`` (any tag sent yet when none is settled)."""
        high = below if below > 0 else max(1, self.next_tag)
        return self.rng.randrange(max(0, high - span), high)

    def _build(self, stream: Stream, now: float) -> tuple[bytes, Any] | None:
        spec, rng = self.spec, self.rng
        if stream.kind == "tags":
            if self.next_tag >= len(self.requests):
                return None
            self.next_tag += 1
            return self.requests[self.next_tag - 1], self.next_tag - 1
        if stream.kind == "profiles":
            settled = self.watermark(now - PROFILE_LAG_S)
            range_ms = max(1000, int(spec.profile_range_s * 1000))
            cookie = self.cookies[self._pick(settled, range_ms)]  # 1 tag per logical ms
            end = self._time_of(settled)
            start = end - rng.randint(1000, range_ms)
            path = profile_url(cookie, start, end, spec.profile_limit)
            meta = {"cookie": cookie, "start_ms": start, "end_ms": end, "limit": spec.profile_limit}
            return self._query(path), {"kind": "profile", "url": path, "params": meta}
        settled = self.watermark(now - AGGREGATE_LAG_S)
        end = self._time_of(settled) // MINUTE_MS * MINUTE_MS
        minutes = rng.randint(1, 10)
        start = end - minutes * MINUTE_MS
        values = self.values[self._pick(settled, minutes * MINUTE_MS)]
        filters = [(name, v) for name, v in zip(FILTERS, values, strict=True) if rng.random() < 0.5]
        action = rng.choice(ACTIONS)
        aggregates = rng.choice((["COUNT", "SUM_PRICE"], ["SUM_PRICE", "COUNT"]))
        timespec = rng.choice(("milliseconds", "seconds"))
        path = aggregates_url(
            start, end, action=action, filters=filters, aggregates=aggregates, timespec=timespec
        )
        meta = {
            "start_ms": start,
            "end_ms": end,
            "action": action,
            "filters": filters,
            "aggregates": aggregates,
        }
        return self._query(path), {"kind": "aggregate", "url": path, "params": meta}

    # --- connections ---------------------------------------------------------------------

    def _connect(self, stream: Stream) -> Conn:
        return self._register(
            Conn(keepalive.open_socket("127.0.0.1", self.spec.port), stream=stream)
        )

    def _reconnect(self, conn: Conn) -> Conn:
        self._unregister(conn)
        conn.sock = keepalive.open_socket("127.0.0.1", self.spec.port)
        conn.inbox = bytearray()
        conn.stream.reconnects += 1
        return self._register(conn)

    # --- sending and receiving -----------------------------------------------------------

    def _send(self, conn: Conn, scheduled: float, again: bool = False) -> None:
        now = time.perf_counter()
        stream = conn.stream
        if not again:
            if conn.last_used and now - conn.last_used > keepalive.KEEPALIVE_REUSE_S:
                self._reconnect(conn)  # gunicorn may be closing it: never race its keep-alive
            built = self._build(stream, now)
            if built is None:  # every tag prepared was sent
                stream.error("no_tag_left")
                stream.idle.append(conn)
                return
            conn.request, conn.meta = built
            conn.retried = False
            stream.sent += 1
        conn.sent_at = now
        self._begin(conn, scheduled)
        self._flush(conn)

    def _unreadable(self, conn: Conn, error: keepalive.ProtocolError) -> None:
        self._failed(conn, "bad_response")
        self._reconnect(conn)
        self._became_idle(conn)

    def _closed(self, conn: Conn) -> None:
        """The server closed the connection: resend once if nothing of the answer came."""
        busy, retry = conn.busy, conn.resendable
        self._reconnect(conn)
        if not busy:
            return
        self._finish(conn)
        if retry:
            conn.retried = True
            conn.stream.retries += 1
            if conn.stream.kind == "tags":  # the first attempt may have been stored
                self._unsure(int(conn.meta))
            self._send(conn, conn.scheduled, again=True)
            return
        self._failed(conn, "connection_closed", counted=True)
        self._became_idle(conn)

    def _failed(self, conn: Conn, kind: str, counted: bool = False) -> None:
        """A request that got no answer: an error, recorded like an answer with status 0."""
        if not counted:
            self._finish(conn)
        conn.stream.error(kind)
        self._record(conn, 0, b"", time.perf_counter(), False)

    def _answered(self, conn: Conn, status: int, body: bytes) -> None:
        now = self._finish(conn)
        stream = conn.stream
        key = stream.status(status)
        in_window = self.window_start <= conn.scheduled < self.stop_at
        if in_window:
            stream.latencies.append(now - conn.scheduled)
            if status == stream.expect:
                stream.window_ok += 1
        if status != stream.expect:
            stream.error(key)
        self._record(conn, status, body, now, in_window)

    def _record(self, conn: Conn, status: int, body: bytes, now: float, in_window: bool) -> None:
        if conn.stream.kind == "tags":
            self._settle(int(conn.meta), status, now)
            return
        header = {
            **conn.meta,
            "status": status,
            "latency_ms": round((now - conn.scheduled) * 1000, 3),
            "in_window": in_window,
            "sent_unix": round(conn.sent_at + self.wall_offset, 4),
            "len": len(body),
        }
        self.answers.write(json.dumps(header).encode() + b"\n" + body + b"\n")

    def _became_idle(self, conn: Conn) -> None:
        conn.last_used = time.perf_counter()
        stream = conn.stream
        if stream.backlog:
            self._send(conn, stream.backlog.popleft())
        else:
            stream.idle.append(conn)

    # --- the loop ------------------------------------------------------------------------

    def _pace(self, stream: Stream, now: float) -> float:
        assert stream.pacer is not None
        due = stream.pacer.due(now, self.stop_at)
        if due:
            stream.window_scheduled += sum(1 for when in due if when >= self.window_start)
            stream.backlog.extend(due)
        while stream.backlog and stream.idle:
            self._send(stream.idle.pop(), stream.backlog.popleft())  # LIFO: warm ones
        stream.max_backlog = max(stream.max_backlog, len(stream.backlog))
        if stream.backlog or now >= self.stop_at:
            return 0.5  # busy connections, or only answers to wait for: an answer wakes the loop
        return max(0.0, min(0.5, stream.pacer.next_due() - now))

    def _give_up(self) -> None:
        for key in list(self.selector.get_map().values()):
            conn = key.data
            if isinstance(conn, Conn) and conn.busy:
                self._failed(conn, "timed_out")
        for stream in self.streams:
            for _ in range(len(stream.backlog)):
                stream.error("never_sent")
            stream.backlog.clear()

    def run(self) -> dict[str, Any]:
        spec = self.spec
        for stream in self.streams:
            stream.idle.extend(self._connect(stream) for _ in range(stream.connections))
        print("ready", flush=True)  # the driver starts measuring resources now
        usage = resource.getrusage(resource.RUSAGE_SELF)
        cpu_before = usage.ru_utime + usage.ru_stime
        start = time.perf_counter()
        self.wall_offset = time.time() - start
        self.window_start = start + spec.warmup
        self.stop_at = self.window_start + spec.duration
        for stream in self.streams:
            stream.pacer = keepalive.Pacer(start, stream.rate)
        give_up_at = self.stop_at + DRAIN_SECONDS
        while True:
            now = time.perf_counter()
            timeout = min(self._pace(stream, now) for stream in self.streams)
            idle = not self.in_flight and not any(stream.backlog for stream in self.streams)
            if now >= self.stop_at and idle:
                break
            if now > give_up_at:
                self._give_up()
                break
            self._poll(timeout)
        finished = time.perf_counter()
        self._close_all()
        self.answers.close()
        for name, figures in (
            (STATUS_FILE, self.statuses),
            (ACK_FILE, self.acked),
            (UNSURE_FILE, self.unsure),
        ):
            with open(spec.file(name), "wb") as out:
                figures[: self.next_tag].tofile(out)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "streams": {stream.kind: stream.report(spec.duration) for stream in self.streams},
            "tags_prepared": len(self.requests),
            "tags_sent": self.next_tag,
            "load_seconds": round(finished - start, 3),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime - cpu_before, 3),
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        }


def loadgen_main(spec_file: str) -> int:
    spec = LoadSpec(**json.loads(Path(spec_file).read_text()))
    report = AllezonLoad(spec).run()
    print(json.dumps(report), flush=True)
    return 0


# --- the expected answers ------------------------------------------------------------------


class Expected:
    """The reference model's answers, indexed so that checking 30,000 answers takes seconds.

    ``ReferenceModel`` scans a cookie's every tag per profile and a minute's every tag per
    aggregate (minutes of CPU for a 5-minute run); this holds the same tags by (cookie, action)
    in time order and (minute, action, filters) sums. ``check_answers`` compares a sample of its
    answers with ``ReferenceModel``'s (``crosscheck`` in the report) so that both agree.
    """

    def __init__(self, tags: Iterable[Tag]) -> None:
        self.by_cookie: dict[tuple[str, str], tuple[list[int], list[Tag]]] = {}
        self.cells: dict[tuple[int, str, str | None, str | None, str | None], list[int]] = {}
        self.count = 0
        for tag in tags:
            self.add(tag)

    def add(self, tag: Tag) -> None:
        millis = tag_ms(tag)
        action = tag["action"]
        times, items = self.by_cookie.setdefault((tag["cookie"], action), ([], []))
        at = bisect.bisect_right(times, millis)
        times.insert(at, millis)
        items.insert(at, tag)
        info = tag["product_info"]
        values = (tag["origin"], str(info["brand_id"]), str(info["category_id"]))
        minute = millis - millis % MINUTE_MS
        price = int(info["price"])
        for mask in range(8):
            key = (
                minute,
                action,
                values[0] if mask & 1 else None,
                values[1] if mask & 2 else None,
                values[2] if mask & 4 else None,
            )
            cell = self.cells.get(key)
            if cell is None:
                self.cells[key] = [1, price]
            else:
                cell[0] += 1
                cell[1] += price
        self.count += 1

    def profile(self, cookie: str, start_ms: int, end_ms: int, limit: int) -> dict[str, Any]:
        answer: dict[str, Any] = {"cookie": cookie}
        for action, name in (("VIEW", "views"), ("BUY", "buys")):
            times, items = self.by_cookie.get((cookie, action), ([], []))
            low = bisect.bisect_left(times, start_ms)
            high = bisect.bisect_left(times, end_ms)
            answer[name] = items[max(low, high - limit) : high][::-1]
        return answer

    def aggregates(
        self,
        start_ms: int,
        end_ms: int,
        action: str,
        filters: list[tuple[str, str]],
        aggregates: list[str],
    ) -> dict[str, Any]:
        given = dict(filters)
        columns = ["1m_bucket", "action", *(name for name, _ in filters)]
        columns += [name.lower() for name in aggregates]
        rows: list[list[str]] = []
        for minute in range(start_ms, end_ms, MINUTE_MS):
            key = (minute, action, given.get("origin"), given.get("brand_id"))
            cell = self.cells.get((*key, given.get("category_id")), [0, 0])
            row = [from_ms(minute).strftime("%Y-%m-%dT%H:%M:%S"), action]
            row += [value for _, value in filters]
            row += [str(cell[0]) if name == "COUNT" else str(cell[1]) for name in aggregates]
            rows.append(row)
        return {"columns": columns, "rows": rows}

    def answer(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        if kind == "profile":
            return self.profile(
                params["cookie"], params["start_ms"], params["end_ms"], params["limit"]
            )
        return self.aggregates(
            params["start_ms"],
            params["end_ms"],
            params["action"],
            [(name, value) for name, value in params["filters"]],
            params["aggregates"],
        )


def unknown_outcome(status: int) -> bool:
    """No answer (time-out, connection closed, unreadable answer) or a server error that may
    have come after the append: the tag may or may not be stored. 503 refuses before it."""
    return status == 0 or (status >= 500 and status != 503)


class Uncertain:
    """Copies of tags that may be stored although the model does not hold them.

    A tag whose request got no answer, or a 5xx other than 503, may have been stored; so may
    the first attempt of a tag that the load generator sent again after the connection closed
    before any answer came. The service is right to hold any of these copies, or none: an
    answer that differs from the model only by some of them (``explains``) is no error of the
    service, but it is counted apart (``mismatched_unknown_outcome``).
    """

    def __init__(self, copies: Iterable[Tag] = ()) -> None:
        self.by_cookie: dict[tuple[str, str], list[Tag]] = {}
        self.by_minute: dict[int, list[Tag]] = {}
        self.copies = 0
        for tag in copies:
            self.add(tag)

    def add(self, tag: Tag) -> None:
        self.by_cookie.setdefault((tag["cookie"], tag["action"]), []).append(tag)
        millis = tag_ms(tag)
        self.by_minute.setdefault(millis - millis % MINUTE_MS, []).append(tag)
        self.copies += 1

    def profile_pool(self, cookie: str, action: str, start_ms: int, end_ms: int) -> list[Tag]:
        return [
            tag
            for tag in self.by_cookie.get((cookie, action), [])
            if start_ms <= tag_ms(tag) < end_ms
        ]

    def profile_every(self, params: dict[str, Any], every: dict[str, Any]) -> dict[str, Any]:
        """``every`` (the right answer without the limit) with every uncertain copy in range
        added, newest first: what the profile could hold at most."""
        result = dict(every)
        for name, action in (("views", "VIEW"), ("buys", "BUY")):
            pool = self.profile_pool(params["cookie"], action, params["start_ms"], params["end_ms"])
            result[name] = newest_first([*every[name], *pool])
        return result

    def explains(
        self, kind: str, params: dict[str, Any], got: Any, want: dict[str, Any], every: Any
    ) -> bool:
        """``got`` is the model's answer over the stored tags plus some uncertain copies."""
        if not self.copies or not isinstance(got, dict):
            return False
        if kind == "profile":
            return self._explains_profile(params, got, every)
        return self._explains_aggregate(params, got, want)

    def _explains_profile(self, params: dict[str, Any], got: dict[str, Any], every: Any) -> bool:
        if got.get("cookie") != params["cookie"]:
            return False
        for name, action in (("views", "VIEW"), ("buys", "BUY")):
            mine = got.get(name)
            if not isinstance(mine, list) or not all(isinstance(tag, dict) for tag in mine):
                return False
            pool = self.profile_pool(params["cookie"], action, params["start_ms"], params["end_ms"])
            available: dict[str, list[Tag]] = {}
            for tag in pool:
                available.setdefault(tag["time"], []).append(tag)
            known: dict[Any, int] = {}
            for tag in every[name]:
                known[tag["time"]] = known.get(tag["time"], 0) + 1
            seen: dict[Any, int] = {}
            for tag in mine:
                seen[tag.get("time")] = seen.get(tag.get("time"), 0) + 1
            extras: list[Tag] = []
            for moment, number in seen.items():
                extra = number - known.get(moment, 0)
                if extra > 0:
                    copies = available.get(moment, []) if isinstance(moment, str) else []
                    if extra > len(copies):
                        return False
                    extras += copies[:extra]
            if newest_first([*every[name], *extras])[: params["limit"]] != mine:
                return False
        return True

    def _explains_aggregate(
        self, params: dict[str, Any], got: dict[str, Any], want: dict[str, Any]
    ) -> bool:
        rows = got.get("rows")
        if got.get("columns") != want["columns"] or not isinstance(rows, list):
            return False
        if len(rows) != len(want["rows"]):
            return False
        width = 2 + len(params["filters"])
        for minute, mine, theirs in zip(
            range(params["start_ms"], params["end_ms"], MINUTE_MS), rows, want["rows"], strict=True
        ):
            if not isinstance(mine, list) or len(mine) != len(theirs):
                return False
            if mine[:width] != theirs[:width]:
                return False
            try:
                extra = {
                    name: int(a) - int(b)
                    for name, a, b in zip(
                        params["aggregates"], mine[width:], theirs[width:], strict=True
                    )
                }
            except (TypeError, ValueError):
                return False
            if any(extra.values()):
                pool = self.aggregate_pool(params, minute)
                if not reachable(
                    [int(tag["product_info"]["price"]) for tag in pool],
                    extra.get("COUNT"),
                    extra.get("SUM_PRICE"),
                ):
                    return False
        return True

    def aggregate_pool(self, params: dict[str, Any], minute: int) -> list[Tag]:
        given = dict(params["filters"])
        return [
            tag
            for tag in self.by_minute.get(minute, [])
            if tag["action"] == params["action"]
            and all(filter_value(tag, name) == value for name, value in given.items())
        ]

    def aggregate_slack(self, params: dict[str, Any]) -> list[list[int]]:
        """Per row, per aggregate column: the most the uncertain copies could add."""
        slack: list[list[int]] = []
        for minute in range(params["start_ms"], params["end_ms"], MINUTE_MS):
            pool = self.aggregate_pool(params, minute)
            prices = [int(tag["product_info"]["price"]) for tag in pool]
            most = {"COUNT": len(prices), "SUM_PRICE": sum(price for price in prices if price > 0)}
            slack.append([most[name] for name in params["aggregates"]])
        return slack


def newest_first(tags: Iterable[Tag]) -> list[Tag]:
    return sorted(tags, key=tag_ms, reverse=True)  # stable: equal copies keep their order


def filter_value(tag: Tag, name: str) -> str:
    return str(tag["origin"] if name == "origin" else tag["product_info"][name])


def reachable(prices: list[int], count_: int | None, total: int | None) -> bool:
    """Some of ``prices`` (each at most once) number ``count_`` and sum to ``total`` (either
    None: not asked).

    Subset sums as bit sets, one per number of items (``sums[k]`` has bit ``s`` set when ``k``
    prices can sum to ``s + k * low``): exact for the minute's few hundred unknown outcomes
    at most, where a set of (count, sum) pairs would grow to millions.
    """
    if count_ is not None and not 0 <= count_ <= len(prices):
        return False
    if total is None:
        return True
    if not prices:
        return total == 0
    low = min(0, *prices)  # shifted so that every price is >= 0
    if sum(price - low for price in prices) > 50_000_000:  # not this bench's prices
        raise BenchError("prices too large for the subset-sum check")
    most = len(prices) if count_ is None else count_
    sums = [1] + [0] * most
    for seen, price in enumerate(prices):
        for k in range(min(seen + 1, most), 0, -1):
            sums[k] |= sums[k - 1] << (price - low)
    counts = range(most + 1) if count_ is None else (count_,)
    return any(total - k * low >= 0 and (sums[k] >> (total - k * low)) & 1 for k in counts)


def reference_answer(model: ReferenceModel, kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """The same answer from ``bench/allezon_model.ReferenceModel`` itself."""
    start, end = from_ms(params["start_ms"]), from_ms(params["end_ms"])
    if kind == "profile":
        return model.profile(params["cookie"], start, end, params["limit"])
    filters = dict(params["filters"])
    return model.aggregates(
        start=start,
        end=end,
        action=params["action"],
        aggregates=params["aggregates"],
        origin=filters.get("origin"),
        brand_id=filters.get("brand_id"),
        category_id=filters.get("category_id"),
    )


def first_difference(got: Any, want: Any, path: str = "") -> str:
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want), key=str):
            if got.get(key) != want.get(key):
                return first_difference(got.get(key), want.get(key), f"{path}.{key}")
    if isinstance(got, list) and isinstance(want, list):
        for at, (a, b) in enumerate(zip(got, want, strict=False)):
            if a != b:
                return first_difference(a, b, f"{path}[{at}]")
        if len(got) != len(want):
            return f"{path}: {len(got)} items, expected {len(want)}"
    return f"{path}: got {str(got)[:160]}, expected {str(want)[:160]}"


def is_empty(answer: dict[str, Any]) -> bool:
    if "views" in answer:
        return not answer["views"] and not answer["buys"]
    width = 2 + sum(1 for column in answer["columns"] if column in FILTERS)
    return all(value == "0" for row in answer["rows"] for value in row[width:])


def is_stale(
    got: Any,
    want: dict[str, Any],
    every: dict[str, Any] | None = None,
    slack: list[list[int]] | None = None,
) -> bool:
    """A wrong answer that only lacks tags (ones not searchable yet), nothing else wrong.

    For a profile, ``every`` is the right answer without the limit: when newer tags are
    missing, older ones of the range move up into the ``limit`` newest (and it may hold the
    copies of unknown outcome, which may be there too). For an aggregate, ``slack`` is what
    those copies could add to each figure.
    """
    if not isinstance(got, dict):
        return False
    if "views" in want:
        assert every is not None
        return got.get("cookie") == want["cookie"] and all(
            _subsequence(got.get(name), every[name]) for name in ("views", "buys")
        )
    rows = got.get("rows")
    if got.get("columns") != want["columns"] or not isinstance(rows, list):
        return False
    if len(rows) != len(want["rows"]):
        return False
    width = 2 + sum(1 for column in want["columns"] if column in FILTERS)
    slack = slack or [[0] * (len(want["columns"]) - width) for _ in want["rows"]]
    lacking = False  # some figure is below the right one: tags are missing
    try:
        for mine, theirs, room in zip(rows, want["rows"], slack, strict=True):
            if mine[:width] != theirs[:width]:
                return False
            for a, b, extra in zip(mine[width:], theirs[width:], room, strict=True):
                if int(a) > int(b) + extra:
                    return False
                lacking = lacking or int(a) < int(b)
    except (TypeError, ValueError):
        return False
    return lacking


def _subsequence(mine: Any, every: list[Tag]) -> bool:
    """``mine`` holds only tags of ``every`` (newest first), in its order."""
    if not isinstance(mine, list):
        return False
    position = {tag["time"]: at for at, tag in enumerate(every)}  # times are unique
    last = -1
    for tag in mine:
        at = position.get(tag.get("time")) if isinstance(tag, dict) else None
        if at is None or at <= last or every[at] != tag:
            return False
        last = at
    return True


@dataclass
class Tally:
    """Answers of one kind compared with the model."""

    answers: int = 0  # 200 answers compared
    matched: int = 0
    non_empty: int = 0  # the expected answer holds tags or non-zero figures
    examples: list[dict[str, Any]] = field(default_factory=list)  # of wrong answers
    unknown: int = 0  # differ from the model only by tags whose outcome was unknown
    unknown_examples: list[dict[str, Any]] = field(default_factory=list)
    stale: int = 0  # wrong answers that only lack tags (not searchable yet)
    missing_age: float = 0.0  # the oldest 204 of a tag missing from an answer, when sent
    errors: int = 0  # no 200 answer: nothing to compare (counted as errors per endpoint)

    def add(
        self, matched: bool, empty: bool, stale: bool, unknown: bool, example: dict[str, Any]
    ) -> None:
        self.answers += 1
        self.matched += matched
        self.non_empty += not empty
        self.stale += stale
        self.unknown += unknown
        if not matched and not unknown and len(self.examples) < MISMATCH_EXAMPLES:
            self.examples.append(example)
        elif unknown and len(self.unknown_examples) < MISMATCH_EXAMPLES:
            self.unknown_examples.append(example)

    def report(self) -> dict[str, Any]:
        return {
            "answers_compared": self.answers,
            "matched": self.matched,
            "match_pct": pct(self.matched, self.answers),
            "correct_pct": pct(self.matched + self.unknown, self.answers),
            "non_empty_expected": self.non_empty,
            "mismatched_unknown_outcome": self.unknown,
            "mismatched_stale": self.stale,
            "mismatched_other": self.answers - self.matched - self.unknown - self.stale,
            "oldest_missing_tag_s": round(self.missing_age, 2) if self.stale else None,
            "not_compared_errors": self.errors,
            "mismatch_examples": self.examples,
            "unknown_outcome_examples": self.unknown_examples,
        }


def pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 3) if whole else None


@dataclass
class Crosscheck:
    """Expected vs ReferenceModel on a sample: both must agree (else the bench is wrong)."""

    compared: int = 0
    agreed: int = 0

    def report(self) -> dict[str, Any]:
        return {"compared": self.compared, "agreed": self.agreed}


def read_answers(path: Path) -> Iterator[tuple[dict[str, Any], bytes]]:
    with open(path, "rb") as answers:
        while header := answers.readline():
            meta = json.loads(header)
            body = answers.read(int(meta["len"]))
            answers.read(1)
            yield meta, body


def compare(
    meta: dict[str, Any],
    got: Any,
    *,
    expected: Expected,
    model: ReferenceModel | None,
    tallies: dict[str, Tally],
    crosscheck: Crosscheck,
    uncertain: Uncertain,
    acked: dict[str, float] | None = None,
) -> None:
    """One answer against the model; ``acked``: when each tag (by time) got its 204.

    A wrong answer is, in this order: explained by tags of unknown outcome (``uncertain``: the
    service may hold them), stale (it lacks tags, perhaps beside such tags), or wrong.
    """
    kind = meta["kind"]
    params = meta["params"]
    want = expected.answer(kind, params)
    if model is not None:
        crosscheck.compared += 1
        crosscheck.agreed += reference_answer(model, kind, params) == want
    example: dict[str, Any] = {"request": "POST " + meta["url"]}
    stale = unknown = False
    if got != want:
        example["difference"] = first_difference(got, want)
        every = None
        if kind == "profile":
            every = expected.answer(kind, {**params, "limit": expected.count})
        unknown = uncertain.explains(kind, params, got, want, every)
        example["explained_by_unknown_outcome"] = unknown
        if not unknown:
            if kind == "profile":
                assert every is not None
                stale = is_stale(got, want, uncertain.profile_every(params, every))
            else:
                stale = is_stale(got, want, slack=uncertain.aggregate_slack(params))
            example["only_lacks_tags"] = stale
        if stale and kind == "profile" and acked and "sent_unix" in meta:
            ages = []
            for name in ("views", "buys"):
                present = {tag["time"] for tag in got[name]}
                ages += [
                    meta["sent_unix"] - acked[tag["time"]]
                    for tag in want[name]
                    if tag["time"] not in present and tag["time"] in acked
                ]
            if ages:
                example["missing_tags_answered_204_s_before"] = round(max(ages), 2)
                tallies[kind].missing_age = max(tallies[kind].missing_age, *ages)
    tallies[kind].add(got == want, is_empty(want), stale, unknown, example)


def correctness_report(tallies: dict[str, Tally], crosscheck: Crosscheck) -> dict[str, Any]:
    """``match_pct``: answers equal to the model of the tags answered 204; ``correct_pct`` also
    counts those that differ only by tags of unknown outcome (the target's measure)."""
    compared = sum(t.answers for t in tallies.values())
    matched = sum(t.matched for t in tallies.values())
    unknown = sum(t.unknown for t in tallies.values())
    correct = pct(matched + unknown, compared)
    return {
        "profiles": tallies["profile"].report(),
        "aggregates": tallies["aggregate"].report(),
        "match_pct": pct(matched, compared),
        "correct_pct": correct,
        "mismatched_unknown_outcome": unknown,
        "mismatched_wrong": compared - matched - unknown,
        "target_pct": MATCH_TARGET_PCT,
        "ratio_to_target": None if correct is None else round(correct / MATCH_TARGET_PCT, 5),
        "meets_target": correct is not None and correct >= MATCH_TARGET_PCT,
        "model_crosscheck": crosscheck.report(),
    }


class Judge:
    """The answers of a round (or of the final pass) against the model of its tags answered
    204: a ``Tally`` per kind; every ``every``-th answer of ``total`` also against
    ``ReferenceModel`` itself, ``sample`` of them in all (``crosscheck``). ``acked``: when
    each tag (by time) got its 204."""

    def __init__(
        self,
        plan: Round,
        *,
        total: int,
        sample: int,
        acked: dict[str, float] | None = None,
    ) -> None:
        accepted = plan.accepted
        self.expected = Expected(accepted)
        self.model = ReferenceModel(accepted)
        self.uncertain = Uncertain(plan.uncertain)
        self.acked = acked
        self.every = max(1, total // sample) if sample > 0 else 0
        self.tallies = {"profile": Tally(), "aggregate": Tally()}
        self.crosscheck = Crosscheck()

    def judge(self, number: int, meta: dict[str, Any], status: int, body: bytes) -> None:
        """The ``number``-th answer: a 200 is compared, anything else counted as an error."""
        if status != 200:
            self.tallies[meta["kind"]].errors += 1
            return
        try:
            got = json.loads(body)
        except ValueError:
            got = {"unreadable": body[:200].decode(errors="replace")}
        check_with = self.model if self.every and number % self.every == 0 else None
        compare(
            meta,
            got,
            expected=self.expected,
            model=check_with,
            tallies=self.tallies,
            crosscheck=self.crosscheck,
            uncertain=self.uncertain,
            acked=self.acked,
        )

    def report(self) -> dict[str, Any]:
        return correctness_report(self.tallies, self.crosscheck)


# --- the driver ----------------------------------------------------------------------------


@dataclass
class Round:
    """One load-generator run: its tags, its figures and what they were checked against."""

    name: str
    tag_rate: float
    duration: float
    warmup: float
    seed: int
    start: datetime
    tags: list[Tag] = field(default_factory=list)
    statuses: array[int] = field(default_factory=lambda: array("H"))  # of the tags sent
    unsure: array[int] = field(default_factory=lambda: array("B"))  # attempts without answer
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> list[Tag]:
        """The tags answered 204: what the model holds."""
        return [tag for tag, status in zip(self.tags, self.statuses, strict=False) if status == 204]

    @property
    def uncertain(self) -> list[Tag]:
        """Copies of tags that may be stored beside the model's: one per attempt whose outcome
        is unknown (a tag answered 204 after a resend can be stored twice)."""
        copies: list[Tag] = []
        for at, (tag, status) in enumerate(zip(self.tags, self.statuses, strict=False)):
            unanswered = self.unsure[at] if at < len(self.unsure) else 0
            if status != 0 and unknown_outcome(status):
                unanswered += 1  # a server error: the append may have happened first
            copies += [tag] * unanswered
        return copies


class ShippingSampler:
    """How far shipping lags while a round runs.

    Every ``interval`` it counts the searchable documents (``_count``), and every
    ``metrics_every`` samples it reads Metronome's ``GET /metrics``: the shipping backlog
    (accepted - shipped) and the spool's size.
    """

    def __init__(
        self, port: int, client: Elasticsearch, pattern: str, var_dir: Path, interval: float = 0.5
    ) -> None:
        self.url = f"http://127.0.0.1:{port}/metrics"
        self.var_dir = var_dir  # where Metronome keeps its metrics token
        self.client = client
        self.pattern = pattern
        self.interval = interval
        self.metrics_every = 4
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="shipping", daemon=True)
        self.counts: list[tuple[float, int]] = []  # (unix time, searchable documents)
        self.max_backlog_docs = 0.0
        self.max_spool_bytes = 0.0
        self.metrics_samples = 0
        self.failures = 0

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> dict[str, Any]:
        self.stop_event.set()
        self.thread.join(timeout=10)
        return {
            "max_shipping_backlog_docs": int(self.max_backlog_docs),
            "max_spool_mb": round(self.max_spool_bytes / 1e6, 2),
            "metrics_samples": self.metrics_samples,
            "sample_failures": self.failures,
        }

    def _run(self) -> None:
        number = 0
        while not self.stop_event.wait(self.interval):
            when = time.time()  # before the count: its age figures stay lower bounds
            seen = count(self.client, self.pattern)
            if seen >= 0:
                self.counts.append((when, seen))
            number += 1
            if number % self.metrics_every:
                continue
            try:
                text = get_metrics(self.url, self.var_dir)
            except (requests.RequestException, OSError):
                self.failures += 1
                continue
            values = metric_values(text)
            accepted = values.get(f'metronome_hits_accepted_total{{site="{SITE}"}}', 0.0)
            shipped = values.get('metronome_shipped_total{stream="hits"}', 0.0)
            self.max_backlog_docs = max(self.max_backlog_docs, accepted - shipped)
            self.max_spool_bytes = max(self.max_spool_bytes, values.get("metronome_spool_bytes", 0))
            self.metrics_samples += 1


def get_metrics(url: str, var_dir: Path) -> str:
    """``GET /metrics`` with the metrics token Metronome generated at its start."""
    token = metrics_token_path(var_dir).read_text(encoding="ascii").strip()
    response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=5)
    response.raise_for_status()
    return response.text


def visibility_lag(
    counts: list[tuple[float, int]], before: int, acked: array[float]
) -> dict[str, Any]:
    """How long tags stayed unsearchable after their 204, from the ``_count`` samples.

    The spool is shipped in order, so when ``_count`` says n of this round's tags are
    searchable, they are the first n answered 204 and the (n+1)-th is the oldest one not yet
    searchable: its age then is the lag at that moment. A lower bound (the sample may come
    after a later one became visible), taken every 0.5 s.
    """
    answered = sorted(moment for moment in acked if moment > 0)
    lags: list[float] = []
    for when, seen in counts:
        visible = seen - before
        if 0 <= visible < len(answered) and answered[visible] < when:
            lags.append(when - answered[visible])
    over = sum(1 for lag in lags if lag > PROFILE_LAG_S)
    return {
        "samples": len(counts),
        "max": round(max(lags), 2) if lags else 0.0,
        "p50": round(sorted(lags)[len(lags) // 2], 2) if lags else 0.0,
        "samples_over_10s": over,
        "meets_target": over == 0,
    }


def metric_values(text: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, _, value = line.rpartition(" ")
        with contextlib.suppress(ValueError):
            values[name] = float(value)
    return values


class AllezonBench(ServerBench):
    name = "allezon"

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir, say)
        self.prefix = f"bench-{uuid.uuid4().hex[:8]}-allezon"
        self.pattern = stream_pattern(self.prefix, "hits")
        self.stored = 0  # tags answered 204 so far, over every round
        self.shape = TagShape(
            cookies=args.cookies,
            products=args.products,
            jump_ms=(1, 1),  # 1 ms apart in logical time, whatever the send rate
            quiet_minutes=args.quiet_minutes,
        )

    def _searcher(self, index: str) -> Search:
        """A search of ``index`` as Metronome's Allezon endpoints send it (their own, in
        ``metronome.web.views.allezon``, is private to the view and also refuses an answer with
        a failed shard)."""
        options: dict[str, Any] = {"ignore_unavailable": True, "allow_no_indices": True}

        def search(body: dict[str, Any]) -> dict[str, Any]:
            found = self.client.search(index=index, body=body, filter_path=ANSWER_PARTS, **options)
            return dict(found.body)

        return search

    # --- Elasticsearch ---------------------------------------------------------------------

    def warm_up_elasticsearch(self) -> dict[str, Any] | None:
        """Index tags under a throw-away prefix at a steady rate for ``--es-warmup-seconds``
        (the JIT: see ``bench.elastic.warm_up_elasticsearch``), then query them (the search
        paths), then delete them."""
        seconds, rate = self.args.es_warmup_seconds, self.args.es_warmup_rate
        if seconds <= 0:
            return None
        prefix = f"{self.prefix}-warm"
        install_templates(self.client, prefix)
        start = self.args.start - timedelta(days=30)
        planned = math.ceil(seconds * rate) + 1000
        tags = generate_tags(self.args.seed + 999, planned, start, self.shape)
        now = datetime.now(UTC)

        def actions() -> Iterator[dict[str, Any]]:
            for tag in tags:
                moment = from_ms(tag_ms(tag))
                document = tag_document(tag, moment, SITE, now)
                index = index_for(prefix, "hits", moment)
                yield create_action(index, document["hit_id"], document)

        figures = warm_up_elasticsearch(
            self.client, actions(), seconds=seconds, rate=rate, chunk=WARMUP_CHUNK, say=say
        )
        tags = tags[: int(figures["documents"])]
        self.client.indices.refresh(index=stream_pattern(prefix, "hits"))
        first, last = from_ms(tag_ms(tags[0])), from_ms(tag_ms(tags[-1]))
        index = indices_for(prefix, first, last)
        say(f"warming the search paths up: {WARMUP_QUERY_SECONDS:.0f} s of profiles and aggregates")
        queries_until = time.monotonic() + WARMUP_QUERY_SECONDS
        queried = 0
        for tag in itertools.cycle(tags[:: max(1, len(tags) // 5000)]):
            if time.monotonic() >= queries_until:
                break
            queried += 1
            fetch_profile(
                self._searcher(index), SITE, ProfileQuery(tag["cookie"], first, last, 200)
            )
            minute = from_ms(tag_ms(tag) // MINUTE_MS * MINUTE_MS)
            end = minute + timedelta(minutes=10)
            query = AggregatesQuery(minute, end, tag["action"], (), ("COUNT", "SUM_PRICE"))
            self.client.search(
                index=indices_for(prefix, minute, end),
                body=aggregates_body(SITE, query),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
        delete_indices(self.client, prefix)
        remove_templates(self.client, prefix)
        return {**figures, "queries": queried, "query_seconds": WARMUP_QUERY_SECONDS}

    @property
    def var_dir(self) -> Path:
        """Where Metronome keeps the keys it generates (the metrics token among them)."""
        return self.metronome_settings(self.prefix).spool.dir.parent

    # --- one round -------------------------------------------------------------------------

    def run_round(
        self, plan: Round, port: int, *, metronome: bool = True, queries: bool = True
    ) -> Round:
        args = self.args
        folder = self.workdir / plan.name.replace(" ", "_")
        folder.mkdir(parents=True, exist_ok=True)
        planned = math.ceil(plan.tag_rate * (plan.warmup + plan.duration)) + 1
        say(f"{plan.name}: generating {planned} tags...")
        plan.tags = generate_tags(plan.seed, planned, plan.start, self.shape)
        with open(folder / TAGS_FILE, "wb") as out:
            for tag in plan.tags:
                out.write(json.dumps(tag, separators=(",", ":")).encode() + b"\n")
        every = {"tags": 1.0, "profiles": args.profile_every, "aggregates": args.aggregate_every}
        connections = {
            "tags": args.tag_connections,
            "profiles": args.profile_connections,
            "aggregates": args.aggregate_connections,
        }
        spec = LoadSpec(
            port=port,
            folder=str(folder),
            rates={
                kind: plan.tag_rate / every[kind] if queries or kind == "tags" else 0.0
                for kind in STREAMS
            },
            connections=connections,
            duration=plan.duration,
            warmup=plan.warmup,
            seed=plan.seed,
            profile_limit=args.profile_limit,
            profile_range_s=args.profile_range,
            tag_path="/user_tags" if metronome else "/tick",
            tag_status=204 if metronome else 202,
        )
        spec_file = folder / "spec.json"
        spec_file.write_text(json.dumps(asdict(spec)))
        command = [sys.executable, "-m", "bench.allezon", "--loadgen", str(spec_file)]
        process = self.harness.start("loadgen", command, capture=True)
        assert process.stdout is not None
        if process.stdout.readline().strip() != b"ready":
            process.wait()
            raise BenchError(f"the load generator failed:\n{self.harness.log_tail('loadgen')}")
        rates = spec.rates
        say(
            f"{plan.name}: {plan.tag_rate:g} tags/s for {plan.warmup:g} + {plan.duration:g} s"
            + (
                f", profiles {rates['profiles']:g}/s, aggregates {rates['aggregates']:g}/s..."
                if queries
                else "..."
            )
        )
        self.monitor.begin(plan.name)
        sampler = (
            ShippingSampler(port, self.client, self.pattern, self.var_dir) if metronome else None
        )
        if sampler is not None:
            sampler.start()
        try:
            load, resources = self._finish_loadgen(plan)
            plan.statuses = array("H")
            plan.statuses.frombytes((folder / STATUS_FILE).read_bytes())
            plan.unsure = array("B")
            plan.unsure.frombytes((folder / UNSURE_FILE).read_bytes())
            acked = array("d")
            acked.frombytes((folder / ACK_FILE).read_bytes())
            stored = sum(1 for status in plan.statuses if status == 204)
            before = self.stored
            drained = self.drain(port, stored) if metronome else {}
        finally:
            shipping = sampler.stop() if sampler is not None else {}
        report: dict[str, Any] = {
            "tag_rate_per_s": plan.tag_rate,
            "duration_s": plan.duration,
            "warmup_s": plan.warmup,
            "tags_sent": load["tags_sent"],
            "tags_stored_204": stored,
            **rated_streams(load["streams"]),
            "loadgen": {key: load[key] for key in ("cpu_seconds", "peak_rss_mb", "load_seconds")},
            "resources": resources,
        }
        if metronome:
            assert sampler is not None
            report["shipping"] = {
                **shipping,
                **drained,
                "visibility_lag_s": visibility_lag(sampler.counts, before, acked),
            }
            report["unknown_outcome"] = self.unknown_outcome_report(plan, plan.uncertain)
            if queries:
                say(f"{plan.name}: comparing the answers with the reference model...")
                sent = sum(load["streams"][kind]["sent"] for kind in ("profiles", "aggregates"))
                report["correctness"] = self.check_round(plan, folder, acked, sent)
            report["meets_targets"] = meets_targets(report)
        plan.report = report
        return plan

    def check_round(
        self, plan: Round, folder: Path, acked: array[float], sent: int
    ) -> dict[str, Any]:
        """Every answer of the round against the model of its tags answered 204."""
        answered = {
            tag["time"]: moment for tag, moment in zip(plan.tags, acked, strict=False) if moment > 0
        }
        judge = Judge(plan, total=sent, sample=self.args.crosscheck, acked=answered)
        for number, (meta, body) in enumerate(read_answers(folder / ANSWERS_FILE)):
            judge.judge(number, meta, meta["status"], body)
        return judge.report()

    def _finish_loadgen(self, plan: Round) -> tuple[dict[str, Any], dict[str, Any]]:
        """The load generator's report, and the resources used while it ran."""
        output = self.harness.collect("loadgen", plan.warmup + plan.duration + 180)
        load: dict[str, Any] = json.loads(output.splitlines()[-1])
        resources = self.monitor.end({"loadgen": float(load["cpu_seconds"])})
        return load, resources

    def drain(self, port: int, accepted: int) -> dict[str, Any]:
        """Wait until Elasticsearch holds every tag the service accepted (the spool is shipped).

        That is every tag answered 204, and also the ones it stored without the answer reaching
        the load generator: its own ``metronome_hits_accepted_total``, once that has not moved
        for ``SETTLE_S`` (a request the load generator gave up on may still be running). Going
        by the 204s alone would stop early when such tags were shipped first, and the final
        pass would then miss 204'd tags.
        """
        self.stored += accepted
        started = time.monotonic()
        service, changed_at, caught_up = None, started, None
        while True:
            latest = self.service_accepted(port)
            now = time.monotonic()
            if latest != service:
                service, changed_at = latest, now
            seen = count(self.client, self.pattern)
            if seen >= max(self.stored, int(service or 0)):
                caught_up = caught_up or now
                if now - changed_at >= SETTLE_S:
                    break
            else:
                caught_up = None
            if now - started > self.args.drain_timeout:
                break
            time.sleep(0.25)
        return {
            "searchable_after_load_s": round((caught_up or now) - started, 2),
            "documents": seen,
            "documents_minus_stored_tags": seen - self.stored,
            "service_accepted_total": None if service is None else int(service),
            "service_accepted_minus_204": None if service is None else int(service) - self.stored,
        }

    def service_accepted(self, port: int) -> float | None:
        """Metronome's count of tags it stored, every round so far (None if unreadable)."""
        try:
            text = get_metrics(f"http://127.0.0.1:{port}/metrics", self.var_dir)
        except (requests.RequestException, OSError):
            return None
        return metric_values(text).get(f'metronome_hits_accepted_total{{site="{SITE}"}}', 0.0)

    def unknown_outcome_report(self, plan: Round, uncertain: list[Tag]) -> dict[str, Any]:
        """The tags of unknown outcome, and how many of their copies Elasticsearch holds.

        Looked up after the drain by cookie and exact time (unique within a round): the copies
        found beyond the one a 204 accounts for are stored tags the model does not hold.
        """
        answered = {
            tag["time"]
            for tag, status in zip(plan.tags, plan.statuses, strict=False)
            if status == 204
        }
        wanted: dict[str, Tag] = {tag["time"]: tag for tag in uncertain}
        found: dict[str, int] = {}
        tags = list(wanted.values())
        for at in range(0, len(tags), 200):
            chunk = tags[at : at + 200]
            should = [
                {
                    "bool": {
                        "filter": [
                            {"term": {"cookie": tag["cookie"]}},
                            {"term": {"@timestamp": tag_ms(tag)}},
                        ]
                    }
                }
                for tag in chunk
            ]
            hits = self.client.search(
                index=self.pattern,
                size=10_000,
                source_includes=["allezon_tag.time"],
                query={
                    "bool": {
                        "filter": [{"term": {"site": SITE}}],
                        "should": should,
                        "minimum_should_match": 1,
                    }
                },
            )["hits"]["hits"]
            for hit in hits:
                moment = hit["_source"]["allezon_tag"]["time"]
                found[moment] = found.get(moment, 0) + 1
        extra = {moment: found.get(moment, 0) - (moment in answered) for moment in wanted}
        return {
            "tags": len(wanted),
            "copies": len(uncertain),
            "of_tags_answered_204": sum(1 for moment in wanted if moment in answered),
            "stored_copies_found": sum(max(0, n) for n in extra.values()),
            "tags_found_stored": sum(1 for n in extra.values() if n > 0),
        }

    # --- the final pass --------------------------------------------------------------------

    def final_queries(self, plan: Round) -> list[dict[str, Any]]:
        """Profiles and aggregates over the whole data of a round, newest tags included."""
        args = self.args
        rng = random.Random(plan.seed + 2)
        accepted = plan.accepted
        if not accepted:
            return []
        first, last = tag_ms(accepted[0]), tag_ms(accepted[-1])
        by_count: dict[str, int] = {}
        for tag in accepted:
            by_count[tag["cookie"]] = by_count.get(tag["cookie"], 0) + 1
        heaviest = sorted(by_count, key=lambda cookie: -by_count[cookie])[:10]
        queries: list[dict[str, Any]] = []
        for number in range(args.final_profiles):
            cookie = (
                heaviest[number % len(heaviest)]
                if number < len(heaviest)
                else rng.choice(accepted)["cookie"]
            )
            if number % 4 == 0:
                start, end = first - 1000, last + 1000
            else:
                start = rng.randint(first - 1000, last)
                end = rng.randint(start + 1, last + 1000)
            limit = rng.choice((1, 10, 200, 200, 200, 1000))
            params = {"cookie": cookie, "start_ms": start, "end_ms": end, "limit": limit}
            url = profile_url(cookie, start, end, limit)
            queries.append({"kind": "profile", "url": url, "params": params})
        low = first // MINUTE_MS * MINUTE_MS - MINUTE_MS
        high = last // MINUTE_MS * MINUTE_MS + 2 * MINUTE_MS
        for _ in range(args.final_aggregates):
            minutes = rng.randint(1, 10)
            start = rng.randrange(low, max(low + MINUTE_MS, high - MINUTE_MS), MINUTE_MS)
            end = start + minutes * MINUTE_MS
            info = rng.choice(accepted)
            values = (
                info["origin"],
                str(info["product_info"]["brand_id"]),
                str(info["product_info"]["category_id"]),
            )
            filters = [(n, v) for n, v in zip(FILTERS, values, strict=True) if rng.random() < 0.5]
            action = rng.choice(ACTIONS)
            aggregates = rng.choice(
                (["COUNT"], ["SUM_PRICE"], ["COUNT", "SUM_PRICE"], ["SUM_PRICE", "COUNT"])
            )
            url = aggregates_url(start, end, action=action, filters=filters, aggregates=aggregates)
            params = {
                "start_ms": start,
                "end_ms": end,
                "action": action,
                "filters": filters,
                "aggregates": aggregates,
            }
            queries.append({"kind": "aggregate", "url": url, "params": params})
        return queries

    def direct(self, query: dict[str, Any]) -> float:
        """The Elasticsearch request(s) Metronome builds for ``query``, sent directly: seconds."""
        params = query["params"]
        start, end = from_ms(params["start_ms"]), from_ms(params["end_ms"])
        index = indices_for(self.prefix, start, end)
        if query["kind"] == "profile":
            profile = ProfileQuery(params["cookie"], start, end, params["limit"])
            started = time.perf_counter()
            fetch_profile(self._searcher(index), SITE, profile)
            return time.perf_counter() - started
        order = {name: at for at, name in enumerate(FILTERS)}
        filters = tuple(sorted(params["filters"], key=lambda item: order[item[0]]))
        body = aggregates_body(
            SITE,
            AggregatesQuery(start, end, params["action"], filters, tuple(params["aggregates"])),
        )
        search = self._searcher(index)
        started = time.perf_counter()
        search(body)
        return time.perf_counter() - started

    def final_pass(self, plan: Round, port: int) -> dict[str, Any]:
        queries = self.final_queries(plan)
        say(f"final pass: {len(queries)} queries over the whole data, Metronome and direct...")
        judge = Judge(plan, total=len(queries), sample=self.args.crosscheck)
        timings: dict[str, dict[str, list[float]]] = {
            kind: {"metronome": [], "direct": []} for kind in ("profile", "aggregate")
        }
        statuses: dict[str, int] = {}
        client = keepalive.HttpClient(port)
        self.monitor.begin("final pass")
        try:
            for number, query in enumerate(queries):
                kind = query["kind"]
                if number % 2:  # alternate which goes first: noise hits both alike
                    timings[kind]["direct"].append(self.direct(query))
                status, body, seconds = client.exchange("POST", query["url"])
                if number % 2 == 0:
                    timings[kind]["direct"].append(self.direct(query))
                timings[kind]["metronome"].append(seconds)
                statuses[str(status)] = statuses.get(str(status), 0) + 1
                judge.judge(number, query, status, body)
        finally:
            client.close()
        resources = self.monitor.end()
        latency: dict[str, Any] = {}
        for kind, name in (("profile", "user_profiles"), ("aggregate", "aggregates")):
            mine = percentiles(timings[kind]["metronome"])
            direct = percentiles(timings[kind]["direct"])
            latency[name] = {
                "requests": len(timings[kind]["metronome"]),
                "metronome_ms": mine,
                "direct_es_ms": direct,
                "p50_ratio_to_direct_es": ratio(mine["p50"], direct["p50"]),
            }
        return {
            "what": "sequential queries (concurrency 1) after the load, every tag searchable",
            "statuses": statuses,
            "correctness": judge.report(),
            "latency_vs_direct_es": latency,
            "resources": resources,
        }

    # --- the search ------------------------------------------------------------------------

    def search(self, port: int, failed_rate: float) -> dict[str, Any]:
        """Bisection over the tag rate between 0 and a failed rate, short runs."""
        args = self.args
        low, high = 0.0, failed_rate
        steps: list[dict[str, Any]] = []
        for step in range(args.search_steps):
            rate = float(max(10, round((low + high) / 2 / 10) * 10))
            if rate >= high or rate <= low:
                break
            plan = Round(
                name=f"search step {step + 1}",
                tag_rate=rate,
                duration=args.search_duration,
                warmup=args.warmup,
                seed=args.seed + 100 + step,
                start=args.start + timedelta(days=step + 1),  # its own day: answers apart
            )
            report = self.run_round(plan, port).report
            passed = bool(report["meets_targets"]["sustained"])
            steps.append(
                {
                    "tag_rate_per_s": rate,
                    "sustained": passed,
                    "tags_p99_ms": report["user_tags"]["latency_ms"]["p99"],
                    "tags_errors": report["user_tags"]["error_count"],
                    "profiles_p99_ms": report["user_profiles"]["latency_ms"]["p99"],
                    "aggregates_p99_ms": report["aggregates"]["latency_ms"]["p99"],
                    "match_pct": report["correctness"]["match_pct"],
                    "correct_pct": report["correctness"]["correct_pct"],
                    "cpu_cores": report["resources"]["cpu_cores"],
                    "cpu_cores_busy_total": report["resources"]["cpu_cores_busy_total"],
                    "max_shipping_backlog_docs": report["shipping"]["max_shipping_backlog_docs"],
                }
            )
            if passed:
                low = rate
            else:
                high = rate
        return {
            "criterion": (
                "user_tags p99 < 200 ms with no errors and >= 99 % of the rate answered, "
                "user_profiles p99 < 200 ms and aggregates p99 < 1 s at 1/10 and 1/1000 of it"
            ),
            "step_duration_s": args.search_duration,
            "steps": steps,
            "highest_sustained_tag_rate_per_s": low or None,
            "lowest_failed_tag_rate_per_s": high,
        }

    # --- the run ---------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        args = self.args
        self.begin()
        self.start_elasticsearch(nice=args.es_nice)
        self.es.owned.append(self.prefix)  # on someone else's node: leave nothing behind
        warm_up = self.warm_up_elasticsearch()
        baseline: dict[str, Any] | None = None
        if args.baseline_duration > 0:
            port = self.start_bare()
            plan = Round(
                "baseline bare flask",
                args.tag_rate,
                args.baseline_duration,
                args.warmup,
                args.seed,
                args.start,
            )
            bare = self.run_round(plan, port, metronome=False, queries=False).report
            self.harness.stop("gunicorn_bare")
            baseline = {
                "what": "the same tags at the same rate to bench/bare_app.py (append, 202)",
                "user_tags": bare["user_tags"],
                "resources": bare["resources"],
            }
        settings = self.metronome_settings(self.prefix)
        self.start_metronome(settings)  # gunicorn + shipper, as ``metronome serve`` runs them
        port = settings.server.port
        main = self.run_round(
            Round("main run", args.tag_rate, args.duration, args.warmup, args.seed, args.start),
            port,
        )
        run = main.report
        if baseline is not None:
            base = baseline["user_tags"]["latency_ms"]
            mine = run["user_tags"]["latency_ms"]
            run["user_tags"]["p99_ratio_to_bare_flask"] = ratio(mine["p99"], base["p99"])
            run["user_tags"]["p50_ratio_to_bare_flask"] = ratio(mine["p50"], base["p50"])
        final = self.final_pass(main, port) if args.final_profiles + args.final_aggregates else None
        main.tags = []  # the search rounds need the memory more
        search: dict[str, Any] | None = None
        if args.search:
            if run["meets_targets"]["sustained"]:
                search = {"skipped": f"{args.tag_rate:g} tags/s met the targets"}
            else:
                search = self.search(port, args.tag_rate)
        self.harness.stop("gunicorn_metronome")
        self.harness.stop("shipper")
        sustained = (
            args.tag_rate
            if run["meets_targets"]["sustained"]
            else (search or {}).get("highest_sustained_tag_rate_per_s")
        )
        figures = {
            "elasticsearch_warm_up": warm_up,
            "targets": {
                "user_tags": f"{args.tag_rate:g}/s sustained, p99 < {TAG_P99_TARGET_MS:g} ms, "
                "no errors",
                "user_profiles": f"p99 < {PROFILE_P99_TARGET_MS:g} ms",
                "aggregates": f"p99 < {AGGREGATE_P99_TARGET_MS:g} ms",
                "correctness": f"{MATCH_TARGET_PCT:g} % of answers equal to the model",
            },
            "meets_targets": run["meets_targets"],
            "sustained_tag_rate_per_s": sustained,
            "run": run,
            "baseline": baseline,
            "final_pass": final,
            "search": search,
        }
        return self.report(
            figures,
            short_run=args.duration < 300,
            limits=limits_note,
            start=args.start.isoformat(),
            external_es=bool(args.es_url),
            index_prefix=self.prefix,
        )


def rated_streams(streams: dict[str, Any]) -> dict[str, Any]:
    """The load generator's figures per endpoint, with the ratios to the targets."""
    result: dict[str, Any] = {}
    for kind, name, target in (
        ("tags", "user_tags", TAG_P99_TARGET_MS),
        ("profiles", "user_profiles", PROFILE_P99_TARGET_MS),
        ("aggregates", "aggregates", AGGREGATE_P99_TARGET_MS),
    ):
        stream = streams.get(kind)
        if stream is None:
            continue
        p99 = stream["latency_ms"]["p99"]
        stream["p99_target_ms"] = target
        stream["p99_ratio_to_target"] = ratio(p99, target)
        stream["rate_ratio_to_target"] = ratio(
            stream["achieved_rate_per_s"], stream["target_rate_per_s"]
        )
        result[name] = stream
    return result


def meets_targets(report: dict[str, Any]) -> dict[str, Any]:
    tags, profiles, aggregates = (
        report["user_tags"],
        report.get("user_profiles"),
        report.get("aggregates"),
    )

    def under(stream: dict[str, Any] | None, target: float) -> bool | None:
        if stream is None:
            return None
        p99 = stream["latency_ms"]["p99"]
        return p99 is not None and p99 < target

    tags_ok = (
        bool(under(tags, TAG_P99_TARGET_MS))
        and tags["error_count"] == 0
        and (tags["rate_ratio_to_target"] or 0) >= 0.99
    )
    result = {
        "user_tags": tags_ok,
        "user_profiles": under(profiles, PROFILE_P99_TARGET_MS),
        "aggregates": under(aggregates, AGGREGATE_P99_TARGET_MS),
        "correctness": (report.get("correctness") or {}).get("meets_target"),
    }
    result["sustained"] = tags_ok and result["user_profiles"] is not False
    result["sustained"] = bool(result["sustained"] and result["aggregates"] is not False)
    return result


# --- what limits the rate ------------------------------------------------------------------


def shipping_notes(run: dict[str, Any]) -> list[str]:
    """The shipping lag, and answers that lacked tags because of it."""
    notes: list[str] = []
    rate = run["tag_rate_per_s"]
    shipping = run.get("shipping", {})
    backlog = shipping.get("max_shipping_backlog_docs")
    if backlog is not None and rate:
        lag = backlog / rate
        verdict = (
            "the shipper kept up with the volume"
            if lag < PROFILE_LAG_S / 2
            else "the shipper fell behind (profiles need tags within 10 s)"
        )
        notes.append(
            f"Shipping backlog at most {backlog} tags (~{lag:.1f} s of load; {verdict}); "
            f"searchable {shipping.get('searchable_after_load_s')} s after the load ended."
        )
    correctness = run.get("correctness") or {}
    for name in ("profiles", "aggregates"):
        tally = correctness.get(name) or {}
        if tally.get("mismatched_stale"):
            age = tally.get("oldest_missing_tag_s")
            notes.append(
                f"{tally['mismatched_stale']} {name} answers lacked tags that were answered 204 "
                + (f"up to {age} s " if age is not None else "")
                + "before the query (spec: 10 s for profiles, 60 s for aggregates): they were "
                "not searchable yet (late, not wrong: the final pass checks them)."
            )
            backlog_s = (backlog or 0) / rate if rate else 0.0
            if age is not None and backlog is not None and age > 2 * max(backlog_s, 1.0):
                notes.append(
                    f"The whole shipping backlog stayed under {backlog_s:.1f} s of load while "
                    f"those tags waited {age} s: the spool is not shipped in the order the tags "
                    "were accepted (some tags wait behind later ones)."
                )
        if tally.get("mismatched_other"):
            notes.append(f"{tally['mismatched_other']} {name} answers were wrong otherwise.")
    return notes


def unknown_outcome_note(run: dict[str, Any], final: dict[str, Any] | None) -> list[str]:
    """Answers that differ from the model only by tags whose answer never came."""
    unknown = run.get("unknown_outcome") or {}
    if not unknown.get("tags"):
        return []
    counts = [
        f"{part['correctness']['mismatched_unknown_outcome']} {label}"
        for part, label in ((run, "in-run"), (final, "final-pass"))
        if part and part.get("correctness")
    ]
    return [
        f"{unknown['tags']} tags got no answer (time-outs, closed connections) or a 5xx; "
        f"Elasticsearch holds {unknown['tags_found_stored']} of them. "
        f"{' and '.join(counts)} answers differ from the model only by such tags: the service "
        "stored what the load generator gave up on (not errors; see correct_pct)."
    ]


def limits_note(report: dict[str, Any]) -> str:
    """What limited the rate, from the CPU per process, the latencies and the shipping lag."""
    run = report["run"]
    cpu = CpuUse.of(run["resources"])
    notes = [
        f"Main run at {run['tag_rate_per_s']:g} tags/s: {cpu.busy_text()} ({cpu.listing()}, other "
        f"processes {cpu.other:.2f})."
    ]
    met = run["meets_targets"]
    missed = [name for name in ("user_tags", "user_profiles", "aggregates") if met[name] is False]
    if missed:
        figures = ", ".join(
            f"{name} p99 {run[name]['latency_ms']['p99']} ms, {run[name]['error_count']} errors"
            for name in missed
        )
        notes.append(f"Missed: {figures}.")
    else:
        notes.append("Every latency target met.")
    if cpu.saturated:
        notes.append(
            f"The machine is CPU-saturated, most of it in {cpu.busiest}: the processes queue for "
            "the cores, so the rate is limited by CPU per request (all on one machine)."
        )
    elif missed:
        notes.append(
            "CPU is not saturated: the latency is waiting (fsync of the spool, Elasticsearch "
            "refresh and merges, the gunicorn thread pool)."
        )
    notes += [
        f"{name} used {cpu.cores[name]:.2f} cores: its single Python thread is near its limit."
        for name in cpu.at_one_core(SINGLE_THREADED)
    ]
    if cpu.noisy:
        notes.append(
            "Much CPU outside the bench's processes: kernel time (loopback networking, fsync) "
            "or other programs; if load_average_at_start was high, rerun on an idle host."
        )
    notes += shipping_notes(run)
    final = report.get("final_pass")
    notes += unknown_outcome_note(run, final)
    if final:
        parts = [
            f"{name} p50 {v['metronome_ms']['p50']} ms vs {v['direct_es_ms']['p50']} ms direct"
            for name, v in final["latency_vs_direct_es"].items()
        ]
        notes.append(f"Idle service times: {'; '.join(parts)} (the rest of the time is queueing).")
    search = report.get("search")
    if search and "steps" in search:
        notes.append(
            f"Search: highest sustained rate {search['highest_sustained_tag_rate_per_s']} "
            f"tags/s, lowest failed {search['lowest_failed_tag_rate_per_s']} tags/s."
        )
    if report["settings"].get("external_es"):
        notes.append("Elasticsearch was not started here: its CPU counts as other processes.")
    notes.append(shared_cores_note("gunicorn, the shipper and the load generator", "tag"))
    return " ".join(notes)


# --- command line --------------------------------------------------------------------------


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser, add = bench_parser("Allezon endpoints benchmark")
    add("--tag-rate", type=float, default=1000.0, help="user tags per second")
    add("--duration", type=float, default=300.0, help="seconds measured in the main run")
    add("--warmup", type=float, default=10.0, help="seconds of load before measuring")
    add("--profile-every", type=float, default=10.0, help="one profile per N tags")
    add("--aggregate-every", type=float, default=1000.0, help="one aggregate per N tags")
    add("--profile-limit", type=int, default=200, help="the limit of every profile")
    add("--profile-range", type=float, default=300.0, help="longest profile time_range, s")
    add("--tag-connections", type=int, default=64)
    add("--profile-connections", type=int, default=32)
    add("--aggregate-connections", type=int, default=4)
    add("--cookies", type=int, default=10_000, help="distinct cookies (Zipf)")
    add("--products", type=int, default=400)
    add("--quiet-minutes", type=int, default=0, help="an empty stretch halfway (0: none)")
    add("--seed", type=int, default=5)
    add("--start", type=_moment, default=datetime(2022, 3, 1, tzinfo=UTC), help="logical start")
    add("--baseline-duration", type=float, default=60.0, help="bare-Flask tags run; 0: none")
    add("--final-profiles", type=int, default=200, help="final pass: profiles")
    add("--final-aggregates", type=int, default=100, help="final pass: aggregates")
    add("--crosscheck", type=int, default=300, help="answers also checked with ReferenceModel")
    add("--search", action="store_true", help="if the main run misses a target, bisect the rate")
    add("--search-steps", type=int, default=5)
    add("--search-duration", type=float, default=60.0, help="seconds measured per search step")
    add("--drain-timeout", type=float, default=600.0)
    add_run_options(
        parser, heap="1g", keep="logs, answers", nice=True, warm_up="tags", loadgen=True
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    return run_bench(AllezonBench, parse_args(argv), say, loadgen=loadgen_main)


if __name__ == "__main__":
    sys.exit(main())
