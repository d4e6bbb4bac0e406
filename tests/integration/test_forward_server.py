"""The forward protocol server over real sockets, with in-memory sinks.

What is under test is the server's side of the sink contract: events are handed over in
batches, an ack is written only after ``accept`` returned, and a refused batch is never acked.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import inspect
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest
from fluent.sender import EventTime, FluentSender  # type: ignore[import-untyped]

from metronome.config import ForwardSettings
from metronome.logs.events import LogEvent
from metronome.logs.forward import DecodeLimits, ForwardServer, ForwardServerThread
from tests.forward_frames import array, bin32, ext8_time, fixext8_time, pk, str32

T0 = 1_700_000_000
AT_T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
FLUENTD_CHUNK = "p8n9gmxTQVC8/nh2wlKKeQ==\n"
KEY = "forward-test-key"
SERVER_HOST = "metronome-test"


class RecordingSink:
    """Keeps every batch; can be made to block (``gate``) or to fail (``fail``)."""

    def __init__(self) -> None:
        self.batches: list[list[LogEvent]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail: Exception | None = None
        self._lock = threading.Lock()

    def accept(self, events: Sequence[LogEvent]) -> None:
        self.entered.set()
        self.gate.wait(30)
        if self.fail is not None:
            raise self.fail
        with self._lock:
            self.batches.append(list(events))

    @property
    def events(self) -> list[LogEvent]:
        with self._lock:
            return [event for batch in self.batches for event in batch]


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def server(sink: RecordingSink) -> Iterator[ForwardServerThread]:
    forward = ForwardServer(sink, "127.0.0.1", 0, idle_timeout=10, server_host=SERVER_HOST)
    with ForwardServerThread(forward, grace=2) as running:
        yield running


@pytest.fixture
def secured(sink: RecordingSink) -> Iterator[ForwardServerThread]:
    forward = ForwardServer(sink, "127.0.0.1", 0, shared_key=KEY, server_host=SERVER_HOST)
    with ForwardServerThread(forward, grace=2) as running:
        yield running


def entry(time_: bytes, record: dict[str, Any]) -> bytes:
    return array(time_, pk(record))


def ack_of(chunk: str) -> bytes:
    """``{"ack": chunk}`` built by hand: fixmap 1, fixstr "ack", the chunk as a str."""
    data = chunk.encode()
    header = bytes([0xA0 | len(data)]) if len(data) < 32 else b"\xd9" + bytes([len(data)])
    return b"\x81\xa3ack" + header + data


def connect(running: ForwardServerThread) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", running.port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        if not piece:
            break
        data += piece
    return data


def read_value(sock: socket.socket) -> Any:
    """The next msgpack value from the server. Read a byte at a time, so that nothing sent
    after it (the ack that follows a PONG) is taken from the socket with it."""
    unpacker = msgpack.Unpacker(raw=False)
    while True:
        for value in unpacker:
            return value
        piece = sock.recv(1)
        assert piece, "connection closed before a complete reply"
        unpacker.feed(piece)


def closed_by_server(sock: socket.socket) -> bool:
    """True when the server closed the connection without sending anything (more)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


# -- the official client --------------------------------------------------------------------


