"""The forward-protocol TCP server (and its UDP heartbeat on the same port).

Per connection: bytes -> ``FrameDecoder`` -> messages -> ``parse_request`` -> ``LogEvent``s ->
``sink.accept`` (in a worker thread: it blocks until the events are fsynced) -> acks. An ack is
written only after ``accept`` returned, so an acknowledged chunk is durable; when ``accept``
raises, nothing is acknowledged and the connection is closed, and the client resends. The
messages of one read are accepted as one batch. A connection that sends garbage is closed;
no connection's failure reaches the listener or the other connections.

What a peer can make the server hold is bounded before it has proved anything: with ``tls``
the TLS handshake comes first and must be done within ``handshake_timeout``; past
``max_connections`` (counted once TLS is up) a connection is closed at once; with
``shared_key`` nothing but a PING is decoded (``PingReader``, a few KiB) until the key is
checked, and the PING must come within ``handshake_timeout``. After that, messages are
decoded within ``limits``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from metronome.logs.events import EventSink, LogEvent
from metronome.logs.forward.handshake import (
    NONCE_BYTES,
    HandshakeError,
    PingAnswer,
    PingReader,
    answer_ping,
    helo,
    refuse,
)
from metronome.logs.forward.limits import DEFAULT_LIMITS, DecodeLimits
from metronome.logs.forward.protocol import (
    Format,
    FrameDecoder,
    ProtocolError,
    Request,
    encode_ack,
    parse_request,
)

log = logging.getLogger(__name__)

DEFAULT_PORT = 24224
DEFAULT_HOST = "127.0.0.1"  # only this machine's shippers, unless told otherwise
DEFAULT_IDLE_TIMEOUT = 300.0  # seconds without a byte before a connection is closed
# Seconds for the TLS handshake, and again from the HELO to the client's PING: real clients
# answer at once; a peer that does not holds a connection slot.
DEFAULT_HANDSHAKE_TIMEOUT = 30.0
DEFAULT_MAX_CONNECTIONS = 256
REFUSAL_LOG_EVERY = 10.0  # seconds: one log line per burst of refused connections
READ_SIZE = 64 * 1024
HEARTBEAT = b"\x00"


@dataclass
class ForwardCounters:
    """Totals since the server was built. Written by the server's event loop only."""

    connections: int = 0  # TCP connections accepted
    messages: int = 0  # requests decoded (keepalives not counted)
    events: int = 0  # events the sink accepted (durable)
    invalid_events: int = 0  # events dropped as invalid (their message is still acked)
    protocol_errors: int = 0  # connections closed for bytes that are not the protocol
    refused_connections: int = 0  # closed at once: max_connections were open
    acks: int = 0  # acks written, each after its events were durable
    auth_failures: int = 0  # handshakes refused (PONG false)
    sink_errors: int = 0  # batches the sink refused: not acked, connection closed
    heartbeats: int = 0  # UDP heartbeats answered

    def snapshot(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class _Batch:
    requests: list[Request]
    error: ProtocolError | None  # a malformed message after the requests
    sink_error: Exception | None = None


@dataclass(eq=False)
class _Connection:
    task: asyncio.Task[Any]
    busy: bool = False  # between receiving a batch and writing its acks
    peer: str = field(default="?")


class _Close(Exception):
    """End this connection now (already logged and counted)."""


class Throttle:
    """At most one log line per ``every`` seconds: ``due()`` says whether to write one now,
    and ``skipped`` how many were left out since the last."""

    def __init__(self, every: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.every = every
        self.skipped = 0
        self._clock = clock
        self._last: float | None = None

    def due(self) -> bool:
        now = self._clock()
        if self._last is not None and now - self._last < self.every:
            self.skipped += 1
            return False
        self._last = now
        return True

    def take_skipped(self) -> int:
        skipped, self.skipped = self.skipped, 0
        return skipped


class ForwardServer:
    """Receives the forward protocol on ``host:port`` and hands events to ``sink``.

    ``port=0`` picks a free port (see ``port`` once started). With ``shared_key`` every
    connection must pass the HELO/PING/PONG handshake before it may send events; with
    ``tls`` every connection speaks TLS.
    """

    def __init__(
        self,
        sink: EventSink,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        shared_key: str | None = None,
        server_host: str | None = None,
        limits: DecodeLimits = DEFAULT_LIMITS,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        tls: ssl.SSLContext | None = None,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        handshake_timeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
        heartbeat: bool = True,
        executor: Executor | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.sink = sink
        self.host = host
        self.port = port
        self.shared_key = shared_key
        self.server_host = server_host or socket.gethostname()
        self.limits = limits
        self.max_connections = max_connections
        self.tls = tls
        self.idle_timeout = idle_timeout
        self.handshake_timeout = handshake_timeout
        self.heartbeat = heartbeat
        self.counters = ForwardCounters()
        self._clock = clock
        self._own_executor = executor is None
        self._executor = executor or ThreadPoolExecutor(thread_name_prefix="forward-sink")
        self._server: asyncio.Server | None = None
        self._udp: asyncio.DatagramTransport | None = None
        self._connections: set[_Connection] = set()
        self._stopping = False
        self._refusals = Throttle(REFUSAL_LOG_EVERY)

    async def start(self) -> None:
        """Listen; returns once bound (``self.port`` is then the real port)."""
        # TLS is the event loop's: it reads the ClientHello before any byte reaches a stream
        # (a stream upgraded later would already have swallowed it).
        self._server = await asyncio.start_server(
            self._on_connection,
            self.host,
            self.port,
            reuse_address=True,
            ssl=self.tls,
            ssl_handshake_timeout=self.handshake_timeout if self.tls is not None else None,
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        if self.heartbeat:
            await self._start_heartbeat()
        log.info(
            "forward protocol listening on %s:%d (%s, %s)",
            self.host,
            self.port,
            "TLS" if self.tls is not None else "plain TCP",
            "shared key" if self.shared_key is not None else "no shared key",
        )

    async def _start_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Heartbeat(self.counters), local_addr=(self.host, self.port)
            )
        except OSError as error:  # the TCP side works without it
            log.warning("no UDP heartbeat on %s:%d: %s", self.host, self.port, error)
            return
        self._udp = transport

    async def stop(self, grace: float = 10.0) -> None:
        """Stop accepting; let batches being accepted finish and ack (up to ``grace``
        seconds); close every connection."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._udp is not None:
            self._udp.close()
        for connection in list(self._connections):
            if not connection.busy:
                connection.task.cancel()
        tasks = [connection.task for connection in self._connections]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        if self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
        log.info("forward protocol server stopped: %s", self.counters.snapshot())

    async def _on_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        connection = _Connection(task, peer=_peer(writer))
        if len(self._connections) >= self.max_connections:
            self._refuse_connection(connection, writer)
            return
        self._connections.add(connection)
        self.counters.connections += 1
        try:
            await self._converse(connection, reader, writer)
        except ProtocolError as error:
            self.counters.protocol_errors += 1
            log.warning("forward: closing %s: %s", connection.peer, error)
        except _Close:
            pass
        except (ConnectionError, TimeoutError):
            log.info("forward: connection from %s lost", connection.peer)
        except asyncio.CancelledError:
            pass  # the server is stopping; the client resends what was not acked
        except Exception:
            log.exception("forward: connection from %s failed", connection.peer)
        finally:
            self._connections.discard(connection)
            writer.close()

    def _refuse_connection(self, connection: _Connection, writer: asyncio.StreamWriter) -> None:
        self.counters.refused_connections += 1
        writer.transport.abort()  # at once: no lingering, nothing read
        if self._refusals.due():
            log.warning(
                "forward: refusing %s: %d connections open (max_connections); "
                "%d more refused since the last such line",
                connection.peer,
                len(self._connections),
                self._refusals.take_skipped(),
            )

    async def _converse(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        pending = b""  # bytes that arrived with the PING, after it
        if self.shared_key is not None:
            pending = await self._authenticate(connection, reader, writer)
        decoder = FrameDecoder(self.limits)
        while not self._stopping:
            try:
                data = pending or await _read(reader, self.idle_timeout)
            except TimeoutError:
                log.info("forward: %s idle for %.0f s, closing", connection.peer, self.idle_timeout)
                data = b""
            pending = b""
            if not data:
                if decoder.buffered:
                    raise ProtocolError(f"connection ended inside a message ({decoder.buffered} B)")
                return
            decoder.feed(data)
            messages, error = _complete_messages(decoder)
            if messages:
                await self._process(connection, writer, messages, decoder.format)
            if error is not None:
                raise error

    async def _authenticate(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bytes:
        """HELO, then the client's PING checked; returns what the client sent after it."""
        assert self.shared_key is not None
        nonce = secrets.token_bytes(NONCE_BYTES)
        writer.write(helo(nonce))
        await writer.drain()
        ping = PingReader()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.handshake_timeout
        while True:
            try:
                data = await _read(reader, deadline - loop.time())
            except TimeoutError:
                data = b""
            if not data:
                raise self._auth_failed(connection, "no PING before the handshake timeout")
            try:
                received = ping.feed(data)
            except HandshakeError as error:
                await _reply(writer, refuse("invalid ping message"))
                raise self._auth_failed(connection, str(error)) from error
            if received is None:
                continue
            message, rest = received
            answer = answer_ping(
                message, nonce=nonce, shared_key=self.shared_key, server_host=self.server_host
            )
            await _reply(writer, answer)
            if not answer.ok:
                raise self._auth_failed(connection, answer.reason)
            return rest

    def _auth_failed(self, connection: _Connection, reason: str) -> _Close:
        """Count and log a refused handshake (the reason never holds the key)."""
        self.counters.auth_failures += 1
        log.warning("forward: %s failed authentication: %s", connection.peer, reason)
        return _Close()

    async def _process(
        self,
        connection: _Connection,
        writer: asyncio.StreamWriter,
        messages: list[list[Any]],
        fmt: Format | None,
    ) -> None:
        connection.busy = True
        try:
            loop = asyncio.get_running_loop()
            batch = await loop.run_in_executor(
                self._executor, self._accept, messages, self._clock()
            )
            self.counters.messages += len(batch.requests)
            self.counters.invalid_events += sum(request.invalid for request in batch.requests)
            if batch.sink_error is not None:
                self.counters.sink_errors += 1
                log.error(
                    "forward: the sink refused a batch from %s; not acknowledged, closing",
                    connection.peer,
                    exc_info=batch.sink_error,
                )
                raise _Close
            self.counters.events += sum(len(request.events) for request in batch.requests)
            acks = [
                encode_ack(request.chunk, fmt or Format.MSGPACK)
                for request in batch.requests
                if request.chunk is not None
            ]
            if acks:
                self.counters.acks += len(acks)
                writer.write(b"".join(acks))
                await writer.drain()
            if batch.error is not None:
                raise batch.error
        finally:
            connection.busy = False

    def _accept(self, messages: list[list[Any]], now: datetime) -> _Batch:
        """In a worker thread: decode the messages and have the sink make them durable."""
        batch = _Batch([], None)
        for message in messages:
            try:
                batch.requests.append(parse_request(message, now, limits=self.limits))
            except ProtocolError as error:
                batch.error = error  # the messages before it are still accepted and acked
                break
        events: list[LogEvent] = [event for r in batch.requests for event in r.events]
        if events:
            try:
                self.sink.accept(events)
            except Exception as error:
                batch.sink_error = error
        return batch


def _complete_messages(decoder: FrameDecoder) -> tuple[list[list[Any]], ProtocolError | None]:
    """The messages complete so far, and the protocol error that ended them, if any."""
    messages: list[list[Any]] = []
    try:
        messages.extend(decoder.messages())
    except ProtocolError as error:
        return messages, error
    return messages, None


async def _read(reader: asyncio.StreamReader, timeout: float) -> bytes:
    """The next bytes (b"" once the peer closed); ``TimeoutError`` after ``timeout`` s."""
    return await asyncio.wait_for(reader.read(READ_SIZE), max(timeout, 0.0))


async def _reply(writer: asyncio.StreamWriter, answer: PingAnswer) -> None:
    writer.write(answer.reply)
    await writer.drain()


def _peer(writer: asyncio.StreamWriter) -> str:
    peer = writer.get_extra_info("peername")
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return str(peer)


class _Heartbeat(asyncio.DatagramProtocol):
    """Fluentd's UDP heartbeat: every datagram is answered with one 0x00 byte."""

    def __init__(self, counters: ForwardCounters) -> None:
        self._counters = counters
        self._transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # (the selector loop's UDP transport does not subclass DatagramTransport on 3.11)
        self._transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        if self._transport is not None:
            self._transport.sendto(HEARTBEAT, addr)
            self._counters.heartbeats += 1
