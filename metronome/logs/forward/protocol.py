"""Fluentd Forward Protocol v1, receiving side. Pure: bytes in, requests and ack bytes out.

``FrameDecoder`` turns a connection's byte stream (any chunking: several messages in one write,
one message over many) into messages; ``parse_request`` turns one message into ``LogEvent``s;
``encode_ack`` answers a message that carried a ``chunk``. The mode is picked from the type of
the second element, as Fluentd's ``in_forward`` does:

- str or bin: PackedForward ``[tag, entries, option?]`` (CompressedPackedForward when
  ``option.compressed == "gzip"``; gzip members may be concatenated);
- an array of arrays (or an empty array): Forward ``[tag, [[time, record], ...], option?]``;
- anything else: Message ``[tag, time, record, option?]``.

A connection whose first byte is ``{`` or ``[`` speaks JSON for its whole life (Fluentd
accepts that too); its messages are arrays of at most 1 MiB and its acks are JSON. Only logs
are received: a message whose ``option.fluent_signal`` is metrics or traces is refused.
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from metronome.logs.events import LogEvent
from metronome.logs.forward._msgpack import (
    MsgpackError,
    StreamUnpacker,
    iter_all,
    pack,
    raw_bytes,
)
from metronome.logs.forward.limits import DEFAULT_LIMITS, DecodeLimits
from metronome.logs.forward.values import InvalidEvent, event_record, event_time, text

INPUT = "forward"  # LogEvent.input of everything received here
# A JSON message is parsed again from its start whenever a "]" arrives, so keep it small.
MAX_JSON_MESSAGE_BYTES = 1024 * 1024
LOGS_SIGNAL = 0  # option.fluent_signal: 0 logs, 1 metrics, 2 traces


class ProtocolError(ValueError):
    """The peer does not speak the protocol; its connection is closed."""


class Format(StrEnum):
    MSGPACK = "msgpack"
    JSON = "json"


class Mode(StrEnum):
    MESSAGE = "message"
    FORWARD = "forward"
    PACKED_FORWARD = "packed_forward"
    COMPRESSED_PACKED_FORWARD = "compressed_packed_forward"


@dataclass(frozen=True)
class Request:
    """One message, decoded: the valid events, how many were dropped, and the ack chunk."""

    mode: Mode
    events: tuple[LogEvent, ...]
    invalid: int  # events dropped as invalid (counted, never stored)
    chunk: str | bytes | None  # option.chunk, exactly as decoded; None: no ack wanted


class FrameDecoder:
    """Feed it bytes as they arrive; ``messages()`` yields each complete message (an array).

    ``nil`` keepalives are skipped. Bytes that are not msgpack (or JSON, on a JSON
    connection), a message that is not an array, or a message that breaks one of ``limits``
    raise ``ProtocolError``; the decoder is unusable afterwards.
    """

    def __init__(self, limits: DecodeLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.format: Format | None = None
        self._stream: _MsgpackStream | _JsonStream | None = None

    @property
    def buffered(self) -> int:
        """Bytes received that are not yet part of a complete message."""
        return 0 if self._stream is None else self._stream.buffered

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self._stream is None:
            if data[:1] in (b"{", b"["):
                limit = min(self.limits.max_message_bytes, MAX_JSON_MESSAGE_BYTES)
                self.format, self._stream = Format.JSON, _JsonStream(limit)
            else:
                self.format, self._stream = Format.MSGPACK, _MsgpackStream(self.limits)
        self._stream.feed(data)

    def messages(self) -> Iterator[list[Any]]:
        if self._stream is None:
            return
        for message in self._stream.messages():
            if message is None:
                continue  # keepalive
            if not isinstance(message, list):
                raise ProtocolError(f"a message must be an array, not {type(message).__name__}")
            yield message


class _MsgpackStream:
    def __init__(self, limits: DecodeLimits) -> None:
        self._max = limits.max_message_bytes
        self._unpacker = StreamUnpacker(limits.max_message_bytes, limits)
        self._pending = bytearray()  # received, not yet handed to the unpacker

    @property
    def buffered(self) -> int:
        return self._unpacker.buffered + len(self._pending)

    def feed(self, data: bytes) -> None:
        self._pending += data

    def messages(self) -> Iterator[object]:
        # Hand the unpacker only what fits: a big write of many small messages is fine,
        # one message larger than the limit is not.
        while True:
            try:
                yield from self._unpacker.values()
                if not self._pending:
                    return
                room = self._max - self._unpacker.buffered
                if room <= 0:
                    raise ProtocolError(
                        f"a message is larger than {self._max} bytes (max_message_bytes)"
                    )
                piece = bytes(self._pending[:room])
                del self._pending[:room]
                self._unpacker.feed(piece)
            except MsgpackError as error:
                raise ProtocolError(f"not msgpack, or over a limit: {explain(error)}") from error


# msgpack's names for its limits, and the names of the settings that set them.
_LIMIT_NAMES = {
    "max_array_len": "max_array_length",
    "max_map_len": "max_map_length",
    "max_str_len": "max_string_bytes",
    "max_bin_len": "max_string_bytes",
    "max_ext_len": "max_string_bytes",
}


def explain(error: MsgpackError) -> str:
    """msgpack's message, with its limit named as the setting that sets it."""
    message = str(error)
    for theirs, ours in _LIMIT_NAMES.items():
        if theirs in message:
            return f"{message} ({ours})"
    return message