def test_events_from_the_official_fluent_logger_client(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    sender = FluentSender("app", host="127.0.0.1", port=server.port)
    precise = FluentSender("app", host="127.0.0.1", port=server.port, nanosecond_precision=True)
    try:
        assert sender.emit_with_time("access", T0, {"path": "/datasets/a.csv", "status": 200})
        assert sender.emit("plain", {"n": 1, "blob": b"\xff raw", "list": [1, {"x": "y"}]})
        assert precise.emit_with_time("precise", EventTime(T0, 250_000_000), {"n": 2})
        assert sender.emit_with_time("floaty", 1.5, {"dropped": True})  # Fluentd drops these
        assert sender.emit_with_time("", T0, {"label": "empty"})  # tag is then just "app"
    finally:
        sender.close()
        precise.close()
    wait_for(lambda: len(sink.events) == 4 and server.counters.invalid_events == 1)
    by_tag = {event.tag: event for event in sink.events}
    assert set(by_tag) == {"app.access", "app.plain", "app.precise", "app"}
    assert by_tag["app.access"].record == {"path": "/datasets/a.csv", "status": 200}
    assert by_tag["app.access"].time == AT_T0
    assert by_tag["app.access"].input == "forward"
    plain = by_tag["app.plain"]
    assert plain.record == {"n": 1, "blob": "\ufffd raw", "list": [1, {"x": "y"}]}
    assert abs(plain.time - datetime.now(UTC)) < timedelta(minutes=1)
    assert by_tag["app.precise"].time == AT_T0 + timedelta(milliseconds=250)
    assert server.counters.acks == 0  # this client asks for none


# -- every mode, acked byte for byte --------------------------------------------------------


def every_mode() -> list[tuple[bytes, str, int]]:
    """(frame, chunk, event count) for each mode, the chunks as Fluentd writes them."""
    packed = entry(fixext8_time(T0), {"m": "packed"}) + entry(ext8_time(T0), {"m": "packed"})
    gz = gzip.compress(entry(pk(T0), {"m": "gz"})) + gzip.compress(entry(pk(T0), {"m": "gz"}))
    meta = array(fixext8_time(T0), pk({"meta": 1}))
    return [
        (
            array(pk("m"), pk(T0), pk({"m": "message"}), pk({"chunk": "Y2h1bmsx\n"})),
            "Y2h1bmsx\n",
            1,
        ),
        (
            array(
                pk("f"),
                bytes([0x92]) + entry(ext8_time(T0), {"m": "fwd"}) + array(meta, pk({"m": "fb"})),
                pk({"chunk": "0f" * 16, "size": 2}),
            ),
            "0f" * 16,
            2,
        ),
        (
            array(
                pk("p"),
                str32(packed),
                pk({"chunk": FLUENTD_CHUNK, "size": 2, "compressed": "text"}),
            ),
            FLUENTD_CHUNK,
            2,
        ),
        (array(pk("b"), bin32(packed), pk({"chunk": "YmluCg==\n"})), "YmluCg==\n", 2),
        (
            array(pk("g"), str32(gz), pk({"chunk": "Z3ppcAo=\n", "size": 2, "compressed": "gzip"})),
            "Z3ppcAo=\n",
            2,
        ),
    ]


def test_every_mode_is_stored_and_acked_with_the_chunk_byte_for_byte(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    with connect(server) as sock:
        for frame, chunk, count in every_mode():
            before = len(sink.events)
            sock.sendall(frame)
            expected = ack_of(chunk)
            assert read_exactly(sock, len(expected)) == expected
            assert len(sink.events) == before + count  # durable before the ack
    assert len(sink.events) == 9
    assert all(event.time == AT_T0 for event in sink.events)
    assert server.counters.acks == 5
    assert server.counters.messages == 5


def test_several_messages_in_one_write_and_one_message_over_many(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    frames = [frame for frame, _, _ in every_mode()]
    acks = b"".join(ack_of(chunk) for _, chunk, _ in every_mode())
    with connect(server) as sock:
        sock.sendall(b"\xc0" + b"\xc0".join(frames) + b"\xc0")  # with nil keepalives
        assert read_exactly(sock, len(acks)) == acks
        stream = b"".join(frames)
        for i in range(0, len(stream), 5):
            sock.sendall(stream[i : i + 5])
            time.sleep(0.001)
        assert read_exactly(sock, len(acks)) == acks
    assert len(sink.events) == 18


def test_invalid_events_are_counted_and_the_valid_ones_of_the_message_stored(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    entries = b"".join(
        [
            entry(pk(T0), {"ok": 1}),
            entry(pk(1.5), {"float": "time"}),
            array(pk(T0), pk("not a map")),
            entry(fixext8_time(T0), {"ok": 2}),
        ]
    )
    with connect(server) as sock:
        sock.sendall(array(pk("app"), str32(entries), pk({"chunk": FLUENTD_CHUNK})))
        assert read_exactly(sock, len(ack_of(FLUENTD_CHUNK))) == ack_of(FLUENTD_CHUNK)
    assert [event.record for event in sink.events] == [{"ok": 1}, {"ok": 2}]
    assert server.counters.invalid_events == 2
    assert server.counters.events == 2


# -- durability -----------------------------------------------------------------------------


def test_no_ack_until_the_sink_returns(server: ForwardServerThread, sink: RecordingSink) -> None:
    frame, chunk, _ = every_mode()[2]
    sink.gate.clear()
    with connect(server) as sock:
        sock.sendall(frame)
        assert sink.entered.wait(5)
        sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            sock.recv(1)  # the sink is still making the events durable
        assert sink.events == []
        sink.gate.set()
        sock.settimeout(5)
        assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)
    assert len(sink.events) == 2


def test_a_sink_that_raises_gets_no_ack_and_the_connection_is_closed(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    sink.fail = OSError("disk full")
    frame, chunk, _ = every_mode()[0]
    with connect(server) as sock:
        sock.sendall(frame)
        assert closed_by_server(sock)  # nothing was written before the close: no ack
    wait_for(lambda: server.counters.sink_errors == 1)
    assert (server.counters.acks, server.counters.events) == (0, 0)
    sink.fail = None
    with connect(server) as sock:  # the client's resend, once the sink works again
        sock.sendall(frame)
        assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)
    assert len(sink.events) == 1


def test_stopping_lets_a_batch_in_the_sink_finish_and_ack(sink: RecordingSink) -> None:
    running = ForwardServerThread(ForwardServer(sink, "127.0.0.1", 0), grace=10).start()
    frame, chunk, _ = every_mode()[0]
    idle = connect(running)
    with connect(running) as sock:
        sink.gate.clear()
        sock.sendall(frame)
        assert sink.entered.wait(5)
        stopper = threading.Thread(target=running.stop)
        stopper.start()
        wait_for(lambda: closed_by_server(idle))  # idle connections close at once
        sink.gate.set()
        assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)
        assert closed_by_server(sock)
        stopper.join(10)
    idle.close()
    assert not stopper.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=1).close()


# -- protocol errors ------------------------------------------------------------------------


def test_garbage_closes_only_that_connection(
    server: ForwardServerThread, sink: RecordingSink
) -> None:
    frame, chunk, _ = every_mode()[0]
    with connect(server) as good, connect(server) as bad:
        bad.sendall(frame + b"\xc1 this is not msgpack")
        assert read_exactly(bad, len(ack_of(chunk))) == ack_of(chunk)  # what came before
        assert closed_by_server(bad)
        good.sendall(frame)
        assert read_exactly(good, len(ack_of(chunk))) == ack_of(chunk)
    with connect(server) as later:
        later.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert closed_by_server(later)
    with connect(server) as after:
        after.sendall(frame)
        assert read_exactly(after, len(ack_of(chunk))) == ack_of(chunk)
    assert server.counters.protocol_errors == 2
    assert len(sink.events) == 3


def test_a_message_over_the_size_limit_closes_the_connection(sink: RecordingSink) -> None:
    forward = ForwardServer(sink, "127.0.0.1", 0, limits=DecodeLimits(max_message_bytes=4096))
    with ForwardServerThread(forward) as running, connect(running) as sock:
        sock.sendall(array(pk("big"), pk(T0), pk({"x": "y" * 10_000}), pk({"chunk": "c"})))
        assert closed_by_server(sock)
        assert running.counters.protocol_errors == 1
    assert sink.events == []


def test_an_idle_connection_is_closed(sink: RecordingSink) -> None:
    forward = ForwardServer(sink, "127.0.0.1", 0, idle_timeout=0.2)
    with ForwardServerThread(forward) as running, connect(running) as sock:
        started = time.monotonic()
        assert closed_by_server(sock)
        assert 0.1 < time.monotonic() - started < 4


def test_udp_heartbeat_is_echoed(server: ForwardServerThread) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        udp.sendto(b"\x00", ("127.0.0.1", server.port))
        data, _ = udp.recvfrom(16)
    assert data == b"\x00"


# -- shared_key handshake -------------------------------------------------------------------


def handshake(
    sock: socket.socket, key: str, host: str = "client.example", *, behind: bytes = b""
) -> list[Any]:
    """Read the HELO, answer it with a PING signed with ``key`` (``behind``: what to send in
    the same write after it), and return the PONG, checked in full when it says yes."""
    helo = read_value(sock)
    assert helo[0] == "HELO" and helo[1]["auth"] == "" and helo[1]["keepalive"] is True
    nonce = helo[1]["nonce"]
    assert isinstance(nonce, bytes) and len(nonce) == 16
    salt = "a1b2c3d4e5f60718293a4b5c6d7e8f90"
    digest = hashlib.sha512(salt.encode() + host.encode() + nonce + key.encode()).hexdigest()
    sock.sendall(pk(["PING", host, salt, digest, "", ""]) + behind)
    pong: list[Any] = read_value(sock)
    if pong[1] is True:
        expected = hashlib.sha512(salt.encode() + SERVER_HOST.encode() + nonce + key.encode())
        assert pong == ["PONG", True, "", SERVER_HOST, expected.hexdigest()]
    return pong


@pytest.mark.parametrize(
    ("mode", "behind_the_ping", "stored"),
    [(2, False, 2), (0, True, 1)],
    ids=["after-the-pong", "in-the-write-of-the-ping"],
)
def test_events_sent_after_a_handshake_with_the_shared_key_are_stored(
    secured: ForwardServerThread, sink: RecordingSink, mode: int, behind_the_ping: bool, stored: int
) -> None:
    frame, chunk, _ = every_mode()[mode]
    with connect(secured) as sock:
        assert handshake(sock, KEY, behind=frame if behind_the_ping else b"")[1] is True
        if not behind_the_ping:
            sock.sendall(frame)
        assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)
    assert len(sink.events) == stored
    assert secured.counters.auth_failures == 0


