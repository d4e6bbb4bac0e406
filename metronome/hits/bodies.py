"""Decode a /tick request body into a list of raw hits (API.md section 2, "Bodies")."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from metronome.errors import ApiError

JSON_TYPES = frozenset({"application/json", "text/plain"})  # text/plain: what sendBeacon sends


@dataclass(frozen=True)
class DecodedBody:
    hits: list[Any]
    batch: bool  # an array was sent (the answer lists rejected hits by index)


def decode_body(content_type: str | None, data: bytes) -> DecodedBody:
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send hits as application/json or text/plain JSON, not {media_type or 'no type'}.",
        )
    if not data.strip():
        raise ApiError(400, "empty_body", "The request body is empty; send a hit or an array.")
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
    except (json.JSONDecodeError, ValueError) as error:
        raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}") from None
    except RecursionError:
        raise ApiError(400, "malformed_json", "The body is nested too deeply.") from None
    if isinstance(value, list):
        return DecodedBody(hits=value, batch=True)
    return DecodedBody(hits=[value], batch=False)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
