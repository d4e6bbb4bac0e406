"""The one place that imports msgpack (which ships no type hints): a narrow, typed surface.

Strings are decoded with ``surrogateescape`` where the exact bytes matter: Fluentd's
``out_forward`` sends PackedForward entries as str32 holding binary msgpack, Fluent Bit sends
its 16 random salt bytes as a str, and a ``chunk`` must be echoed with its own msgpack type
(str stays str, bin stays bin). ``raw_bytes`` gives any such str back byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import msgpack  # type: ignore[import-untyped]

from metronome.logs.forward.limits import DecodeLimits


class MsgpackError(ValueError):
    """The bytes are not valid msgpack (or break a limit while decoding)."""


class StreamUnpacker:
    """Incremental decoding of concatenated msgpack values; see ``values``.

    At most ``max_buffer_size`` bytes are buffered; every length limit comes from ``limits``
    (msgpack's defaults would allow containers as long as the buffer is large)."""

    def __init__(
        self,
        max_buffer_size: int,
        limits: DecodeLimits,
        unicode_errors: str = "surrogateescape",
    ) -> None:
        self._unpacker = msgpack.Unpacker(
            raw=False,
            unicode_errors=unicode_errors,
            strict_map_key=False,
            max_buffer_size=max_buffer_size,
            max_str_len=limits.max_string_bytes,
            max_bin_len=limits.max_string_bytes,
            max_ext_len=limits.max_string_bytes,
            max_array_len=limits.max_array_length,
            max_map_len=limits.max_map_length,
        )
        self._fed = 0
        self._complete = 0  # stream offset just past the last complete value

    @property
    def buffered(self) -> int:
        """Bytes fed that are not yet part of a complete value. (msgpack's ``tell()`` counts
        the bytes of a partial value it has already parsed; this does not.)"""
        return self._fed - self._complete

    def feed(self, data: bytes) -> None:
        try:
            self._unpacker.feed(data)
        except Exception as error:  # BufferFull and friends
            raise MsgpackError(str(error) or type(error).__name__) from error
        self._fed += len(data)

    def values(self) -> Iterator[object]:
        """Every complete value buffered so far; stops quietly at a partial one."""
        while True:
            try:
                value: object = next(self._unpacker)
            except StopIteration:
                return
            except Exception as error:  # FormatError, StackError, unhashable map keys...
                raise MsgpackError(str(error) or type(error).__name__) from error
            self._complete = int(self._unpacker.tell())
            yield value


def iter_all(data: bytes, limits: DecodeLimits) -> Iterator[object]:
    """Every value of a complete stream of concatenated msgpack values (PackedForward
    entries), one at a time: a value the caller drops is never kept with the others. Strings
    are decoded as UTF-8 with replacement; a truncated stream raises at its end."""
    unpacker = StreamUnpacker(max(len(data), 1), limits, unicode_errors="replace")
    unpacker.feed(data)
    yield from unpacker.values()
    if unpacker.buffered:
        raise MsgpackError(f"truncated entries: {unpacker.buffered} bytes left")


def pack(value: object) -> bytes:
    """msgpack bytes of ``value``; a str decoded with surrogateescape packs as its exact bytes."""
    packed: bytes = msgpack.Packer(unicode_errors="surrogateescape").pack(value)
    return packed


def raw_bytes(value: str | bytes) -> bytes:
    """The exact bytes a msgpack str or bin carried."""
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogateescape")


def ext_parts(value: object) -> tuple[int, bytes] | None:
    """``(type code, data)`` of a msgpack extension value, or None for anything else."""
    if isinstance(value, msgpack.ExtType):
        code: int = value.code
        data: bytes = value.data
        return code, data
    return None


def timestamp_of(value: object) -> datetime | None:
    """A msgpack Timestamp extension (type -1) as a UTC datetime, or None."""
    if isinstance(value, msgpack.Timestamp):
        try:
            moment: datetime = value.to_datetime()
        except (OverflowError, ValueError, OSError):
            return None
        return moment.astimezone(UTC)
    return None
