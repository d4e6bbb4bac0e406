"""shared_key authentication (HELO / PING / PONG), with digests computed here independently."""

from __future__ import annotations

import hashlib
import os
import struct
import tracemalloc
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from metronome.logs.forward.handshake import HandshakeError, PingReader, answer_ping, helo
from metronome.logs.forward.limits import HANDSHAKE_LIMITS
from metronome.logs.forward.protocol import FrameDecoder

KEY = "s3cret-shared-key"
NONCE = bytes(range(200, 216))  # 16 bytes, not UTF-8
SERVER = "metronome.example"


def sha512_hex(*parts: bytes) -> str:
    return hashlib.sha512(b"".join(parts)).hexdigest()


def received(frame: bytes) -> list[Any]:
    """The PING as the server's decoder hands it over."""
    decoder = FrameDecoder()
    decoder.feed(frame)
    [message] = decoder.messages()
    return message


def pk(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def ping(
    salt: bytes = b"0123456789abcdef",
    host: str = "client.example",
    key: str = KEY,
    *,
    salt_as: str = "str",
) -> bytes:
    """A PING frame; the salt as a msgpack str (Fluentd's hex, Fluent Bit's 16 random bytes)
    or as bin."""
    digest = sha512_hex(salt, host.encode(), NONCE, key.encode())
    assert len(salt) < 32
    salt_field = (
        bytes([0xA0 | len(salt)]) + salt
        if salt_as == "str"
        else b"\xc4" + bytes([len(salt)]) + salt
    )
    return b"\x96" + pk("PING") + pk(host) + salt_field + pk(digest) + pk("") + pk("")


def test_helo_carries_a_binary_nonce_an_empty_auth_and_keepalive() -> None:
    frame = helo(NONCE)
    assert b"\xa5nonce\xc4\x10" + NONCE in frame  # bin 16, as Fluentd sends it
    assert msgpack.unpackb(frame) == ["HELO", {"nonce": NONCE, "auth": "", "keepalive": True}]


@pytest.mark.parametrize("salt_as", ["str", "bin"])
def test_a_ping_with_the_right_key_gets_pong_true_with_the_servers_digest(salt_as: str) -> None:
    salt = b"0123456789abcdef"
    frame = ping(salt, salt_as=salt_as)
    answer = answer_ping(received(frame), nonce=NONCE, shared_key=KEY, server_host=SERVER)
    assert (answer.ok, answer.reason) == (True, "")
    expected = sha512_hex(salt, SERVER.encode(), NONCE, KEY.encode())
    assert msgpack.unpackb(answer.reply) == ["PONG", True, "", SERVER, expected]


def test_fluent_bits_binary_salt_in_a_str_is_hashed_as_its_exact_bytes() -> None:
    salt = os.urandom(12) + b"\xff\xfe\x80\xc3"  # certainly not UTF-8
    frame = ping(salt)
    answer = answer_ping(received(frame), nonce=NONCE, shared_key=KEY, server_host=SERVER)
    assert answer.ok
    expected = sha512_hex(salt, SERVER.encode(), NONCE, KEY.encode())
    assert msgpack.unpackb(answer.reply, raw=True)[4] == expected.encode()


def test_a_wrong_key_gets_pong_false() -> None:
    answer = answer_ping(
        received(ping(key="not-the-key")), nonce=NONCE, shared_key=KEY, server_host=SERVER
    )
    assert (answer.ok, answer.reason) == (False, "shared_key mismatch")
    assert answer.reply == msgpack.packb(["PONG", False, "shared_key mismatch", "", ""])


def test_a_digest_for_another_nonce_is_refused() -> None:
    answer = answer_ping(received(ping()), nonce=b"\x00" * 16, shared_key=KEY, server_host=SERVER)
    assert not answer.ok


@pytest.mark.parametrize(
    "message",
    [
        pytest.param(["PING", "host", "salt", "digest", ""], id="five-elements"),
        pytest.param(["PING", "host", "salt", "digest", "", "", ""], id="seven-elements"),
        pytest.param(["PONG", "host", "salt", "digest", "", ""], id="not-ping"),
        pytest.param(["PING", 1, "salt", "digest", "", ""], id="host-not-a-string"),
        pytest.param(["app.log", 1_700_000_000, {"message": "skipped the handshake"}], id="event"),
        pytest.param("PING", id="not-an-array"),
    ],
)
def test_anything_but_a_six_element_ping_is_refused(message: object) -> None:
    answer = answer_ping(message, nonce=NONCE, shared_key=KEY, server_host=SERVER)
    assert (answer.ok, answer.reason) == (False, "invalid ping message")
    assert msgpack.unpackb(answer.reply) == ["PONG", False, "invalid ping message", "", ""]


# -- before authentication: only a PING, decoded within tiny limits -------------------------

EMPTY_MAPS_1MB = b"\xdd" + struct.pack(">I", 1_000_000) + b"\x80" * 1_000_000


def test_the_ping_reader_hands_over_the_ping_and_what_came_after_it() -> None:
    events = pk(["app", 1_700_000_000, {"after": "the ping"}])
    frame = ping()
    reader = PingReader()
    for byte in frame[:-1]:  # one byte at a time, as a slow network might deliver it
        assert reader.feed(bytes([byte])) is None
    found = reader.feed(frame[-1:] + b"\xc0" + events)
    assert found is not None
    message, rest = found
    assert message == received(frame)
    assert rest == b"\xc0" + events  # the keepalive and the events wait for authentication


def test_keepalives_before_the_ping_are_skipped() -> None:
    found = PingReader().feed(b"\xc0\xc0" + ping())
    assert found is not None and found[1] == b""
    assert answer_ping(found[0], nonce=NONCE, shared_key=KEY, server_host=SERVER).ok


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        pytest.param(EMPTY_MAPS_1MB, "max_array_len", id="1-MB-of-empty-maps"),
        pytest.param(b"\x96\x81" + pk("k") + pk("v"), "max_map_len", id="a-map-in-a-ping"),
        pytest.param(b"\x96" + pk("s" * 2000), "max_str_len", id="a-2-KB-str"),
        pytest.param(b"\x96" + pk(b"b" * 2000), "max_bin_len", id="a-2-KB-bin"),
        pytest.param(
            b"\x96\xdb" + struct.pack(">I", 1 << 20) + b"s" * (1 << 20),
            "the first 4096 bytes",
            id="a-1-MiB-str",
        ),
        pytest.param(b"\x91" * 5000, "StackError", id="nested-arrays"),
        pytest.param(b"\x96" + pk("x" * 1000) * 5, "the first 4096 bytes", id="a-ping-over-4-KiB"),
    ],
)
def test_anything_bigger_than_a_ping_is_refused_before_it_is_decoded(
    data: bytes, reason: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(HandshakeError, match=reason):
            reader = PingReader()
            for start in range(0, len(data), 65_536):  # as the server reads: 64 KiB at most
                reader.feed(data[start : start + 65_536])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Bound: the 64 KiB read and the 4 KiB window, a few times over; never the 74 MiB that
    # decoding 1 MB of empty maps takes.
    assert peak < 512 * 1024


def test_the_handshake_limits_are_tiny() -> None:
    assert HANDSHAKE_LIMITS.max_message_bytes <= 4096
    assert HANDSHAKE_LIMITS.max_array_length == 6
    assert HANDSHAKE_LIMITS.max_map_length == 0
    assert HANDSHAKE_LIMITS.max_string_bytes <= 1024
