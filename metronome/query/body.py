"""The JSON body of ``POST /api/v1/query``, whatever content type a client sent it with (pure).

``curl -d '{...}'`` sends ``Content-Type: application/x-www-form-urlencoded`` unless told
otherwise, and some clients send no type at all. A body that is a JSON object is therefore read
as the query under those two types as well; anything else under them is a 400 that says how to
send it, and a type that is neither JSON nor those two is a 415.

The body is read before the key is checked, so its cost is bounded first: a body of more JSON
values than any query holds is a 413 before it is parsed, and nesting too deep for the parser
is a 400.
"""

from __future__ import annotations

from typing import Any

from metronome.errors import ApiError
from metronome.hits.bodies import loads_json
from metronome.hits.budget import json_value_marks

FORM = "application/x-www-form-urlencoded"
HOW = "Send the query as a JSON object (Content-Type: application/json)."
# Objects, arrays, members and elements: the largest query (20 filters of 100 values) holds ~2,200.
MAX_QUERY_VALUES = 12_000


def query_body(mimetype: str, raw: bytes) -> Any:
    """The parsed body; ``mimetype`` is the request's, lower-cased, without parameters."""
    if mimetype == "application/json" or mimetype.endswith("+json"):
        return _parsed(raw)
    if mimetype in ("", FORM):
        body = _parsed(raw)
        if not isinstance(body, dict):
            raise ApiError(400, "malformed_json", f"The body is not a JSON object. {HOW}")
        return body
    raise ApiError(415, "unsupported_media_type", f"{mimetype} is not read here. {HOW}")


def _parsed(raw: bytes) -> Any:
    if not raw.strip():
        raise ApiError(400, "malformed_json", f"The body is empty. {HOW}")
    if json_value_marks(raw, MAX_QUERY_VALUES) > MAX_QUERY_VALUES:
        raise ApiError(
            413,
            "too_many_values",
            f"The body holds more than {MAX_QUERY_VALUES} JSON values (objects, arrays, members "
            "and elements), more than any query has.",
        )
    try:
        return loads_json(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        message = f"The body is not valid JSON ({error}). {HOW}"
        raise ApiError(400, "malformed_json", message) from None
