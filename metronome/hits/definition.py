"""What a valid hit is, defined once: ``load_hit`` (the check on the ingest path), the words
of its refusals and the OpenAPI schema of the hit (``hit_schema``) all come from this module.

A hit is a JSON object of:

- the reserved fields of ``HIT_FIELDS``, each a field of ``metronome.hits.fields``; they are
  checked in the table's order, so the first failing one is the one reported. ``id`` is
  required; an empty optional text field means "not sent" (a direct visit's referrer="");
  ``time`` is read by ``metronome.hits.eventtime`` (ISO text, epoch seconds or milliseconds);
- free parameters: any other name of ``PARAM_NAME``, except the fields the server writes
  (``SERVER_FIELDS``); a value is text, a number (an integer within ±2^53), a boolean, null,
  or one object of such values under keys of the same form;
- within the site's ``HitLimits``: parameters (nested keys counted), characters of a free
  text value, and how far ``time`` may be from the server clock.

The schema (JSON Schema, as OpenAPI 3.1 has it) says all of this but what JSON Schema cannot:
it lists those rules in its description (``BEYOND_THE_SCHEMA``), and a unit test checks that
the schema and ``load_hit`` agree on every example but the ones these rules decide.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from metronome.config import HitLimits
from metronome.hits.eventtime import END, EVENT_TIME
from metronome.hits.fields import (
    INTEGRAL_FLOATS,
    CharSet,
    Field,
    Refusal,
    Text,
    Time,
    check_fields,
    compile_fields,
    encodable,
    object_schema,
    safe_name,
)

DEFAULT_EVENT = "view"
NAME_CHARS = CharSet("A-Za-z0-9_.:-", "letters, digits or _ . : -")
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,63}")  # fullmatch
MAX_SAFE_INTEGER = 2**53


class HitError(Refusal):
    """A hit refused, naming the field; ``as_error`` is its entry in an answer."""

    default_code = "invalid_hit"


def _optional(name: str, max_chars: int, description: str, **kwargs: Any) -> Text:
    return Text(name, max_chars, empty_is_absent=True, description=description, **kwargs)


# The reserved fields, in the order they are checked.
HIT_FIELDS: tuple[Field, ...] = (
    Text("id", 1024, required=True, description="What was used: a dataset, page, file..."),
    _optional("event", 64, "What happened to it", chars=NAME_CHARS, default=DEFAULT_EVENT),
    Time("time", EVENT_TIME, description="When it happened (default: when it was received)"),
    _optional(
        "hit_id", 128, "The client's id of this hit: a resent hit is stored once", chars=NAME_CHARS
    ),
    _optional("url", 4096, "The page the hit was sent from"),
    _optional("referrer", 4096, "The page that led there"),
    _optional("format", 64, "A download's file format"),
    _optional("visitor", 256, "The client's own visitor id (default: a daily cookieless one)"),
    _optional("session", 256, "The client's session id"),
    _optional("site", 64, "The site the hit is for (default: ?site=, else the default site)"),
    _optional("key", 256, "The site's write key, when not sent as X-Metronome-Key"),
)
RESERVED: tuple[str, ...] = tuple(field.name for field in HIT_FIELDS)
# Reserved text fields a client may leave empty: empty means absent.
OPTIONAL_TEXT = frozenset(
    field.name for field in HIT_FIELDS if isinstance(field, Text) and field.empty_is_absent
)
# Reserved fields whose form and query values stay text (an id of "0042" must not become 42).
TEXT_FIELDS = frozenset(field.name for field in HIT_FIELDS if isinstance(field, Text))
# Written by the server; a client may not send them.
SERVER_FIELDS = frozenset(
    {"type", "received_at", "user_agent", "bot", "ip", "client_ip", "geo", "version", "timestamp"}
)
BEYOND_THE_SCHEMA = (
    "the parameter limit counts nested keys and not empty optional fields "
    "(a site may set another limit than this schema's maxProperties)",
    "a site may allow longer or shorter free text values than this schema's maxLength",
    "time: at most the site's max_future_seconds (default a day) ahead of the server clock, "
    "and no older than its max_age_days if set; in 1970-9999 in UTC (an offset may move a "
    "time on the first or the last day past either end)",
    "text is valid Unicode (no unpaired surrogate)",
    f"for the ±2^53 limit of integers, {INTEGRAL_FLOATS}",
)

_DEFAULT_LIMITS = HitLimits()
_RESERVED_CHECKS = compile_fields(HIT_FIELDS, HitError)
_RESERVED_SET = frozenset(RESERVED)


def load_hit(
    raw: Any, limits: HitLimits | None = None, now: datetime | None = None
) -> dict[str, Any]:
    """One hit checked: reserved fields typed (``time`` a UTC datetime, ``event`` defaulted),
    free parameters as sent; or ``HitError`` naming the field.

    ``limits`` are the site's (default: ``HitLimits()``); ``now`` (timezone-aware, default: the
    clock) is what ``time`` is bounded against.
    """
    if limits is None:
        limits = _DEFAULT_LIMITS
    if not isinstance(raw, dict):
        raise not_an_object(raw)
    if "" in raw.values():
        raw = without_empty_optional_text(raw)
    check_param_count(raw, limits.max_params, nested_keys(raw))
    hit = check_fields(raw, _RESERVED_CHECKS, HitError)
    if "time" in hit:
        check_time_bounds(hit["time"], limits, now or datetime.now(UTC))
    max_chars = limits.max_value_chars
    for name, value in raw.items():
        if name in _RESERVED_SET:
            continue
        check_param_name(name)
        kind = type(value)
        if (kind is str and len(value) <= max_chars) or kind is bool or value is None:
            hit[name] = value  # the common values, without a call
        else:
            hit[name] = check_param_value(name, value, max_chars, nested_ok=True)
    return hit


# --- the rules beyond single fields ----------------------------------------------------------


def without_empty_optional_text(raw: dict[Any, Any]) -> dict[Any, Any]:
    """An empty optional field (a direct visit's referrer="") means "not sent"."""
    return {k: v for k, v in raw.items() if not (v == "" and k in OPTIONAL_TEXT)}


def nested_keys(raw: dict[Any, Any]) -> int:
    """The keys of the hit's nested objects, once its text is known to be valid Unicode.

    JSON may escape a lone UTF-16 surrogate (\\ud800) that no UTF-8 text can hold: such a key
    or value, at either level, is refused here, before any other rule.
    """
    nested = 0
    for key, value in raw.items():
        _check_encodable(key, key)
        kind = type(value)
        if kind is str:
            _check_encodable(value, key)
        elif kind is dict:
            nested += len(value)
            for inner_key, inner in value.items():
                _check_encodable(inner_key, key, inner_key)
                if type(inner) is str:
                    _check_encodable(inner, key, inner_key)
    return nested


_TOP = object()


def _check_encodable(text: Any, key: Any, inner_key: Any = _TOP) -> None:
    if type(text) is str and not text.isascii() and not encodable(text):
        where = safe_name(key)
        if inner_key is not _TOP:
            where = f"{where}.{safe_name(inner_key)}"
        raise HitError("Text holds an unpaired surrogate (not valid Unicode).", where)


def check_param_count(raw: dict[Any, Any], max_params: int, nested: int) -> None:
    # Nested keys count too: each one is a field in the Elasticsearch mapping.
    count = len(raw) + nested
    if count > max_params:
        raise HitError(
            f"A hit may have at most {max_params} parameters (nested keys included), "
            f"this one has {count}."
        )


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


def check_param_name(name: Any) -> None:
    if not isinstance(name, str) or PARAM_NAME.fullmatch(name) is None:
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
        if abs(value) > MAX_SAFE_INTEGER:
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
            if not isinstance(key, str) or PARAM_NAME.fullmatch(key) is None:
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


# --- the OpenAPI schema ----------------------------------------------------------------------


def hit_schema(limits: HitLimits = _DEFAULT_LIMITS, nested_ok: bool = True) -> dict[str, Any]:
    """The hit as JSON Schema (OpenAPI 3.1), with ``limits`` (a site's; default: the
    defaults). Without ``nested_ok``, the flat hit of a form body, where free values are text
    (``a.b=1`` nests them, which no OpenAPI form encoding describes)."""
    schema = object_schema(HIT_FIELDS)
    schema["maxProperties"] = limits.max_params
    schema["propertyNames"] = _NAME_SCHEMA
    schema["additionalProperties"] = _free_value(limits.max_value_chars, nested_ok)
    # The names the server writes: the schema refuses them, whatever the value.
    schema["not"] = {"anyOf": [{"required": [name]} for name in sorted(SERVER_FIELDS)]}
    schema["description"] = (
        "One hit. Reserved fields as listed; any other field is a free parameter. "
        "Not said by this schema: " + "; ".join(BEYOND_THE_SCHEMA) + "."
    )
    schema["example"] = {"id": "dataset-42", "event": "download", "format": "csv"}
    return schema


def _free_value(max_chars: int, nested_ok: bool) -> dict[str, Any]:
    """A free parameter's value: no array (nor, nested, an object), text of at most
    ``max_chars``, integers within ±2^53; a nested object's keys are names too."""
    refused: list[dict[str, Any]] = [{"type": "array"}]
    if not nested_ok:
        refused.append({"type": "object"})
    value: dict[str, Any] = {
        "description": "Text, a number, a boolean, null"
        + (" or an object of such values" if nested_ok else ""),
        "not": {"anyOf": refused},
        "maxLength": max_chars,
        "anyOf": [
            {"not": {"type": "integer"}},
            {"minimum": -MAX_SAFE_INTEGER, "maximum": MAX_SAFE_INTEGER},
        ],
    }
    if nested_ok:
        value["propertyNames"] = _NAME_SCHEMA
        value["additionalProperties"] = _free_value(max_chars, nested_ok=False)
    return value


_NAME_SCHEMA = {
    "pattern": f"^{PARAM_NAME.pattern}{END}",
    "description": "A letter, then at most 63 letters, digits, _ or -",
}


def hit_query_parameters() -> list[dict[str, Any]]:
    """The reserved fields as the query parameters of the pixel (``GET /tick.gif``)."""
    return [
        {"in": "query", "name": field.name, "required": field.required, "schema": field.schema()}
        for field in HIT_FIELDS
    ]
