"""Keep-alive HTTP/1.1 connections to the server under test: the selector loop the load
generators of ``bench/loadgen.py`` and ``bench/allezon.py`` drive (pre-built requests written
without blocking, answers parsed as they arrive, open-loop schedules, the counts of a stream of
requests), and one connection for sequential requests (``HttpClient``)."""

from __future__ import annotations

import http.client
import selectors
import socket
import time
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from bench._common import BenchError

READ_BYTES = 262_144
KEEPALIVE_REUSE_S = 1.5  # gunicorn closes idle keep-alive connections after 2 s


class ProtocolError(Exception):
    pass


def parse_response(buffer: bytearray) -> tuple[int, bytes, bool] | None:
    """(status, body, server closes) of the first whole response in ``buffer``, consumed."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    head = bytes(buffer[:head_end]).lower()
    try:
        status = int(head[9:12])
    except ValueError:
        raise ProtocolError(f"not an HTTP status line: {head[:40]!r}") from None
    length = 0
    at = head.find(b"\r\ncontent-length:")
    if at >= 0:
        line_end = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : line_end if line_end >= 0 else len(head)])
    elif b"\r\ntransfer-encoding:" in head:
        raise ProtocolError("chunked responses are not supported")
    total = head_end + 4 + length
    if len(buffer) < total:
        return None
    body = bytes(buffer[head_end + 4 : total])
    del buffer[:total]
    return status, body, b"\r\nconnection: close" in head


class Pacer:
    """Open-loop schedule: request ``i`` is due at ``start + i / rate``."""

    def __init__(self, start: float, rate: float) -> None:
        self.start = start
        self.interval = 1.0 / rate
        self.scheduled = 0

    def next_due(self) -> float:
        return self.start + self.scheduled * self.interval

    def due(self, now: float, until: float) -> list[float]:
        times = []
        while (when := self.next_due()) <= now and when < until:
            times.append(when)
            self.scheduled += 1
        return times


@dataclass(kw_only=True)
class Counts:
    """What the requests of one stream got: latencies (s), answers by status, errors by kind
    (answers that are not the good one, or none), and how often a connection was reopened."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    reconnects: int = 0

    def status(self, status: int) -> str:
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1
        return key

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


@dataclass(eq=False)
class Connection:
    sock: socket.socket
    inbox: bytearray = field(default_factory=bytearray)
    outbox: memoryview = field(default_factory=lambda: memoryview(b""))
    request: bytes = b""
    scheduled: float = 0.0  # when the request in flight was due (closed loop: when sent)
    busy: bool = False
    answered_bytes: bool = False
    retried: bool = False

    @property
    def resendable(self) -> bool:
        """The server closed it with a request in flight that got no byte of an answer (so
        was perhaps never read) and was not sent again yet."""
        return self.busy and not self.answered_bytes and not self.retried


def open_socket(host: str, port: int) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setblocking(False)
    return sock


C = TypeVar("C", bound=Connection)


class Loop(Generic[C]):
    """One selector over keep-alive connections. A subclass puts a request in flight with
    ``_begin`` then ``_flush``, and says what an answer does (``_answered``), what happens
    when the server closes a connection (``_closed``, ``_reconnect``), what a free
    connection does next (``_became_idle``) and what an unreadable answer does
    (``_unreadable``: raise it, by default)."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.in_flight = 0

    def _register(self, conn: C) -> C:
        self.selector.register(conn.sock, selectors.EVENT_READ, conn)
        return conn

    def _unregister(self, conn: C) -> None:
        self.selector.unregister(conn.sock)
        conn.sock.close()

    def _begin(self, conn: C, scheduled: float) -> None:
        """``conn.request`` is in flight, due at ``scheduled``."""
        conn.scheduled = scheduled
        conn.busy = True
        conn.answered_bytes = False
        conn.outbox = memoryview(conn.request)
        self.in_flight += 1

    def _finish(self, conn: C) -> float:
        """``conn``'s request is over (answered or given up): the time."""
        now = time.perf_counter()
        conn.busy = False
        self.in_flight -= 1
        return now

    def _flush(self, conn: C) -> None:
        try:
            written = conn.sock.send(conn.outbox)
        except (BlockingIOError, InterruptedError):
            written = 0
        except OSError:
            self._closed(conn)
            return
        conn.outbox = conn.outbox[written:]
        events = selectors.EVENT_READ | (selectors.EVENT_WRITE if conn.outbox else 0)
        self.selector.modify(conn.sock, events, conn)

    def _readable(self, conn: C) -> None:
        try:
            data = conn.sock.recv(READ_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._closed(conn)
            return
        conn.answered_bytes = True
        conn.inbox += data
        while conn.busy:
            try:
                parsed = parse_response(conn.inbox)
            except ProtocolError as error:
                self._unreadable(conn, error)
                return
            if parsed is None:
                return
            status, body, closes = parsed
            self._answered(conn, status, body)
            if closes:
                conn = self._reconnect(conn)
            self._became_idle(conn)

    def _poll(self, timeout: float) -> None:
        for key, events in self.selector.select(timeout):
            conn: C = key.data
            if events & selectors.EVENT_WRITE and conn.outbox:
                self._flush(conn)
            if events & selectors.EVENT_READ:
                self._readable(conn)

    def _close_all(self) -> None:
        for key in list(self.selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]

    # --- what a subclass decides -----------------------------------------------------------

    def _answered(self, conn: C, status: int, body: bytes) -> None:
        raise NotImplementedError

    def _closed(self, conn: C) -> None:
        raise NotImplementedError

    def _reconnect(self, conn: C) -> C:
        """A fresh connection in place of ``conn``, which the server closes."""
        raise NotImplementedError

    def _became_idle(self, conn: C) -> None:
        raise NotImplementedError

    def _unreadable(self, conn: C, error: ProtocolError) -> None:
        raise error


class HttpClient:
    """One keep-alive connection to gunicorn, for sequential requests (concurrency 1)."""

    def __init__(
        self, port: int, headers: dict[str, str] | None = None, timeout: float = 120.0
    ) -> None:
        self.port = port
        self.headers = headers or {}
        self.timeout = timeout
        self.connection: http.client.HTTPConnection | None = None
        self.last_used = 0.0

    def fresh(self) -> None:
        """Reconnect (untimed) before gunicorn's keep-alive timeout would close the connection."""
        if self.connection is None or time.monotonic() - self.last_used > KEEPALIVE_REUSE_S:
            self.close()
            self.connection = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=self.timeout
            )
            self.connection.connect()
            self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def exchange(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes, float]:
        """(status, body, seconds the request took, a reconnect not included); sent again
        once on a new connection when the connection fails."""
        for attempt in range(2):
            self.fresh()
            assert self.connection is not None
            headers = dict(self.headers)
            if body is not None:
                headers["Content-Type"] = "application/json"
            started = time.perf_counter()
            try:
                self.connection.request(method, path, body=body, headers=headers)
                response = self.connection.getresponse()
                data = response.read()
            except (http.client.HTTPException, ConnectionError) as error:
                self.close()
                if attempt:
                    raise BenchError(f"{method} {path} failed: {error!r}") from None
                continue
            elapsed = time.perf_counter() - started
            self.last_used = time.monotonic()
            return response.status, data, elapsed
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, body: bytes | None = None) -> bytes:
        """The body of the answer, which must be a 200."""
        status, data, _ = self.exchange(method, path, body)
        if status != 200:
            raise BenchError(f"{method} {path} answered {status}: {data[:300]!r}")
        return data

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
