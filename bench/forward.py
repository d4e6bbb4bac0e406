"""The server-logs benchmark: Fluentd's forward protocol vs ``POST /ingest/logs``, and end to
end into Elasticsearch vs raw ``_bulk``.

Everything runs on this machine, in this run, with the same nginx access-log records
(``{"message": "<combined line>"}``, varied clients, paths, agents, statuses):

1. an embedded Elasticsearch (temporary data directory, free port, 1g heap), warmed up;
2. accept, forward: ``metronome forward`` on its own spool (fsync per append); a load-generator
   process sends PackedForward messages of ``--batch`` records as Fluentd's ``out_forward``
   does (entries ``[EventTime, record]`` in a str32, option ``size``/``compressed: text``/
   ``chunk``) from N concurrent senders, each waiting for its ``{"ack": chunk}`` before the
   next, over a new connection per message (Fluentd's default; ``--keepalive`` reuses them);
3. accept, HTTP: the same records as NDJSON bodies of ``--batch`` records (Fluentd
   ``out_http``) to ``POST /ingest/logs/nginx.access`` on gunicorn as ``metronome serve`` runs
   it, each waiting for its 202;
4. end to end, baseline: the documents the forward path spools, sent as the shipper sends
   them (``create``, the same ids) with ``elasticsearch.helpers.bulk``, until searchable;
5. end to end, Metronome: all records over the forward protocol (then over HTTP) with the
   shipper running, from the first send until ``_count`` sees them all.

No shipper runs during the accept runs (2, 3): they measure what the listener and the web
workers take, each on a fresh spool. CPU (cores) and peak RSS are sampled per process from
/proc. Prints one JSON object; progress goes to stderr. Every process started here is
stopped on exit, Ctrl-C included.

    .venv/bin/python bench/forward.py              # 200,000 records per run, ~9 minutes
    .venv/bin/python bench/forward.py --quick      # a smoke run, under a minute
"""

from __future__ import annotations

import argparse
import ast
import base64
import json
import math
import os
import random
import re
import resource
import shutil
import socket
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgpack  # type: ignore[import-untyped]
from elasticsearch.helpers import bulk

if __package__ in (None, ""):  # run as a script: make ``bench`` and ``metronome`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import elastic
from bench._common import ROOT, BenchError, filesystem_of, free_port, percentiles, ratio
from bench.harness import ROLES, Process
from bench.keepalive import parse_response
from bench.limits import CpuUse, shared_cores_note
from bench.options import add_run_options, bench_parser, int_list, name_list
from bench.server_bench import ServerBench, run_bench
from metronome.config import (
    DEFAULT_CONFIG_FILE,
    ForwardSettings,
    LogsSettings,
    Settings,
    SpoolSettings,
    load_settings,
)
from metronome.enrich.visitors import DailySalts
from metronome.es.templates import install_templates
from metronome.logs.context import log_context
from metronome.logs.events import LogEvent
from metronome.logs.records import log_entry
from metronome.serve.plan import FORWARD, SHIPPER, WEB
from metronome.spool.entry import decode_entry, encode_entry

TAG = "nginx.access"
HTTP_PATH = f"/ingest/logs/{TAG}"
SPOOL_MAX_BYTES = 16 * 1024**3  # no 503 because a run without a shipper filled the spool
LOG_SPAN_SECONDS = 600.0  # the lines' times cover the 10 minutes before the run
SINGLE_PROCESS = ("forward", "shipper", "bench_driver", "loadgen")  # one Python process each
STARTED = time.monotonic()


def say(message: str) -> None:
    print(f"forward: [{time.monotonic() - STARTED:5.1f}s] {message}", file=sys.stderr, flush=True)


# --- the records: nginx combined-format lines --------------------------------------------

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
SITE = "https://data.example.org"
SEARCH_WORDS = ("rivers", "air+quality", "census", "bus+stops", "budget", "trees", "schools")
STATIC_FILES = ("js/app.{h}.js", "css/site.{h}.css", "img/hero.{h}.webp", "img/logo.svg")
PROBES = ("/wp-login.php", "/.env", "/admin/config.php", "/xmlrpc.php", "/.git/config")
DATASETS = 5000  # ids ds-0001..ds-5000, Zipf-like popularity
CLIENTS = 20_000


@dataclass(frozen=True)
class Message:
    """One PackedForward message / one NDJSON body: its chunk id and its records."""

    chunk: str  # Fluentd's: base64 of 16 random bytes and a newline
    records: Sequence[tuple[int, str]]  # (event time in ns since the epoch, access-log line)


