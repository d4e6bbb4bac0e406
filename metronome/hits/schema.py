"""What a valid hit is (docs/api.md section 3.1), as a marshmallow schema: the documented form.

``HitSchema`` is what /openapi.json describes (``metronome.web.openapi``) and the reference that
the ingest path's hand-written validator, ``check.load_hit``, is tested against (a differential
test over generated hits: both accept the same hits, give the same result and word refusals the
same). ``load_hit_with_schema`` validates through the schema; it is slower and is kept for that
comparison and for the benchmark. Limits, wording and the shared checks live in ``rules``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from metronome.config import HitLimits
from metronome.hits.bodies import UndecodableLine
from metronome.hits.check import load_hit
from metronome.hits.rules import (
    DEFAULT_EVENT,
    EVENT_MESSAGE,
    EVENT_NAME,
    HIT_ID,
    HIT_ID_MESSAGE,
    TEXT_MAX_CHARS,
    TIME_MESSAGES,
    EventTimeError,
    HitError,
    check_param_count,
    check_param_name,
    check_param_value,
    check_text_encodable,
    check_time_bounds,
    encodable,
    not_an_object,
    parse_event_time,
    without_empty_optional_text,
)

__all__ = ["HitError", "HitSchema", "encodable", "load_hit", "load_hit_with_schema"]


class EventTime(fields.Field):
    """ISO-8601 text (``Z`` or an offset; no offset means UTC) or epoch milliseconds."""

    default_error_messages = TIME_MESSAGES

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            return parse_event_time(value)
        except EventTimeError as error:
            raise self.make_error(error.kind) from None


def _text(name: str, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=TEXT_MAX_CHARS[name]), **kwargs)


class HitSchema(Schema):
    """The reserved fields; everything else is a free parameter checked in ``load_hit``."""

    class Meta:
        unknown = INCLUDE

    id = _text("id", required=True)
    event = fields.String(
        load_default=DEFAULT_EVENT, validate=validate.Regexp(EVENT_NAME, error=EVENT_MESSAGE)
    )
    time = EventTime()
    hit_id = fields.String(validate=validate.Regexp(HIT_ID, error=HIT_ID_MESSAGE))
    url = _text("url")
    referrer = _text("referrer")
    format = _text("format")
    visitor = _text("visitor")
    session = _text("session")
    site = _text("site")
    key = _text("key")


_SCHEMA = HitSchema()
_RESERVED = frozenset(_SCHEMA.fields)


def load_hit_with_schema(
    raw: Any, limits: HitLimits | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """``load_hit`` through ``HitSchema``: the same result, several times slower."""
    if limits is None:
        limits = HitLimits()
    if isinstance(raw, UndecodableLine):
        raise HitError(raw.message)
    if not isinstance(raw, dict):
        raise not_an_object(raw)
    raw = without_empty_optional_text(raw)
    check_text_encodable(raw)
    check_param_count(raw, limits.max_params)
    try:
        hit: dict[str, Any] = _SCHEMA.load(raw)
    except ValidationError as error:
        field, message = _first_message(error.messages)
        raise HitError(message, field) from None
    if "time" in hit:
        check_time_bounds(hit["time"], limits, now or datetime.now(UTC))
    for name, value in raw.items():
        if name in _RESERVED:
            continue
        check_param_name(name)
        hit[name] = check_param_value(name, value, limits.max_value_chars, nested_ok=True)
    return hit


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
