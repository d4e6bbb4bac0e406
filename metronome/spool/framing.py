"""Record framing: ``[length u32][crc32 u32][payload]``, big-endian. Pure functions.

The checksum covers the length bytes and the payload, so a run of zeros (what a crash can
leave at the end of a file whose size was recorded before its data) is never a valid record.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

HEADER = struct.Struct(">II")
MAX_RECORD = 64 * 1024 * 1024  # a larger length can only be a torn or foreign header


class Tail(Enum):
    END = "end"  # every byte was a whole, valid record
    INCOMPLETE = "incomplete"  # a record is cut short (being written, or torn by a crash)
    CORRUPT = "corrupt"  # a header or checksum that cannot be right


@dataclass(frozen=True)
class Record:
    start: int  # offset of the header in the segment
    end: int  # offset just past the payload: the checkpoint after this record
    payload: bytes


def encode(payload: bytes) -> bytes:
    if len(payload) > MAX_RECORD:
        raise ValueError(f"a record may hold at most {MAX_RECORD} bytes")
    return HEADER.pack(len(payload), _checksum(len(payload), payload)) + payload


def decode(buffer: bytes, base: int = 0) -> tuple[list[Record], Tail]:
    """All whole records in ``buffer`` (read from segment offset ``base``) and how it ends."""
    records = list(_iter(buffer, base))
    end = records[-1].end - base if records else 0
    if end == len(buffer):
        return records, Tail.END
    rest = buffer[end:]
    if len(rest) < HEADER.size:
        return records, Tail.INCOMPLETE
    length, _ = HEADER.unpack_from(rest)
    if length > MAX_RECORD:
        return records, Tail.CORRUPT
    if len(rest) < HEADER.size + length:
        return records, Tail.INCOMPLETE
    return records, Tail.CORRUPT  # whole but the checksum failed


def _iter(buffer: bytes, base: int) -> Iterator[Record]:
    position = 0
    while position + HEADER.size <= len(buffer):
        length, crc = HEADER.unpack_from(buffer, position)
        start = position + HEADER.size
        if length > MAX_RECORD or start + length > len(buffer):
            return
        payload = buffer[start : start + length]
        if _checksum(length, payload) != crc:
            return
        yield Record(start=base + position, end=base + start + length, payload=payload)
        position = start + length


def _checksum(length: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(length.to_bytes(4, "big")))
