"""The JSON body of a resource sent to the API (a dashboard, an alert rule): its media type,
size and syntax checked, each failure the JSON 4xx it deserves (415, 413, 400)."""

from __future__ import annotations

from typing import Any

from flask import request

from metronome.errors import ApiError
from metronome.hits.bodies import loads_json


def json_body(noun: str, max_bytes: int) -> Any:
    """The parsed body of a request that sends ``noun`` ("a dashboard") as JSON; a form's or
    an unnamed media type is read as JSON too (what curl -d sends)."""
    mimetype = request.mimetype
    if not (mimetype in ("application/json", "", "application/x-www-form-urlencoded") or
            mimetype.endswith("+json")):  # fmt: skip
        message = f"{mimetype} is not read here: send {noun} as application/json."
        raise ApiError(415, "unsupported_media_type", message)
    data = request.get_data(cache=True)
    if len(data) > max_bytes:
        limit = f"is at most {max_bytes} bytes of JSON ({len(data)} sent)"
        message = f"{noun[:1].upper()}{noun[1:]} {limit}."
        raise ApiError(413, "body_too_large", message)
    try:
        return loads_json(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON ({error}).") from None
