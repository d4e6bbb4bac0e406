"""What a valid hit is (API.md section 2): reserved fields typed, free parameters bounded.

``load_hit`` turns one decoded JSON value into a clean ``dict`` or raises ``HitError`` naming
the field. It never touches I/O, so every rule here is tested without a server.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from metronome.config import HitLimits
from metronome.errors import error_object
from metronome.hits.bodies import UndecodableLine

PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
HIT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}\Z")
MAX_STRING = 1024  # reserved text fields; free parameters follow the site's HitLimits

# Written by the server; a client may not send them.
SERVER_FIELDS = frozenset(
    {"type", "received_at", "user_agent", "bot", "ip", "client_ip", "geo", "version", "timestamp"}
)
# Reserved text fields a client may leave empty: empty means absent.
OPTIONAL_TEXT = frozenset(
    {"event", "hit_id", "url", "referrer", "format", "visitor", "session", "site", "key"}
)
# Accepted on a hit but not stored as parameters: routing and credentials.
REQUEST_FIELDS = frozenset({"site", "key"})


class HitError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_error(self) -> dict[str, str]:
        return error_object("invalid_hit", self.message, self.field)


class EventTime(fields.Field):
    """ISO-8601 text (``Z`` or an offset; no offset means UTC) or epoch milliseconds.

    Only what any clock agrees on is checked here; bounds relative to now are the site's
    (``_check_time``), so they take the ``now`` of the request and are testable.
    """

    default_error_messages = {  # noqa: RUF012 (marshmallow's own convention)
        "invalid": "Use an ISO-8601 date-time or epoch milliseconds.",
        "range": "The time is before 1970 or after 9999.",
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        if isinstance(value, bool):
            raise self.make_error("invalid")
        if isinstance(value, int | float):
            if not math.isfinite(value):
                raise self.make_error("invalid")
            try:
                moment = datetime.fromtimestamp(value / 1000, UTC)
            except (OverflowError, OSError, ValueError):
                raise self.make_error("range") from None
        elif isinstance(value, str) and 0 < len(value) <= 64:
            try:
                moment = datetime.fromisoformat(value.replace("z", "Z"))
            except ValueError:
                raise self.make_error("invalid") from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
        else:
            raise self.make_error("invalid")
        if moment.year < 1970:
            raise self.make_error("range")
        return moment.astimezone(UTC)


def _text(max_length: int = MAX_STRING, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class HitSchema(Schema):
    """The reserved fields; everything else is a free parameter checked in ``load_hit``."""

    class Meta:
        unknown = INCLUDE

    id = _text(required=True)
    event = fields.String(
        load_default="view",
        validate=validate.Regexp(EVENT_NAME, error="Use 1-64 letters, digits or _ . : -"),
    )
    time = EventTime()
    hit_id = fields.String(
        validate=validate.Regexp(HIT_ID, error="Use 1-128 letters, digits or _ . : -")
    )
    url = _text(4096)
    referrer = _text(4096)
    format = _text(64)
    visitor = _text(256)
    session = _text(256)
    site = _text(64)
    key = _text(256)


_SCHEMA = HitSchema()
_RESERVED = frozenset(_SCHEMA.fields)


def load_hit(
    raw: Any, limits: HitLimits | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """Validate one hit; returns reserved fields typed and free parameters as sent.

    ``limits`` are the site's (default: ``HitLimits()``); ``now`` (timezone-aware, default: the
    clock) is what ``time`` is bounded against.
    """
    if limits is None:
        limits = HitLimits()
    if isinstance(raw, UndecodableLine):
        raise HitError(raw.message)
    if not isinstance(raw, dict):
        raise HitError(f"A hit must be a JSON object, not {_json_type(raw)}.")
    # An empty optional field (a direct visit's referrer="") means "not sent".
    raw = {k: v for k, v in raw.items() if not (v == "" and k in OPTIONAL_TEXT)}
    _check_text_encodable(raw)
    _check_param_count(raw, limits.max_params)
    try:
        hit: dict[str, Any] = _SCHEMA.load(raw)
    except ValidationError as error:
        field, message = _first_message(error.messages)
        raise HitError(message, field) from None
    if "time" in hit:
        _check_time(hit["time"], limits, now or datetime.now(UTC))
    for name, value in raw.items():
        if name in _RESERVED:
            continue
        _check_param_name(name)
        hit[name] = _check_param_value(name, value, limits.max_value_chars, nested_ok=True)
    return hit


def _check_param_count(raw: dict[Any, Any], max_params: int) -> None:
    # Nested keys count too: each one is a field in the Elasticsearch mapping.
    count = len(raw) + sum(len(value) for value in raw.values() if isinstance(value, dict))
    if count > max_params:
        raise HitError(
            f"A hit may have at most {max_params} parameters (nested keys included), "
            f"this one has {count}."
        )


def _check_time(moment: datetime, limits: HitLimits, now: datetime) -> None:
    if moment > now + timedelta(seconds=limits.max_future_seconds):
        raise HitError(
            f"time: {moment.isoformat()} is more than {limits.max_future_seconds} seconds "
            "ahead of the server clock.",
            "time",
        )
    if limits.max_age_days is not None and moment < now - timedelta(days=limits.max_age_days):
        raise HitError(
            f"time: {moment.isoformat()} is more than {limits.max_age_days} days in the past; "
            "this site accepts no older hits.",
            "time",
        )


def _check_text_encodable(raw: dict[str, Any]) -> None:
    """JSON may escape a lone UTF-16 surrogate (\\ud800) that no UTF-8 text can hold."""
    for key, value in raw.items():
        for text, where in ((key, key), (value, key)):
            if isinstance(text, str) and not encodable(text):
                raise HitError(
                    "Text holds an unpaired surrogate (not valid Unicode).", _safe(where)
                )
        if isinstance(value, dict):
            for inner_key, inner in value.items():
                for text in (inner_key, inner):
                    if isinstance(text, str) and not encodable(text):
                        raise HitError(
                            "Text holds an unpaired surrogate (not valid Unicode).",
                            f"{_safe(key)}.{_safe(inner_key)}",
                        )


def encodable(text: str) -> bool:
    """False for text holding a lone surrogate, which no UTF-8 document can carry."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _safe(name: Any) -> str:
    return str(name).encode("utf-8", "replace").decode("utf-8")[:80]


