"""The JSON body of ``POST /api/v1/query``, whatever content type a client sent it with (pure).

``curl -d '{...}'`` sends ``Content-Type: application/x-www-form-urlencoded`` unless told
otherwise, and some clients send no type at all. A body that is a JSON object is therefore read
as the query under those two types as well; anything else under them is a 400 that says how to
send it, and a type that is neither JSON nor those two is a 415.
"""

from __future__ import annotations

import json
from typing import Any

from metronome.errors import ApiError

FORM = "application/x-www-form-urlencoded"
HOW = "Send the query as a JSON object (Content-Type: application/json)."


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
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        message = f"The body is not valid JSON ({error}). {HOW}"
        raise ApiError(400, "malformed_json", message) from None