class _JsonStream:
    def __init__(self, max_message_bytes: int) -> None:
        self._max = max_message_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")("replace")
        self._text = ""
        self._json = json.JSONDecoder()
        self._may_be_complete = False  # a "]" arrived since the last failed attempt

    @property
    def buffered(self) -> int:
        return len(self._text)

    def feed(self, data: bytes) -> None:
        self._text += self._utf8.decode(data)
        self._may_be_complete = self._may_be_complete or b"]" in data

    def messages(self) -> Iterator[object]:
        while True:
            start = len(self._text) - len(self._text.lstrip())
            if start == len(self._text):
                self._text = ""
                return
            if self._text.startswith("null", start):
                self._text = self._text[start + 4 :]
                yield None  # keepalive
                continue
            if "null".startswith(self._text[start:]):
                return  # the start of a keepalive
            if self._text[start] != "[":
                raise ProtocolError("a JSON message must be an array")
            if self._may_be_complete:
                try:
                    message, end = self._json.raw_decode(self._text, start)
                except json.JSONDecodeError:
                    self._may_be_complete = False  # incomplete, or garbage: wait and see
                except RecursionError as error:
                    raise ProtocolError("JSON nested too deeply") from error
                else:
                    self._text = self._text[end:]
                    yield message
                    continue
            if len(self._text) - start > self._max:
                raise ProtocolError(f"a message is larger than {self._max} bytes")
            return


def parse_request(
    message: list[Any],
    now: datetime,
    *,
    limits: DecodeLimits = DEFAULT_LIMITS,
) -> Request:
    """The events of one message; invalid events are dropped and counted, a malformed
    message (or PackedForward entries that break ``limits``) raises ``ProtocolError``."""
    if len(message) < 2:
        raise ProtocolError(f"a message has at least 2 elements, not {len(message)}")
    second = message[1]
    if isinstance(second, str | bytes):
        option = _option(message, 2, 3)
        mode, entries = _packed_entries(raw_bytes(second), option, limits)
    elif isinstance(second, list) and (not second or isinstance(second[0], list)):
        mode, entries, option = Mode.FORWARD, iter(second), _option(message, 2, 3)
    elif len(message) >= 3:
        option = _option(message, 3, 4)
        mode, entries = Mode.MESSAGE, iter([[second, message[2]]])
    else:
        raise ProtocolError("a Message-mode message is [tag, time, record, option?]")
    tag = message[0]
    chunk = option.get("chunk")
    chunk = chunk if isinstance(chunk, str | bytes) else None
    # A resent chunk carries the same chunk id: id + position make its events' ids stable.
    key_prefix = f"chunk:{raw_bytes(chunk).hex()}:" if chunk is not None else ""
    events: list[LogEvent] = []
    invalid = 0
    try:
        for position, entry in enumerate(entries):
            try:
                event = _event(tag, entry, now)
            except InvalidEvent:
                invalid += 1
                continue
            events.append(
                dataclasses.replace(event, key=f"{key_prefix}{position}") if chunk else event
            )
    except MsgpackError as error:
        raise ProtocolError(f"PackedForward entries: {explain(error)}") from error
    return Request(mode, tuple(events), invalid, chunk)


def _option(message: list[Any], index: int, max_length: int) -> dict[Any, Any]:
    if len(message) > max_length:
        raise ProtocolError(f"too many elements in a message: {len(message)}")
    option = message[index] if len(message) > index else None
    if option is None:
        return {}
    if not isinstance(option, dict):
        raise ProtocolError(f"the option must be a map, not {type(option).__name__}")
    signal = option.get("fluent_signal", LOGS_SIGNAL)
    if signal != LOGS_SIGNAL:
        raise ProtocolError(f"only logs are received, not fluent_signal {signal!r}")
    return option


def _packed_entries(
    data: bytes, option: dict[Any, Any], limits: DecodeLimits
) -> tuple[Mode, Iterator[object]]:
    """The entries, decoded one at a time as the caller takes them (an invalid one is
    dropped before the next is decoded); bad msgpack raises ``MsgpackError`` on the way."""
    compressed = option.get("compressed")
    if isinstance(compressed, bytes):
        compressed = compressed.decode("utf-8", "replace")
    if compressed == "gzip":
        mode = Mode.COMPRESSED_PACKED_FORWARD
        data = gunzip(data, limits.max_decompressed_bytes)
    elif compressed in (None, "text"):
        mode = Mode.PACKED_FORWARD
    else:
        raise ProtocolError(f"unsupported compression: {compressed!r}")
    return mode, iter_all(data, limits)


def gunzip(data: bytes, limit: int) -> bytes:
    """Every gzip member of ``data``, concatenated; at most ``limit`` bytes of output."""
    out = bytearray()
    rest = data
    while rest:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip header only
        try:
            out += inflater.decompress(rest, limit - len(out) + 1)
        except zlib.error as error:
            raise ProtocolError(f"bad gzip data: {error}") from error
        if len(out) > limit:
            raise ProtocolError(
                f"gzip data larger than {limit} bytes once decompressed (max_decompressed_bytes)"
            )
        if not inflater.eof:
            raise ProtocolError("truncated gzip data")
        rest = inflater.unused_data
    return bytes(out)


def _event(tag: object, entry: object, now: datetime) -> LogEvent:
    if not isinstance(tag, str):
        raise InvalidEvent("the tag must be a string")
    if not isinstance(entry, list) or len(entry) != 2:
        raise InvalidEvent("an entry is [time, record]")
    return LogEvent(
        tag=text(tag), time=event_time(entry[0], now), record=event_record(entry[1]), input=INPUT
    )


def encode_ack(chunk: str | bytes, fmt: Format = Format.MSGPACK) -> bytes:
    """``{"ack": chunk}``, the chunk byte for byte and with its own type (str or bin)."""
    if fmt is Format.JSON:
        value = text(chunk) if isinstance(chunk, str) else chunk.decode("utf-8", "replace")
        return json.dumps({"ack": value}).encode()
    return pack({"ack": chunk})
