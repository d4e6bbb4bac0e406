"""Decode a /tick request body into a list of raw hits (docs/api.md section 3.1, body formats).

Formats: JSON (an object or an array), ``text/plain`` holding JSON (``sendBeacon``), NDJSON
(one hit per line) and form bodies (one flat hit), optionally gzip-compressed. The pixel
``GET /tick.gif`` builds its hit from query parameters with the same rules as form bodies.
Whatever is wrong with the body as a whole is an ``ApiError``; what is wrong with one hit is
left to ``definition.load_hit`` so the other hits of a batch are still accepted.
"""

from __future__ import annotations

import functools
import json
import math
import re
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict
from werkzeug.http import parse_options_header

from metronome.config import Settings
from metronome.errors import ApiError
from metronome.hits.budget import (
    BodyBudget,
    check_form_pairs,
    check_json_values,
    check_lines,
    check_size,
    inflate_error,
    parsing_slot,
    tick_budget,
)
from metronome.hits.definition import TEXT_FIELDS

JSON_TYPES = frozenset({"application/json", "text/plain"})  # text/plain: what sendBeacon sends
NDJSON_TYPES = frozenset({"application/x-ndjson", "application/jsonlines"})
FORM_TYPE = "application/x-www-form-urlencoded"
_MEDIA_TYPES = JSON_TYPES | NDJSON_TYPES | {FORM_TYPE}
UTF8_NAMES = frozenset({"utf-8", "utf8"})
GZIP_ENCODINGS = frozenset({"gzip", "x-gzip"})
NO_ENCODING = frozenset({"", "identity"})

# Flat (form and query) values stay text for these: an id of "0042" must not become 42.
STRING_FIELDS = TEXT_FIELDS
NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")
# An epoch time (eventtime says which unit): digits, and a fraction, as a number. Bounded so
# int() never meets a number of thousands of digits (it refuses them).
EPOCH_NUMBER = re.compile(r"[0-9]{1,18}(\.[0-9]{1,9})?")
MAX_SAFE_INTEGER = 2**53
MAX_INT_DIGITS = 4000
# A form body is one flat hit: more pairs than this exceed any site's parameter limit.
MAX_FORM_PAIRS = 10_000
DEFAULT_BUDGET = tick_budget(Settings())  # a /tick body's, with the default settings

_GZIP_WBITS = 16 + zlib.MAX_WBITS  # gzip header and trailer, not raw zlib
_INFLATE_CHUNK = 65_536


@dataclass(frozen=True)
class DecodedBody:
    hits: list[Any]
    batch: bool  # several hits could be sent (array, NDJSON): rejections are listed by index


@dataclass(frozen=True)
class UndecodableLine:
    """An NDJSON line that is not JSON; it stands in the hit list so it is rejected by index."""

    line_number: int
    message: str


def decode_body(
    content_type: str | None,
    data: bytes,
    content_encoding: str | None = None,
    budget: BodyBudget = DEFAULT_BUDGET,
) -> DecodedBody:
    """The hits of a body, refused whole (``ApiError``) when it is malformed or holds more than
    ``budget``: checked on the bytes, before any object is built."""
    kind = media_type(content_type)
    data = decompress(content_encoding, data, budget)
    if not data or data.isspace():  # what `not data.strip()` says, without copying the body
        raise ApiError(400, "empty_body", "The request body is empty; send a hit or an array.")
    if kind == FORM_TYPE:
        check_form_pairs(data, MAX_FORM_PAIRS)
    else:
        check_json_values(budget, data)
    if kind in NDJSON_TYPES:
        check_lines(budget, data)
    with parsing_slot(budget, len(data)):
        return _parse(kind, data)


def _parse(kind: str, data: bytes) -> DecodedBody:
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark is allowed
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
    if kind in NDJSON_TYPES:
        return DecodedBody(hits=ndjson_values(text), batch=True)
    if kind == FORM_TYPE:
        return DecodedBody(hits=[hit_from_pairs(_form_pairs(text))], batch=False)
    try:
        value = loads_json(text)
    except ValueError as error:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}.") from None
    if isinstance(value, list):
        return DecodedBody(hits=value, batch=True)
    return DecodedBody(hits=[value], batch=False)


def hit_from_query(args: MultiDict[str, str] | Mapping[str, str]) -> dict[str, Any]:
    """The hit of a pixel request ``GET /tick.gif?id=...``: the same rules as a form body."""
    pairs = args.items(multi=True) if isinstance(args, MultiDict) else args.items()
    return hit_from_pairs(pairs)