def user_agents() -> list[str]:
    """~70 browser, mobile and bot agents (the product caches parsed agents: real logs repeat)."""
    webkit = "AppleWebKit/537.36 (KHTML, like Gecko)"
    agents = []
    for version in range(118, 132):
        agents += [
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {webkit} Chrome/{version}.0.0.0 "
            "Safari/537.36",
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {webkit} Chrome/{version}.0.0.0 "
            "Safari/537.36",
            f"Mozilla/5.0 (Linux; Android 14; Pixel 8) {webkit} Chrome/{version}.0.0.0 Mobile "
            "Safari/537.36",
            f"Mozilla/5.0 (X11; Linux x86_64; rv:{version}.0) Gecko/20100101 Firefox/{version}.0",
        ]
    for minor in range(3, 7):
        agents += [
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
            f"Gecko) Version/17.{minor} Safari/605.1.15",
            f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_{minor} like Mac OS X) AppleWebKit/605.1.15 "
            f"(KHTML, like Gecko) Version/17.{minor} Mobile/15E148 Safari/604.1",
        ]
    return [
        *agents,
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        "curl/8.5.0",
        "python-requests/2.31.0",
        "Wget/1.21.4",
    ]


def _client_address(rng: random.Random) -> str:
    if rng.random() < 0.05:
        groups = (rng.randrange(0x10000), rng.randrange(0x10000), rng.randrange(1, 0x10000))
        return "2a02:{:x}:{:x}::{:x}".format(*groups)
    first = rng.choice((31, 46, 62, 77, 81, 85, 91, 93, 109, 176, 178, 185, 188, 194, 212, 217))
    return f"{first}.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def _dataset(rng: random.Random) -> str:
    return f"ds-{min(int(rng.paretovariate(1.0)), DATASETS):04d}"


def _request(rng: random.Random) -> tuple[str, str, int, int]:
    """(method, target, status, bytes) of one request to a data portal."""
    roll = rng.random()
    if roll < 0.35:
        method, target, size = "GET", f"/datasets/{_dataset(rng)}", rng.randint(9_000, 60_000)
    elif roll < 0.45:
        fmt = rng.choice(("csv", "csv", "kml", "shp", "zip"))
        method, target = "GET", f"/datasets/{_dataset(rng)}.{fmt}"
        size = int(rng.lognormvariate(12, 1.5))
    elif roll < 0.75:
        name = rng.choice(STATIC_FILES).format(
            h=f"{rng.randrange(16**8):08x}"[: rng.choice((6, 8))]
        )
        method, target, size = "GET", f"/static/{name}", rng.randint(800, 400_000)
    elif roll < 0.87:
        word, page = rng.choice(SEARCH_WORDS), rng.randint(1, 5)
        method = "POST" if rng.random() < 0.2 else "GET"
        target, size = f"/api/v1/search?q={word}&page={page}", rng.randint(400, 20_000)
    elif roll < 0.97:
        target = rng.choice(("/", "/", "/about", "/favicon.ico", "/robots.txt", "/sitemap.xml"))
        method, size = ("HEAD" if rng.random() < 0.1 else "GET"), rng.randint(200, 30_000)
    else:
        method, target, size = "GET", rng.choice(PROBES), 153
        return method, target, 404, size
    status = rng.choices((200, 304, 301, 404, 500), weights=(86, 8, 2, 3, 1))[0]
    return method, target, status, 0 if status == 304 else size


