"""The body of ``POST /api/v1/metrics``: ``{"points": [...]}`` as JSON, maybe gzipped, read
within a budget checked on its bytes before any object is built (``metronome.hits.budget``)."""

from __future__ import annotations

from typing import Any

from werkzeug.http import parse_options_header

from metronome.config import IngestSettings
from metronome.errors import ApiError
from metronome.hits.bodies import decompress, loads_json
from metronome.hits.budget import BodyBudget, check_json_values, parsing_slot
from metronome.points.point import FIELDS, MAX_DIMENSIONS

JSON_TYPES = frozenset({"application/json", "text/plain"})
# The JSON values one point can hold: the object, its members and their separators, and the
# dimensions' object with its members (each member counts its ":" and ",").
VALUES_PER_POINT = 2 + 2 * len(FIELDS) + 2 + 2 * MAX_DIMENSIONS


def points_budget(ingest: IngestSettings) -> BodyBudget:
    """Up to ``ingest.max_metric_points`` points within the body limits of every ingest."""
    return BodyBudget(
        max_bytes=ingest.max_decompressed_bytes,
        max_values=ingest.max_metric_points * VALUES_PER_POINT + 8,
        max_items=ingest.max_metric_points,
        max_inflate_ratio=ingest.max_inflate_ratio,
        what="metric points",
    )


def decode_points_body(
    content_type: str | None, data: bytes, content_encoding: str | None, budget: BodyBudget
) -> list[Any]:
    """The items of the body's ``points`` list (each still to be validated); ``ApiError`` for
    a body that is malformed or larger than ``budget``."""
    media_type = parse_options_header(content_type or "")[0].lower()
    if media_type not in JSON_TYPES:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send metric points as application/json, not {media_type or 'no type'}.",
        )
    data = decompress(content_encoding, data, budget)
    check_json_values(budget, data)
    with parsing_slot(budget, len(data)):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "invalid_encoding", "The body is not valid UTF-8.") from None
        try:
            body = loads_json(text)
        except ValueError as error:
            raise ApiError(400, "malformed_json", f"The body is not valid JSON: {error}") from None
    if not isinstance(body, dict) or not isinstance(body.get("points"), list):
        raise ApiError(
            400, "invalid_body", 'The body is a JSON object {"points": [...]}.', "points"
        )
    extra = sorted(name for name in body if name != "points")
    if extra:
        message = f"Unknown member {extra[0][:64]!r}: the body holds points only."
        raise ApiError(400, "invalid_body", message, extra[0][:64])
    points: list[Any] = body["points"]
    if not points:
        raise ApiError(422, "empty_batch", "The body holds no points.", "points")
    if len(points) > budget.max_items:
        raise ApiError(
            413,
            "batch_too_large",
            f"A request may hold at most {budget.max_items} points, this one has {len(points)}.",
            "points",
        )
    return points
