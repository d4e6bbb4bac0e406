"""A gunicorn threaded worker that gives a connection a thread only once its request is in.

gunicorn's ``gthread`` worker waits for a connection's first bytes in its poller, then hands
the connection to a thread, which reads the rest of the request with blocking reads. A client
that sends a byte now and then keeps that thread for as long as it likes: sixteen such
connections (2 workers x 8 threads) stopped all ingest (tests/e2e/test_slow_clients.py).

``BufferingThreadWorker`` reads in the poller instead, without blocking, until the request is
complete (``metronome.web.framing``: the header section and a body of up to
``ingest.max_body_bytes``), then gives the thread the bytes already read. A slow client costs a
buffer and a connection slot, never a thread. Each request must arrive within
``server.request_timeout`` seconds of its first byte (of its connection, or of the end of the
previous request on a kept-alive one); later it is answered 408 and closed. The few reads left
to the thread (a body after ``Expect: 100-continue``, a body too large for the buffer that the
app refuses unread and gunicorn then discards) are bound by the same deadline.

Connections, slow or not, count against ``server.worker_connections``: at the limit the worker
accepts no more until some close, and new ones wait in the kernel's listen backlog.

TLS is left to a reverse proxy (docs/operations.md): with gunicorn's own TLS
(``certfile``) this worker reads as ``gthread`` does, the handshake happening in the thread.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import time
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker
from werkzeug.exceptions import RequestTimeout

from metronome.config import load_settings
from metronome.web import framing

RECV_BYTES = 65_536
MAX_HEAD_BYTES = 65_536  # the request line and headers; more is answered 431


class SlowRequest(RequestTimeout):
    """The request did not arrive before its deadline. A ``RequestTimeout``, so a read in a
    Flask view ends in the app's JSON 408."""

    description = "The request did not arrive in time."


class DeadlineSocket:
    """The reads gunicorn's parser makes (``recv`` only), each bounded by what is left of the
    request's deadline: a total bound, which a per-read timeout is not."""

    def __init__(self, sock: Any, deadline: float) -> None:
        self.sock = sock
        self.deadline = deadline

    def recv(self, size: int) -> bytes:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise SlowRequest()
        self.sock.settimeout(remaining)
        try:
            data: bytes = self.sock.recv(size)
        except TimeoutError:
            raise SlowRequest() from None
        finally:
            self.sock.settimeout(None)  # the answer is written as gunicorn writes it
        return data


