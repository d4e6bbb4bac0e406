"""Event times and records as forward-protocol clients send them, made into what a
``LogEvent`` holds. Pure functions; ``InvalidEvent`` marks an event to drop and count.

Validity follows Fluentd's ``skip_invalid_event``: a time is an integer (epoch seconds) or an
EventTime (extension type 0, 8 bytes: uint32 seconds, uint32 nanoseconds), a float time is
invalid, and a record is a map. A time of 0 or nil means "now". Fluent Bit may wrap the time
as ``[time, {metadata}]``; the metadata is not kept.
"""

from __future__ import annotations

import base64
import struct
from datetime import UTC, datetime, timedelta
from typing import Any, TypeGuard

from metronome.logs.forward._msgpack import ext_parts, timestamp_of

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EVENT_TIME_CODE = 0
MAX_DEPTH = 64  # nesting of maps and arrays in a record; deeper is an invalid event
_NANOS = 1_000_000_000


class InvalidEvent(ValueError):
    """This event is dropped (and counted); the rest of its message is kept."""


def is_metadata_time(value: object) -> TypeGuard[list[Any]]:
    """Fluent Bit's ``[time, {metadata}]`` in the place of a time."""
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[1], dict)
        and not isinstance(value[0], list | dict)
    )


def event_time(value: object, now: datetime) -> datetime:
    """The UTC time of an event; ``now`` when the client sent 0 or nil."""
    if is_metadata_time(value):
        value = value[0]
    if value is None:
        return now
    if isinstance(value, bool) or not isinstance(value, int):
        return _event_time_ext(value, now)
    return now if value == 0 else _from_epoch(value, 0)


def _event_time_ext(value: object, now: datetime) -> datetime:
    ext = ext_parts(value)
    if ext is None or ext[0] != EVENT_TIME_CODE or len(ext[1]) != 8:
        raise InvalidEvent(f"time must be an integer or an EventTime, not {_kind(value)}")
    seconds, nanos = struct.unpack(">II", ext[1])
    if nanos >= _NANOS:
        raise InvalidEvent(f"EventTime nanoseconds out of range: {nanos}")
    return now if seconds == 0 else _from_epoch(seconds, nanos)


def _from_epoch(seconds: int, nanos: int) -> datetime:
    try:
        return EPOCH + timedelta(seconds=seconds, microseconds=nanos // 1000)
    except (OverflowError, ValueError) as error:
        raise InvalidEvent(f"time out of range: {seconds}") from error


def event_record(value: object) -> dict[str, Any]:
    """The record with string keys, every string valid UTF-8, nested values converted."""
    if not isinstance(value, dict):
        raise InvalidEvent(f"record must be a map, not {_kind(value)}")
    return _map(value, 0)


def text(value: str) -> str:
    """A decoded msgpack str as proper text: bytes that were not UTF-8 (kept by
    ``surrogateescape``) become U+FFFD, as ``bytes.decode("utf-8", "replace")`` would."""
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        except UnicodeEncodeError:  # a lone surrogate that no byte produced (JSON "\ud800")
            return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _map(value: dict[Any, Any], depth: int) -> dict[str, Any]:
    if depth >= MAX_DEPTH:
        raise InvalidEvent(f"record nested deeper than {MAX_DEPTH} levels")
    return {_key(key): _value(item, depth + 1) for key, item in value.items()}


def _value(value: object, depth: int) -> Any:
    if isinstance(value, str):
        return text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return _map(value, depth)
    if isinstance(value, list):  # (never a tuple: msgpack's ExtType is a namedtuple)
        if depth >= MAX_DEPTH:
            raise InvalidEvent(f"record nested deeper than {MAX_DEPTH} levels")
        return [_value(item, depth + 1) for item in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return _extension(value)


def _extension(value: object) -> str:
    """An EventTime or msgpack Timestamp as ISO-8601 UTC; any other extension as base64."""
    moment = timestamp_of(value)
    if moment is not None:
        return moment.isoformat()
    ext = ext_parts(value)
    if ext is None:
        raise InvalidEvent(f"unsupported value in record: {_kind(value)}")
    if ext[0] == EVENT_TIME_CODE and len(ext[1]) == 8:
        seconds, nanos = struct.unpack(">II", ext[1])
        return _from_epoch(seconds, nanos % _NANOS).isoformat()
    return base64.b64encode(ext[1]).decode("ascii")


def _key(key: object) -> str:
    if isinstance(key, str):
        return text(key)
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    if key is None:
        return "null"
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return str(key)
    raise InvalidEvent(f"unsupported map key in record: {_kind(key)}")


def _kind(value: object) -> str:
    return "nil" if value is None else type(value).__name__
