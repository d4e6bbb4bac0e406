"""The three paths for /openapi.json (``metronome.web.openapi`` adds them to the spec)."""

from __future__ import annotations

from typing import Any

from metronome.compat.allezon.model import AGGREGATES, DEFAULT_LIMIT, FILTERS, MAX_LIMIT
from metronome.compat.allezon.parse import TIME_RANGE_EXAMPLE
from metronome.compat.allezon.schema import UserTagSchema
from metronome.compat.allezon.tag import ACTIONS


def openapi_paths() -> dict[str, dict[str, Any]]:
    """The three paths as ``APISpec.path`` operations."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    errors = {str(status): {"description": "An error", **error} for status in (400, 404, 422, 503)}
    time_range = _param("time_range", {"type": "string", "example": TIME_RANGE_EXAMPLE}, True)
    ignored = {"description": "Ignored", "content": {"*/*": {"schema": {}}}}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    aggregates = {"type": "array", "items": {"type": "string", "enum": list(AGGREGATES)}}
    tag = {"application/json": {"schema": UserTagSchema}}
    return {
        "/user_tags": {
            "post": {
                "summary": "Store one Allezon user tag (durably, like a hit)",
                "requestBody": {"required": True, "content": tag},
                "responses": {"204": {"description": "Stored durably"}, **errors},
            }
        },
        "/user_profiles/{cookie}": {
            "post": {
                "summary": "A cookie's latest VIEW and BUY tags, newest first, as received",
                "parameters": [
                    {**_param("cookie", {"type": "string"}, True), "in": "path"},
                    time_range,
                    _param("limit", limit),
                ],
                "requestBody": ignored,
                "responses": {"200": {"description": "{cookie, views, buys}"}, **errors},
            }
        },
        "/aggregates": {
            "post": {
                "summary": "COUNT / SUM_PRICE of tags per minute (at most 10 minutes)",
                "parameters": [
                    time_range,
                    _param("action", {"type": "string", "enum": list(ACTIONS)}, True),
                    _param("aggregates", aggregates, True),
                    *(_param(name, {"type": "string"}) for name in FILTERS),
                ],
                "requestBody": ignored,
                "responses": {"200": {"description": "{columns, rows}, all strings"}, **errors},
            }
        },
    }


def _param(name: str, schema: dict[str, Any], required: bool = False) -> dict[str, Any]:
    return {"in": "query", "name": name, "required": required, "schema": schema}