def error_answer(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP/1.1 answer in the API's error shape, closing the connection."""
    body = json.dumps({"error": {"code": code, "message": message}}).encode() + b"\n"
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


TIMED_OUT = error_answer(408, "Request Timeout", "request_timeout", SlowRequest.description)
HEAD_TOO_LARGE = error_answer(
    431,
    "Request Header Fields Too Large",
    "request_header_fields_too_large",
    f"The request line and headers are larger than the limit of {MAX_HEAD_BYTES} bytes.",
)


@dataclass
class Arrival:
    """A request still arriving: its deadline, its bytes so far, the last verdict on them."""

    deadline: float
    received: bytearray = field(default_factory=bytearray)
    verdict: framing.Verdict = framing.Verdict.HEAD


class BufferingThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn has no types
    """gunicorn's threaded worker, reading each request in its poller until it is complete."""

    def init_process(self) -> None:
        settings = load_settings()
        self.request_timeout = settings.server.request_timeout
        self.max_body = settings.ingest.max_body_bytes
        # Connections whose request is still arriving. Touched by the main loop only (the
        # poller's callbacks and murder_keepalived run there); insertion order is deadline
        # order, since every deadline is now + request_timeout.
        self.arriving: dict[TConn, Arrival] = {}
        super().init_process()

    def accept(self, server: Any, listener: Any) -> None:
        if self.cfg.is_ssl:
            super().accept(server, listener)
            return
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        conn = TConn(self.cfg, sock, client, server)  # sets the socket non-blocking
        self.nr_conns += 1
        self._await_request(conn, register=True)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection sends its next request: read it here as well."""
        if self.cfg.is_ssl:
            super().on_client_socket_readable(conn, client)
            return
        with self._lock:
            try:
                self._keep.remove(conn)
            except ValueError:
                return  # closed by murder_keepalived meanwhile
        self._await_request(conn, register=False)
        self._on_readable(conn, client)

    def _await_request(self, conn: TConn, *, register: bool) -> None:
        self.arriving[conn] = Arrival(time.monotonic() + self.request_timeout)
        callback = partial(self._on_readable, conn)
        with self._lock:
            if register:
                self.poller.register(conn.sock, selectors.EVENT_READ, callback)
            else:
                self.poller.modify(conn.sock, selectors.EVENT_READ, callback)

    def _on_readable(self, conn: TConn, client: Any) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not data:  # the client left before its request was complete
            self._close(conn)
            return
        arrival = self.arriving[conn]
        searched = len(arrival.received) if arrival.verdict is framing.Verdict.HEAD else 0
        arrival.received += data
        # Bytes of a pipelined request gunicorn's parser has already read come first.
        leftover = conn.parser.unreader.buf.getvalue() if conn.parser is not None else b""
        received = leftover + arrival.received if leftover else arrival.received
        head_from = len(leftover) + searched
        arrival.verdict = framing.verdict(received, MAX_HEAD_BYTES, self.max_body, head_from)
        if arrival.verdict is framing.Verdict.HEAD_TOO_LARGE:
            self._close(conn, HEAD_TOO_LARGE)
        elif arrival.verdict is framing.Verdict.READY:
            self._hand_over(conn)

    def _hand_over(self, conn: TConn) -> None:
        arrival = self.arriving.pop(conn)
        with self._lock:
            self.poller.unregister(conn.sock)
        conn.init()  # blocking socket; the parser on a connection's first request
        conn.parser.unreader.unread(bytes(arrival.received))
        conn.parser.unreader.sock = DeadlineSocket(conn.sock, arrival.deadline)
        self._wrap_future(self.tpool.submit(self.handle, conn), conn)

    def handle(self, conn: TConn) -> tuple[bool, TConn]:
        while True:
            keepalive, conn = super().handle(conn)
            if not keepalive or self.cfg.is_ssl:
                return keepalive, conn
            try:
                # Discard the body the app did not read (gunicorn would, before parsing the
                # next request), so the next bytes the poller reads start the next request.
                while conn.parser.mesg.body.read(RECV_BYTES):
                    pass
            except Exception:  # a late or broken body: gunicorn's own handling closes too
                return False, conn
            # The reads may have taken the next request (pipelined, or sent right after a
            # body the app refused): nothing would wake the poller for it, so serve it here
            # once it is whole; otherwise the poller waits for the rest.
            leftover = conn.parser.unreader.buf.getvalue()
            ready = framing.verdict(leftover, MAX_HEAD_BYTES, self.max_body)
            if not leftover or ready is not framing.Verdict.READY:
                return keepalive, conn
            conn.parser.unreader.sock.deadline = time.monotonic() + self.request_timeout

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        if isinstance(exc, SlowRequest):  # a read outside Flask (the fast path) ran late
            with contextlib.suppress(OSError):
                client.sendall(TIMED_OUT)
            return
        super().handle_error(req, client, addr, exc)

    def murder_keepalived(self) -> None:
        super().murder_keepalived()
        now = time.monotonic()
        while self.arriving:
            conn, arrival = next(iter(self.arriving.items()))
            if arrival.deadline > now:
                break
            self._close(conn, TIMED_OUT)

    def _close(self, conn: TConn, answer: bytes = b"") -> None:
        """Close a connection whose request is still arriving, answering it first if it can
        be answered without waiting (the socket is non-blocking here)."""
        self.arriving.pop(conn, None)
        with self._lock, contextlib.suppress(KeyError, ValueError):
            self.poller.unregister(conn.sock)
        if answer:
            with contextlib.suppress(OSError):
                conn.sock.send(answer)
        self.nr_conns -= 1
        conn.close()