def _referrer(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.35:
        return "-"
    if roll < 0.70:
        return f"{SITE}/datasets/{_dataset(rng)}"
    if roll < 0.80:
        return f"{SITE}/"
    if roll < 0.95:
        return rng.choice(("https://www.google.com/", "https://duckduckgo.com/"))
    return f"https://news.example.net/article/{rng.randint(1, 400)}"


def _log_time(moment: datetime) -> str:
    return (
        f"{moment.day:02d}/{MONTHS[moment.month - 1]}/{moment.year}:"
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000"
    )


def access_log(total: int, seed: int, end: datetime) -> list[tuple[int, str]]:
    """``total`` (time in ns, line) pairs over the ``LOG_SPAN_SECONDS`` before ``end``, in time
    order. Clients are Zipf-like (a few heavy ones), each with its own agent."""
    rng = random.Random(seed)
    agents = user_agents()
    clients = [(_client_address(rng), rng.choice(agents)) for _ in range(CLIENTS)]
    weights = [1.0 / (rank + 1) ** 0.8 for rank in range(CLIENTS)]
    chosen = rng.choices(clients, weights=weights, k=total)
    start_ns = int((end.timestamp() - LOG_SPAN_SECONDS) * 1e9)
    step_ns = int(LOG_SPAN_SECONDS * 1e9) // max(total, 1)
    records = []
    for number, (client, agent) in enumerate(chosen):
        time_ns = start_ns + number * step_ns + rng.randrange(max(step_ns, 1))
        moment = datetime.fromtimestamp(time_ns // 1_000_000_000, UTC)
        method, target, status, size = _request(rng)
        protocol = "HTTP/2.0" if rng.random() < 0.3 else "HTTP/1.1"
        line = (
            f'{client} - - [{_log_time(moment)}] "{method} {target} {protocol}" {status} {size} '
            f'"{_referrer(rng)}" "{agent}"'
        )
        records.append((time_ns, line))
    return records


def messages_of(records: list[tuple[int, str]], batch: int, seed: int) -> list[Message]:
    rng = random.Random(seed + 1)
    return [
        Message(base64.b64encode(rng.randbytes(16)).decode() + "\n", records[at : at + batch])
        for at in range(0, len(records), batch)
    ]


# --- what the load generator sends -------------------------------------------------------


def event_time(time_ns: int) -> Any:
    """Fluentd's EventTime: msgpack extension 0, uint32 seconds + uint32 nanoseconds."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return msgpack.ExtType(0, struct.pack(">II", seconds, nanos))


def packed_forward(message: Message) -> bytes:
    """``[tag, entries, option]`` exactly as ``out_forward`` writes it: the entries (each a
    msgpack ``[time, record]``) concatenated inside a str32, then the option map."""
    entries = b"".join(
        msgpack.packb([event_time(time_ns), {"message": line}]) for time_ns, line in message.records
    )
    option = {"size": len(message.records), "compressed": "text", "chunk": message.chunk}
    head: bytes = b"\x93" + msgpack.packb(TAG) + b"\xdb" + struct.pack(">I", len(entries))
    tail: bytes = msgpack.packb(option)
    return head + entries + tail


def ndjson_request(message: Message, write_key: str | None) -> bytes:
    """``POST /ingest/logs/<tag>`` with an NDJSON body, as Fluentd ``out_http`` sends it."""
    body = "".join(
        json.dumps({"message": line}, separators=(",", ":")) + "\n" for _, line in message.records
    ).encode()
    head = (
        f"POST {HTTP_PATH} HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        "User-Agent: fluentd out_http\r\n"
        "Content-Type: application/x-ndjson\r\n"
        + (f"X-Metronome-Key: {write_key}\r\n" if write_key else "")
        + f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass(frozen=True)
class Frame:
    """One payload for the load generator and what proves it was stored."""

    expect: bytes  # forward: the chunk the ack must echo; HTTP: unused
    records: int
    payload: bytes


_FRAME_HEAD = struct.Struct(">III")


def write_frames(path: Path, frames: Iterable[Frame]) -> int:
    size = 0
    with open(path, "wb") as out:
        for frame in frames:
            out.write(_FRAME_HEAD.pack(len(frame.expect), frame.records, len(frame.payload)))
            out.write(frame.expect + frame.payload)
            size += len(frame.payload)
    return size


def read_frames(path: Path) -> list[Frame]:
    data = memoryview(path.read_bytes())
    frames, at = [], 0
    while at < len(data):
        expect_size, records, payload_size = _FRAME_HEAD.unpack_from(data, at)
        at += _FRAME_HEAD.size
        expect = bytes(data[at : at + expect_size])
        payload = bytes(data[at + expect_size : at + expect_size + payload_size])
        frames.append(Frame(expect, records, payload))
        at += expect_size + payload_size
    return frames


# --- the load generator (its own process: ``bench/forward.py --loadgen SPEC``) ------------


class _Failed(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Peer:
    """One sender: sends a payload, waits for the ack (forward) or the 202 (HTTP). Without
    ``keepalive`` each payload goes over a new connection, closed once answered: Fluentd's
    default for both outputs (``out_forward`` ``keepalive false``, ``out_http``
    ``reuse_connections false``)."""

    def __init__(self, protocol: str, port: int, timeout: float, keepalive: bool) -> None:
        self.protocol = protocol
        self.port = port
        self.timeout = timeout
        self.keepalive = keepalive
        self.sock: socket.socket | None = None
        self.unpacker = msgpack.Unpacker(raw=False)
        self.inbox = bytearray()
        self.opened = 0  # connections opened

    def connect(self) -> socket.socket:
        if self.sock is None:
            self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.unpacker = msgpack.Unpacker(raw=False)
            self.inbox = bytearray()
            self.opened += 1
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def exchange(self, frame: Frame) -> None:
        """Raises ``_Failed`` (and closes the connection) unless the frame was stored."""
        try:
            sock = self.connect()
            sock.sendall(frame.payload)
            if self.protocol == "forward":
                self._await_ack(sock, frame)
            else:
                self._await_202(sock, frame)
            if not self.keepalive:
                self.close()
        except OSError as error:
            self.close()
            raise _Failed(type(error).__name__) from error
        except _Failed:
            self.close()
            raise

    def _receive(self, sock: socket.socket) -> bytes:
        data = sock.recv(65_536)
        if not data:
            raise _Failed("connection_closed")
        return data

    def _await_ack(self, sock: socket.socket, frame: Frame) -> None:
        while True:
            for answer in self.unpacker:
                if answer != {"ack": frame.expect.decode()}:
                    raise _Failed("wrong_ack")
                return
            self.unpacker.feed(self._receive(sock))

    def _await_202(self, sock: socket.socket, frame: Frame) -> None:
        while (parsed := parse_response(self.inbox)) is None:
            self.inbox += self._receive(sock)
        status, body, closes = parsed
        if closes:
            self.close()
        if status != 202:
            raise _Failed(f"status_{status}")
        try:
            accepted = int(json.loads(body)["accepted"])
        except (ValueError, KeyError, TypeError):
            raise _Failed("unreadable_answer") from None
        if accepted != frame.records:
            raise _Failed("records_refused")


@dataclass
class Tally:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    messages: int = 0
    records: int = 0
    failed_messages: int = 0
    first_send: float = math.inf
    last_answer: float = 0.0


class LoadGenerator:
    """Sends every frame once, closed loop: each connection sends its next frame as soon as
    the previous one is acknowledged. A frame that fails is sent again once on a new
    connection (Fluentd resends an unacknowledged chunk), then counted as failed."""

    def __init__(self, spec: dict[str, Any], frames: list[Frame], port: int) -> None:
        self.spec = spec
        self.frames = frames
        self.peers = [
            Peer(spec["protocol"], port, float(spec["socket_timeout"]), bool(spec["keepalive"]))
            for _ in range(int(spec["connections"]))
        ]
        self.tally = Tally()
        self.next_frame = 0
        self.deadline = math.inf

    def warm_up(self, frames: int) -> None:
        """The first ``frames`` frames over the first connection, before the measured run."""
        for frame in self.frames[:frames]:
            try:
                self.peers[0].exchange(frame)
            except _Failed as failure:
                raise BenchError(f"warm-up message failed: {failure.kind}") from None

    def _take(self) -> Frame | None:
        with self.tally.lock:
            if self.next_frame >= len(self.frames) or time.monotonic() > self.deadline:
                return None
            self.next_frame += 1
            return self.frames[self.next_frame - 1]

    def _drive(self, peer: Peer) -> None:
        tally = self.tally
        while (frame := self._take()) is not None:
            for _attempt in range(2):
                sent = time.perf_counter()
                try:
                    peer.exchange(frame)
                except _Failed as failure:
                    with tally.lock:
                        tally.errors[failure.kind] = tally.errors.get(failure.kind, 0) + 1
                    continue
                answered = time.perf_counter()
                with tally.lock:
                    tally.latencies.append(answered - sent)
                    tally.messages += 1
                    tally.records += frame.records
                    tally.first_send = min(tally.first_send, sent)
                    tally.last_answer = max(tally.last_answer, answered)
                break
            else:
                with tally.lock:
                    tally.failed_messages += 1

    def run(self) -> dict[str, Any]:
        self.deadline = time.monotonic() + float(self.spec["timeout"])
        opened_before = sum(peer.opened for peer in self.peers)
        before = resource.getrusage(resource.RUSAGE_SELF)
        wall_offset = time.time() - time.perf_counter()
        threads = [threading.Thread(target=self._drive, args=(peer,)) for peer in self.peers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for peer in self.peers:
            peer.close()
        after = resource.getrusage(resource.RUSAGE_SELF)
        tally = self.tally
        first = tally.first_send if tally.messages else 0.0
        seconds = max(tally.last_answer - first, 1e-9) if tally.messages else 0.0
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        return {
            "protocol": self.spec["protocol"],
            "connections": len(self.peers),
            "messages": tally.messages,
            "records": tally.records,
            "failed_messages": tally.failed_messages,
            "unsent_messages": len(self.frames) - self.next_frame,
            "errors": tally.errors,
            "connections_opened": sum(peer.opened for peer in self.peers) - opened_before,
            "seconds": round(seconds, 3),
            "records_per_s": round(tally.records / seconds, 1) if seconds else None,
            "messages_per_s": round(tally.messages / seconds, 2) if seconds else None,
            "ack_latency_ms": percentiles(tally.latencies),
            "first_send_unix": round(first + wall_offset, 6),
            "last_answer_unix": round(tally.last_answer + wall_offset, 6),
            "cpu_seconds": round(cpu, 3),
            "peak_rss_mb": round(after.ru_maxrss / 1024, 1),
        }


def loadgen_main(spec_path: str) -> int:
    """Load the frames; read the server's port (stdin: it starts while we import and load);
    connect, warm up, say ``ready``; on ``go`` run, print the JSON report."""
    spec = json.loads(Path(spec_path).read_text())
    frames = read_frames(Path(spec["payloads"]))
    port = sys.stdin.readline().strip()
    if not port.isdigit():
        return 1
    generator = LoadGenerator(spec, frames, int(port))
    try:
        for peer in generator.peers:
            peer.connect()
        generator.warm_up(int(spec["warmup"]))
    except (OSError, BenchError) as error:
        print(f"loadgen: {error}", file=sys.stderr, flush=True)
        return 1
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        return 1
    print(json.dumps(generator.run()), flush=True)
    return 0


# --- the documents of the baseline -------------------------------------------------------


def child_settings() -> Settings:
    """The settings Metronome's processes load (they run in ROOT): the ``logs`` section and the
    privacy mode shape the documents."""
    default = ROOT / DEFAULT_CONFIG_FILE
    return load_settings(
        os.environ.get("METRONOME_CONFIG") or (default if default.exists() else None)
    )


def spooled_documents(messages: Sequence[Message]) -> list[tuple[str, str, bytes]]:
    """(``<stream>-<day>``, id, JSON) of every record as the forward path spools it and the
    shipper sends it: the same event (tag, time, record, chunk id + position as its key)
    through ``log_entry`` and the spool's encoding; only the visitor salt differs."""
    context = log_context(child_settings(), DailySalts(os.urandom(32)))
    received = datetime.now(UTC)
    documents = []
    for message in messages:
        key = f"chunk:{message.chunk.encode().hex()}:"
        for position, (time_ns, line) in enumerate(message.records):
            moment = datetime.fromtimestamp(0, UTC) + timedelta(microseconds=time_ns // 1000)
            event = LogEvent(TAG, moment, {"message": line}, "forward", f"{key}{position}")
            spooled = decode_entry(encode_entry(log_entry(event, context, received)))
            documents.append((f"{spooled.stream}-{spooled.day}", spooled.id, spooled.doc_json))
    return documents


def bulk_actions(documents: Iterable[tuple[str, str, bytes]], prefix: str) -> Iterator[Any]:
    for suffix, doc_id, source in documents:
        yield elastic.create_action(f"{prefix}-{suffix}", doc_id, source)


# --- the run -------------------------------------------------------------------------------


@dataclass
class Stack:
    """Metronome's processes for one run, on their own spool and index prefix."""

    name: str
    prefix: str
    directory: Path
    roles: list[str] = field(default_factory=list)
    forward_port: int = 0
    http_port: int = 0


class ForwardBench(ServerBench):
    name = "forward"

    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        super().__init__(args, workdir, say)
        self.run_prefix = f"bench-{uuid.uuid4().hex[:8]}"
        self.messages: list[Message] = []
        self.documents: list[tuple[str, str, bytes]] = []
        self.payloads: dict[str, Path] = {}

    @property
    def records(self) -> int:
        return sum(len(message.records) for message in self.messages)

    # --- lifecycle -------------------------------------------------------------------------

    def prepare(self) -> dict[str, Any]:
        """The records, the two load generators' payload files and the baseline's documents."""
        args = self.args
        say(f"building {args.records} records, messages of {args.batch}...")
        records = access_log(args.records, args.seed, datetime.now(UTC))
        self.messages = messages_of(records, args.batch, args.seed)
        self.payloads = {name: self.workdir / f"{name}.frames" for name in ("forward", "http")}
        forward_bytes = write_frames(
            self.payloads["forward"],
            (Frame(m.chunk.encode(), len(m.records), packed_forward(m)) for m in self.messages),
        )
        http_bytes = write_frames(
            self.payloads["http"],
            (Frame(b"", len(m.records), ndjson_request(m, args.write_key)) for m in self.messages),
        )
        self.documents = spooled_documents(self.messages)
        document_bytes = sum(len(source) for _, _, source in self.documents)
        return {
            "records": len(records),
            "messages": len(self.messages),
            "records_per_message": args.batch,
            "line_bytes_mean": round(sum(len(line) for _, line in records) / len(records), 1),
            "forward_message_bytes_mean": round(forward_bytes / len(self.messages)),
            "http_request_bytes_mean": round(http_bytes / len(self.messages)),
            "document_bytes_mean": round(document_bytes / len(self.documents), 1),
            "example_line": records[0][1],
        }

    def start_stack(self, name: str, protocol: str, shipper: bool) -> Stack:
        """``metronome forward`` or gunicorn (as ``metronome serve`` starts them), and the
        shipper if asked, with a fresh spool and index prefix."""
        stack = Stack(name, f"{self.run_prefix}-{name}", self.workdir / name)
        settings = self.metronome_settings(
            stack.prefix,
            SpoolSettings(dir=stack.directory / "spool", max_bytes=SPOOL_MAX_BYTES),
            logs=LogsSettings(forward=ForwardSettings(host="127.0.0.1", port=free_port())),
        )
        self.es.owned.append(stack.prefix)
        listener = FORWARD if protocol == "forward" else WEB
        started = self.start_metronome(settings, (SHIPPER, listener) if shipper else (listener,))
        stack.roles = [ROLES[name] for name in started]
        if protocol == "forward":
            stack.forward_port = settings.logs.forward.port
        else:
            stack.http_port = settings.server.port
        return stack

    def stop_stack(self, stack: Stack) -> dict[str, Any] | None:
        """Stops the stack's processes; the forward listener's own counters, if it ran."""
        for role in reversed(stack.roles):
            self.harness.stop(role)
        counters = None
        if "forward" in stack.roles:
            found = re.findall(r"server stopped: (\{.*\})", self.harness.log_tail("forward", 5))
            counters = ast.literal_eval(found[-1]) if found else None
        if not self.args.keep:
            shutil.rmtree(stack.directory, ignore_errors=True)
        return counters

    # --- the load generator ----------------------------------------------------------------

    def start_loadgen(self, protocol: str, connections: int, warmup: int) -> Process:
        """The load generator, started before the server (its imports and frames take a
        second or two); ``drive`` tells it the port."""
        spec = {
            "protocol": protocol,
            "connections": connections,
            "payloads": str(self.payloads[protocol]),
            "warmup": warmup,
            "keepalive": self.args.keepalive,
            "timeout": self.args.timeout,
            "socket_timeout": min(self.args.timeout, 300.0),
        }
        spec_path = self.workdir / "loadgen.json"
        spec_path.write_text(json.dumps(spec))
        command = [sys.executable, "-m", "bench.forward", "--loadgen", str(spec_path)]
        return self.harness.start("loadgen", command, capture=True, stdin=True)

    def _loadgen_failed(self, what: str) -> BenchError:
        return BenchError(f"the load generator {what}:\n{self.harness.log_tail('loadgen')}")

    def _loadgen_report(self, process: Process) -> dict[str, Any]:
        assert process.stdout is not None
        output = process.stdout.read()
        process.wait()
        self.harness.release("loadgen")
        process.stdout.close()
        if process.returncode != 0:
            raise self._loadgen_failed(f"exited with {process.returncode}")
        report: dict[str, Any] = json.loads(output)
        return report

    def drive(
        self, phase: str, process: Process, port: int, searchable: str | None
    ) -> dict[str, Any]:
        """One load-generator run inside a monitored phase. With ``searchable`` (an index
        pattern) the phase lasts until ``_count`` sees every record, and the report says when."""
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(f"{port}\n".encode())
        process.stdin.flush()
        if process.stdout.readline().strip() != b"ready":
            process.wait()
            self.harness.release("loadgen")
            raise self._loadgen_failed("did not start")
        say(f"{phase}...")
        self.monitor.begin(phase)
        process.stdin.write(b"go\n")
        process.stdin.close()
        searchable_at = None
        if searchable is None:
            report = self._loadgen_report(process)
        else:
            report, searchable_at = self._until_searchable(process, searchable)
        report["resources"] = self.monitor.end({"loadgen": float(report["cpu_seconds"])})
        report.pop("peak_rss_mb", None)  # the monitor's figure is in resources
        if report["failed_messages"] or report["unsent_messages"]:
            say(f"{phase}: {report['failed_messages']} messages failed: {report['errors']}")
        if searchable_at is not None:
            report["searchable_unix"] = searchable_at
        return report

    def _until_searchable(self, process: Process, pattern: str) -> tuple[dict[str, Any], float]:
        report, _, done = elastic.searchable_while(
            self.client,
            pattern,
            process,
            lambda: self._loadgen_report(process),
            expected=self.records,
            sent="records",
            timeout=self.args.timeout,
        )
        return report, done

    # --- the phases ------------------------------------------------------------------------

    def warm_up_elasticsearch(self) -> None:
        prefix = f"{self.run_prefix}-warm"
        self.es.owned.append(prefix)
        install_templates(self.client, prefix)
        documents = self.documents[: self.args.es_warmup_docs]
        say(f"warming Elasticsearch up with {len(documents)} documents...")
        bulk(self.client, bulk_actions(documents, prefix), chunk_size=self.args.batch)
        elastic.wait_for_count(self.client, f"{prefix}-logs-*", len(documents), self.args.timeout)
        elastic.delete_indices(self.client, prefix)

    def accept(self, protocol: str, connections: int) -> dict[str, Any]:
        loadgen = self.start_loadgen(protocol, connections, self.args.warmup_messages)
        stack = self.start_stack(f"accept-{protocol}-{connections}", protocol, shipper=False)
        port = stack.forward_port or stack.http_port
        phase = f"accept, {protocol}, {connections} connections"
        try:
            run = self.drive(phase, loadgen, port, None)
        finally:
            counters = self.stop_stack(stack)
        if counters is not None:
            run["server_counters"] = counters
        return _accept_figures(run)

    def baseline_bulk(self) -> dict[str, Any]:
        prefix = f"{self.run_prefix}-bulk"
        self.es.owned.append(prefix)
        install_templates(self.client, prefix)
        say(f"end to end, baseline: helpers.bulk of {len(self.documents)} documents...")
        self.monitor.begin("end to end, bulk")
        figures = elastic.timed_bulk(
            self.client,
            bulk_actions(self.documents, prefix),
            chunk=self.args.batch,
            pattern=f"{prefix}-logs-*",
            timeout=self.args.timeout,
            rate="records_per_s",
        )
        figures["resources"] = self.monitor.end()
        elastic.delete_indices(self.client, prefix)
        return figures

    def end_to_end(self, protocol: str) -> dict[str, Any]:
        connections = self.args.e2e_connections
        loadgen = self.start_loadgen(protocol, connections, 0)
        stack = self.start_stack(f"e2e-{protocol}", protocol, shipper=True)
        port = stack.forward_port or stack.http_port
        pattern = f"{stack.prefix}-logs-*"
        try:
            run = self.drive(f"end to end, {protocol}", loadgen, port, pattern)
            time.sleep(2.5)  # a duplicate would be searchable by now (refresh interval 2 s)
            documents = elastic.count(self.client, pattern)
        finally:
            counters = self.stop_stack(stack)
        elastic.delete_indices(self.client, stack.prefix)
        first = float(run["first_send_unix"])
        searchable_s = float(run["searchable_unix"]) - first
        figures = {
            "records_per_s": round(int(run["records"]) / max(searchable_s, 1e-9), 1),
            "records": run["records"],
            "documents": documents,
            "exact": documents == self.records,
            "connections": connections,
            "accept_s": run["seconds"],
            "searchable_s": round(searchable_s, 3),
            "ack_latency_ms": run["ack_latency_ms"],
            "errors": run["errors"],
            "resources": run["resources"],
        }
        if counters is not None:
            figures["server_counters"] = counters
        return figures

    def run(self) -> dict[str, Any]:
        args = self.args
        self.begin(filesystem=filesystem_of(self.workdir))
        data = self.prepare()
        self.start_elasticsearch()
        if args.es_warmup_docs:
            self.warm_up_elasticsearch()
        accept: dict[str, Any] = {}
        e2e: dict[str, Any] = {}
        if "accept" in args.phases:
            runs: dict[str, dict[str, Any]] = {"forward": {}, "http": {}}
            for connections in args.connections:
                for protocol in ("forward", "http"):
                    runs[protocol][str(connections)] = self.accept(protocol, connections)
            accept = _accept_summary(runs)
        if "e2e" in args.phases:
            e2e["baseline_bulk"] = self.baseline_bulk()
            for protocol in ("forward", "http"):
                e2e[protocol] = self.end_to_end(protocol)
                e2e[protocol]["ratio_to_bulk"] = ratio(
                    e2e[protocol]["records_per_s"], e2e["baseline_bulk"]["records_per_s"]
                )
            e2e["ratio"] = e2e["forward"]["ratio_to_bulk"]
        figures = {"data": data, "accept": accept or None, "end_to_end": e2e or None}
        short_run = args.quick or args.records < 100_000
        return self.report(figures, short_run=short_run, limits=limits_note)


def _accept_figures(run: dict[str, Any]) -> dict[str, Any]:
    keep = ("records_per_s", "messages_per_s", "ack_latency_ms", "records", "seconds")
    extra = ("connections_opened", "errors", "resources", "server_counters")
    figures = {name: run[name] for name in (*keep, *extra) if name in run}
    figures["failed_messages"] = run["failed_messages"] + run["unsent_messages"]
    return figures


def _accept_summary(runs: dict[str, dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """The best run of each protocol, the ratio forward / HTTP of the bests and per
    connection count."""
    summary: dict[str, Any] = {}
    for protocol, by_connections in runs.items():
        best = max(by_connections, key=lambda n: float(by_connections[n]["records_per_s"] or 0))
        summary[protocol] = {
            "records_per_s": by_connections[best]["records_per_s"],
            "connections": int(best),
            "runs": by_connections,
        }
    summary["ratio"] = ratio(summary["forward"]["records_per_s"], summary["http"]["records_per_s"])
    summary["ratio_by_connections"] = {
        n: ratio(run["records_per_s"], runs["http"][n]["records_per_s"])
        for n, run in runs["forward"].items()
    }
    return summary


def _phase_limit(label: str, resources: dict[str, Any]) -> str:
    cpu = CpuUse.of(resources)
    findings = [
        f"{name} is near one full core (one Python process: its GIL is the ceiling)"
        for name in cpu.at_one_core(SINGLE_PROCESS)
    ]
    if cpu.at_one_core(["gunicorn_metronome"]):
        workers = cpu.cores["gunicorn_metronome"]
        findings.append(
            f"gunicorn's workers used {workers:.2f} cores: a request is parsed by one thread "
            "under its worker's GIL, so requests in flight use at most one core per worker "
            "they reached"
        )
    if cpu.saturated:
        findings.insert(0, f"the machine is CPU-saturated, most of it in {cpu.busiest}")
    if cpu.noisy:
        findings.append("other programs took a large share: noisy, rerun on an idle machine")
    if not findings:
        findings.append(
            "CPU not saturated: the rest is waiting (one request in flight per sender, "
            "fsync, refresh)"
        )
    return f"{label}: {cpu.busy_text()} ({cpu.listing()}; other {cpu.other:.2f}): " + (
        "; ".join(findings) + "."
    )


def limits_note(report: dict[str, Any]) -> str:
    notes = []
    accept = report.get("accept") or {}
    for protocol in ("forward", "http"):
        for connections, run in (accept.get(protocol) or {}).get("runs", {}).items():
            label = f"accept {protocol} x{connections}"
            notes.append(_phase_limit(label, run["resources"]))
    e2e = report.get("end_to_end") or {}
    for name in ("baseline_bulk", "forward", "http"):
        if name in e2e:
            notes.append(_phase_limit(f"end to end {name}", e2e[name]["resources"]))
    notes.append(
        shared_cores_note(
            "Metronome's processes and the load generator",
            "record",
            ": end to end, Elasticsearch indexes while the listener or the web workers parse",
        )
    )
    return " ".join(notes)


# --- command line --------------------------------------------------------------------------


FULL = {"records": 200_000, "connections": [1, 4], "warmup_messages": 5, "es_warmup_docs": 20_000}
QUICK = {"records": 2_000, "connections": [2], "warmup_messages": 1, "es_warmup_docs": 0}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser, add = bench_parser(
        "Server-logs benchmark: forward protocol vs POST /ingest/logs vs _bulk"
    )
    add("--records", type=int, help="records sent in every run (200,000; --quick 2,000)")
    add("--batch", type=int, default=1000, help="records per forward message / HTTP body")
    add("--connections", type=int_list, help="accept runs, e.g. 1,4 (--quick: 2)")
    add("--e2e-connections", type=int, default=4)
    add(
        "--keepalive",
        action="store_true",
        help="reuse each connection (default: a new one per message, Fluentd's default)",
    )
    add("--warmup-messages", type=int, help="sent before each accept run (5; --quick 1)")
    add("--phases", type=name_list, default=["accept", "e2e"])
    add("--seed", type=int, default=8)
    add("--timeout", type=float, default=1800.0, help="seconds any one run may take")
    add("--write-key", help="X-Metronome-Key for POST /ingest/logs, if the site needs one")
    add("--es-warmup-docs", type=int, help="bulk-loaded and deleted first (20,000; --quick 0)")
    add("--dir", help="where the temporary directory goes (spools: must be a real disk)")
    add("--quick", action="store_true", help="a smoke run, under a minute: not figures")
    add_run_options(parser, heap="1g", keep="logs, spools", loadgen=True)
    args = parser.parse_args(argv)
    for name, value in (QUICK if args.quick else FULL).items():
        if getattr(args, name) is None:  # what was given on the command line stays
            setattr(args, name, value)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    return run_bench(ForwardBench, args, say, parent=args.dir, loadgen=loadgen_main)


if __name__ == "__main__":
    sys.exit(main())