def test_a_wrong_shared_key_gets_pong_false_and_a_disconnect(
    secured: ForwardServerThread, sink: RecordingSink
) -> None:
    frame, _, _ = every_mode()[0]
    with connect(secured) as sock:  # the events ride along behind the PING
        pong = handshake(sock, "wrong-key", behind=frame)
        assert pong == ["PONG", False, "shared_key mismatch", "", ""]
        assert closed_by_server(sock)
    with connect(secured) as sock:  # no handshake at all: the events are not a PING
        read_value(sock)
        sock.sendall(frame)
        assert read_value(sock) == ["PONG", False, "invalid ping message", "", ""]
        assert closed_by_server(sock)
    assert sink.events == []
    assert secured.counters.auth_failures == 2
    assert secured.counters.messages == 0


# -- what a peer can make the server hold ---------------------------------------------------

EMPTY_MAPS_1MB = b"\xdd" + (1_000_000).to_bytes(4, "big") + b"\x80" * 1_000_000


def send_ignoring_reset(sock: socket.socket, data: bytes) -> None:
    """Send as much as the server takes before it closes the connection."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def reply_or_reset(sock: socket.socket) -> Any:
    try:
        value = read_value(sock)
    except (ConnectionResetError, AssertionError):  # reset, or closed before a reply
        return None
    assert closed_by_server(sock)
    return value


def test_the_class_default_host_is_loopback() -> None:
    assert inspect.signature(ForwardServer).parameters["host"].default == "127.0.0.1"
    assert ForwardSettings().host == "127.0.0.1"


def test_a_megabyte_of_empty_maps_before_authentication_is_refused(
    secured: ForwardServerThread, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    with connect(secured) as sock:
        read_value(sock)  # HELO
        send_ignoring_reset(sock, EMPTY_MAPS_1MB)
        # (the PONG may be lost to the reset that closing with unread bytes sends)
        assert reply_or_reset(sock) in (None, ["PONG", False, "invalid ping message", "", ""])
    wait_for(lambda: secured.counters.auth_failures == 1)
    assert sink.events == []
    assert secured.counters.messages == 0
    [line] = [r.getMessage() for r in caplog.records if "failed authentication" in r.getMessage()]
    assert "max_array_len" in line and KEY not in line


def test_no_ping_within_the_handshake_timeout_closes_the_connection(sink: RecordingSink) -> None:
    forward = ForwardServer(sink, "127.0.0.1", 0, shared_key=KEY, handshake_timeout=0.3)
    with ForwardServerThread(forward) as running, connect(running) as sock:
        read_value(sock)  # HELO
        sock.sendall(b"\xc0")  # a keepalive does not restart the clock
        started = time.monotonic()
        assert closed_by_server(sock)
        assert time.monotonic() - started < 4
        wait_for(lambda: running.counters.auth_failures == 1)


def test_a_message_over_a_limit_after_authentication_is_neither_stored_nor_acked(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    limits = DecodeLimits(max_map_length=16)
    forward = ForwardServer(
        sink, "127.0.0.1", 0, shared_key=KEY, server_host=SERVER_HOST, limits=limits
    )
    good, chunk, _ = every_mode()[0]
    wide = array(pk("t"), pk(T0), pk({str(n): n for n in range(17)}), pk({"chunk": "wide"}))
    with ForwardServerThread(forward, grace=2) as running, connect(running) as sock:
        assert handshake(sock, KEY)[1] is True
        sock.sendall(good + wide)
        assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)  # the one before it
        assert closed_by_server(sock)  # and no ack for the wide one
        wait_for(lambda: running.counters.protocol_errors == 1)
    assert [event.record for event in sink.events] == [{"m": "message"}]
    assert any("max_map_length" in r.getMessage() for r in caplog.records)


def test_connections_past_the_cap_are_closed_at_once(
    sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    forward = ForwardServer(sink, "127.0.0.1", 0, max_connections=2)
    frame, chunk, _ = every_mode()[0]
    with ForwardServerThread(forward, grace=2) as running:
        first, second = connect(running), connect(running)
        wait_for(lambda: running.counters.connections == 2)
        extra = [connect(running) for _ in range(5)]
        for sock in extra:
            assert closed_by_server(sock)
            sock.close()
        wait_for(lambda: running.counters.refused_connections == 5)
        refusals = [r for r in caplog.records if "max_connections" in r.getMessage()]
        assert len(refusals) == 1  # one line for the burst
        for sock in (first, second):  # the open ones work on
            sock.sendall(frame)
            assert read_exactly(sock, len(ack_of(chunk))) == ack_of(chunk)
        first.close()
        wait_for(lambda: len(sink.events) == 2)
        time.sleep(0.2)  # the server notices the close
        with connect(running) as later:  # a slot is free again
            later.sendall(frame)
            assert read_exactly(later, len(ack_of(chunk))) == ack_of(chunk)
        second.close()
    assert len(sink.events) == 3
