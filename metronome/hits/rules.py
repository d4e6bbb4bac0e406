"""The rules of a valid hit that both validators share: names, limits, messages, pure checks.

``schema.HitSchema`` (marshmallow, the documented form that /openapi.json is built from) and
``check.load_hit`` (hand-written, on the ingest path) read their limits and wording from here,
and call the same checks for event times and free parameters. Nothing here does I/O.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome.config import HitLimits
from metronome.errors import error_object

PARAM_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")
EVENT_NAME = re.compile(r"^[A-Za-z0-9_.:-]{1,64}\Z")
HIT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}\Z")
MAX_STRING = 1024  # reserved text fields; free parameters follow the site's HitLimits
MAX_TIME_TEXT = 64

# The reserved text fields and their longest value (``event`` and ``hit_id`` have patterns).
TEXT_MAX_CHARS = {
    "id": MAX_STRING,
    "url": 4096,
    "referrer": 4096,
    "format": 64,
    "visitor": 256,
    "session": 256,
    "site": 64,
    "key": 256,
}
DEFAULT_EVENT = "view"
EVENT_MESSAGE = "Use 1-64 letters, digits or _ . : -"
HIT_ID_MESSAGE = "Use 1-128 letters, digits or _ . : -"
TIME_MESSAGES = {
    "invalid": "Use an ISO-8601 date-time or epoch milliseconds.",
    "range": "The time is before 1970 or after 9999.",
}

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


class EventTimeError(ValueError):
    """``kind`` is a key of ``TIME_MESSAGES``."""

    def __init__(self, kind: str) -> None:
        super().__init__(TIME_MESSAGES[kind])
        self.kind = kind


def parse_event_time(value: Any) -> datetime:
    """ISO-8601 text (``Z`` or an offset; no offset means UTC) or epoch milliseconds, in UTC.

    Only what any clock agrees on is checked here; bounds relative to now are the site's
    (``check_time_bounds``), so they take the ``now`` of the request and are testable.
    """
    if isinstance(value, bool):
        raise EventTimeError("invalid")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise EventTimeError("invalid")
        try:
            moment = datetime.fromtimestamp(value / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            raise EventTimeError("range") from None
    elif isinstance(value, str) and 0 < len(value) <= MAX_TIME_TEXT:
        try:
            moment = datetime.fromisoformat(value.replace("z", "Z"))
        except ValueError:
            raise EventTimeError("invalid") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        raise EventTimeError("invalid")
    if moment.year < 1970:
        raise EventTimeError("range")
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59:59-01:00 is later than any datetime in UTC
        raise EventTimeError("range") from None


def check_time_bounds(moment: datetime, limits: HitLimits, now: datetime) -> None:
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


def without_empty_optional_text(raw: dict[Any, Any]) -> dict[Any, Any]:
    """An empty optional field (a direct visit's referrer="") means "not sent"."""
    return {k: v for k, v in raw.items() if not (v == "" and k in OPTIONAL_TEXT)}


def check_text_encodable(raw: dict[Any, Any]) -> None:
    """JSON may escape a lone UTF-16 surrogate (\\ud800) that no UTF-8 text can hold."""
    for key, value in raw.items():
        for text in (key, value):
            if isinstance(text, str) and not encodable(text):
                raise HitError("Text holds an unpaired surrogate (not valid Unicode).", _safe(key))
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
    if text.isascii():  # a flag CPython keeps on every string: no scan, and no surrogate
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_param_count(raw: dict[Any, Any], max_params: int) -> None:
    # Nested keys count too: each one is a field in the Elasticsearch mapping.
    count = len(raw) + sum(len(value) for value in raw.values() if isinstance(value, dict))
    if count > max_params:
        raise HitError(
            f"A hit may have at most {max_params} parameters (nested keys included), "
            f"this one has {count}."
        )


def check_param_name(name: Any) -> None:
    if not isinstance(name, str) or not PARAM_NAME.match(name):
        raise HitError(
            "Parameter names start with a letter and hold at most 64 letters, digits, _ or -.",
            str(name)[:80],
        )
    if name in SERVER_FIELDS:
        raise HitError(f"{name!r} is set by the server and cannot be sent.", name)


def check_param_value(name: str, value: Any, max_chars: int, nested_ok: bool) -> Any:
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
            check_param_value(f"{name}.{key}", inner, max_chars, nested_ok=False)
        return value
    if isinstance(value, dict):
        raise HitError("Only one level of nested objects is allowed.", name)
    raise HitError(
        f"Values are text, numbers, booleans or one nested object, not {json_type(value)}.", name
    )


def not_an_object(raw: Any) -> HitError:
    return HitError(f"A hit must be a JSON object, not {json_type(raw)}.")


def json_type(value: Any) -> str:
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


def _safe(name: Any) -> str:
    return str(name).encode("utf-8", "replace").decode("utf-8")[:80]
