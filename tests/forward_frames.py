"""Byte-exact msgpack pieces of Fluentd forward-protocol frames, for the forward tests."""

from __future__ import annotations

import struct

import msgpack  # type: ignore[import-untyped]


def pk(value: object) -> bytes:
    packed: bytes = msgpack.packb(value, use_bin_type=True)
    return packed


def fixext8_time(seconds: int, nanos: int = 0) -> bytes:
    """EventTime as fixext8 (``D7 00``), what Fluentd sends."""
    return b"\xd7\x00" + struct.pack(">II", seconds, nanos)


def ext8_time(seconds: int, nanos: int = 0) -> bytes:
    """EventTime as ext8 (``C7 08 00``), the other legal encoding."""
    return b"\xc7\x08\x00" + struct.pack(">II", seconds, nanos)


def str32(data: bytes) -> bytes:
    """A str32 holding binary: how Fluentd's out_forward packs PackedForward entries."""
    return b"\xdb" + struct.pack(">I", len(data)) + data


def bin32(data: bytes) -> bytes:
    return b"\xc6" + struct.pack(">I", len(data)) + data


def array(*encoded: bytes) -> bytes:
    """A fixarray of already-encoded elements."""
    assert len(encoded) < 16
    return bytes([0x90 | len(encoded)]) + b"".join(encoded)