def hit_from_pairs(pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
    """Flat ``name=value`` text pairs as a hit: numbers typed, ``a.b`` keys nested one level.

    Form and query values are always text, so numbers are recognised here for the free
    parameters (summable in Elasticsearch), while reserved fields stay text.
    """
    hit: dict[str, Any] = {}
    seen: set[str] = set()
    for key, text in pairs:
        if key in seen:
            raise ApiError(
                400,
                "duplicate_parameter",
                f"The parameter {key!r} is sent more than once; send each parameter once.",
                key,
            )
        seen.add(key)
        name, dot, inner = key.partition(".")
        if not dot:
            if name in hit:
                raise _conflict(name)
            hit[name] = _flat_value(name, text)
            continue
        group = hit.setdefault(name, {})
        if not isinstance(group, dict):
            raise _conflict(name)
        group[inner] = _flat_value(key, text)
    return hit


@functools.lru_cache(maxsize=64)  # clients send a handful of distinct Content-Type headers
def mimetype(content_type: str | None) -> str:
    """The media type of a Content-Type header, lower-cased, as werkzeug's ``mimetype`` reads
    it: "" for none. Unlike ``media_type``, it refuses nothing."""
    return parse_options_header(content_type or "")[0].lower()


@functools.lru_cache(maxsize=64)
def media_type(content_type: str | None) -> str:
    """The body's media type, lower-cased; ``ApiError`` 415 for a type no ingest reads."""
    kind, options = parse_options_header(content_type or "")
    kind = kind.lower()
    if kind not in _MEDIA_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send hits as application/json, text/plain JSON, application/x-ndjson or "
            f"application/x-www-form-urlencoded, not {kind or 'no type'}.",
        )
    charset = options.get("charset", "utf-8").lower()
    if charset not in UTF8_NAMES:
        raise ApiError(
            415, "unsupported_charset", f"Send the body as UTF-8, not {options['charset']}."
        )
    return kind


def decompress(content_encoding: str | None, data: bytes, budget: BodyBudget) -> bytes:
    """The body as sent, or inflated within ``budget`` (its size and inflate ratio)."""
    encoding = (content_encoding or "").strip().lower()
    if encoding in NO_ENCODING:
        check_size(budget, data)
        return data
    if encoding in GZIP_ENCODINGS:
        inflated = _gunzip(data, budget.inflate_limit(len(data)))
        if inflated is None:
            raise inflate_error(budget, len(data))
        return inflated
    raise ApiError(
        415,
        "unsupported_encoding",
        f"Send the body uncompressed or with Content-Encoding: gzip, not {content_encoding}.",
    )


def _gunzip(data: bytes, limit: int) -> bytes | None:
    """Inflate chunk by chunk so a small bomb costs at most ``limit`` + one chunk of memory;
    ``None`` when the body inflates past ``limit``."""
    output = bytearray()
    pending = data
    while pending:  # gzip allows several members one after the other (cat a.gz b.gz)
        inflater = zlib.decompressobj(_GZIP_WBITS)
        while not inflater.eof:
            try:
                chunk = inflater.decompress(pending, _INFLATE_CHUNK)
            except zlib.error as error:
                raise ApiError(
                    400, "invalid_gzip", f"The body is not valid gzip: {error}."
                ) from None
            stalled = not chunk and len(inflater.unconsumed_tail) == len(pending)
            if stalled:
                raise ApiError(400, "invalid_gzip", "The gzip body is truncated.")
            pending = inflater.unconsumed_tail
            output += chunk
            if len(output) > limit:
                return None
        pending = inflater.unused_data
    return bytes(output)


def loads_json(text: str) -> Any:
    """``json.loads`` that refuses NaN and Infinity; every failure is a ValueError."""
    if text.startswith("\ufeff"):  # what json.loads says; _DECODER alone would not check
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    try:
        return _DECODER.decode(text)
    except RecursionError:
        raise ValueError("it is nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse_int(digits: str) -> int:
    # int() refuses such numbers with advice about sys.set_int_max_str_digits(), not for clients.
    if len(digits) > MAX_INT_DIGITS:
        raise ValueError(f"a number has more than {MAX_INT_DIGITS} digits")
    return int(digits)


# Built once: json.loads with these options builds a new decoder for every call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)


def ndjson_values(text: str) -> list[Any]:
    hits: list[Any] = []
    # Only "\n" ends a line: str.splitlines() would also split at U+2028, legal inside JSON text.
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            hits.append(loads_json(line))
        except json.JSONDecodeError as error:
            message = f"Line {number} is not valid JSON: {error.msg} (column {error.colno})."
            hits.append(UndecodableLine(number, message))
        except ValueError as error:
            hits.append(UndecodableLine(number, f"Line {number} is not valid JSON: {error}."))
    return hits


def _form_pairs(text: str) -> list[tuple[str, str]]:
    try:
        return parse_qsl(text, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise ApiError(
            400, "invalid_encoding", "A percent-encoded form value is not valid UTF-8."
        ) from None


def _flat_value(name: str, text: str) -> str | int | float:
    if name in STRING_FIELDS:
        return text
    if name == "time":
        epoch = EPOCH_NUMBER.fullmatch(text)
        if epoch is None:
            return text  # ISO text, or refused as neither
        return int(text) if epoch.group(1) is None else float(text)
    return _number_or_text(text)


def _number_or_text(text: str) -> str | int | float:
    match = NUMBER.fullmatch(text)
    if match is None:
        return text
    if match.group(2) is None:
        # Beyond 2^53 a double loses digits; such values are ids, kept exact as text.
        if len(text) > 17:
            return text
        number = int(text)
        return number if abs(number) <= MAX_SAFE_INTEGER else text
    value = float(text)
    return value if math.isfinite(value) else text


def _conflict(name: str) -> ApiError:
    return ApiError(
        400,
        "conflicting_parameter",
        f"The parameter {name!r} is sent both as a value and as an object of {name}.* keys.",
        name,
    )