def _check_param_name(name: str) -> None:
    if not isinstance(name, str) or not PARAM_NAME.match(name):
        raise HitError(
            "Parameter names start with a letter and hold at most 64 letters, digits, _ or -.",
            str(name)[:80],
        )
    if name in SERVER_FIELDS:
        raise HitError(f"{name!r} is set by the server and cannot be sent.", name)


def _check_param_value(name: str, value: Any, max_chars: int, nested_ok: bool) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > 2**53:
            raise HitError("Integers beyond 2^53 lose precision; send them as strings.", name)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise HitError("Numbers must be finite.", name)
        return value
    if isinstance(value, str):
        if len(value) > max_chars:
            raise HitError(f"Text values hold at most {max_chars} characters.", name)
        return value
    if isinstance(value, dict) and nested_ok:
        for key, inner in value.items():
            if not isinstance(key, str) or not PARAM_NAME.match(key):
                raise HitError(
                    "Nested keys start with a letter and hold at most 64 letters, digits, _ or -.",
                    f"{name}.{str(key)[:80]}",
                )
            _check_param_value(f"{name}.{key}", inner, max_chars, nested_ok=False)
        return value
    if isinstance(value, dict):
        raise HitError("Only one level of nested objects is allowed.", name)
    raise HitError(
        f"Values are text, numbers, booleans or one nested object, not {_json_type(value)}.", name
    )


def _first_message(messages: Any, path: str = "") -> tuple[str | None, str]:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        return _first_message(value, f"{path}.{key}" if path else str(key))
    if isinstance(messages, list) and messages:
        first = messages[0]
        if isinstance(first, str):
            return path or None, f"{path}: {first}" if path else first
        return _first_message(first, path)
    return path or None, str(messages)


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if value is None:
        return "null"
    return "an object"
