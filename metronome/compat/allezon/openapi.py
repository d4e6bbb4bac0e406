"""The three paths for /openapi.json, and the tag's schemas (``metronome.web.openapi`` adds
them to the spec); the tag's come from its one definition, ``tag.TAG``."""

from __future__ import annotations

from typing import Any

from metronome.compat.allezon.model import AGGREGATES, DEFAULT_LIMIT, FILTERS, MAX_LIMIT
from metronome.compat.allezon.parse import TIME_RANGE_EXAMPLE, TIME_RANGE_PATTERN
from metronome.compat.allezon.tag import ACTIONS, MAX_TEXT, PRODUCT_INFO, TAG


def openapi_components() -> dict[str, dict[str, Any]]:
    """``UserTag`` and the ``ProductInfo`` it refers to, as derived from ``TAG``."""
    tag = TAG.schema()
    tag["properties"][PRODUCT_INFO.name] = {"$ref": "#/components/schemas/ProductInfo"}
    return {"UserTag": tag, "ProductInfo": PRODUCT_INFO.schema()}


def openapi_paths() -> dict[str, dict[str, Any]]:
    """The three paths as ``APISpec.path`` operations."""
    error = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    retry = {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}}

    def errors(*statuses: int) -> dict[str, Any]:
        return {
            str(status): {
                "description": "An error",
                **error,
                **({"headers": retry} if status in (429, 503) else {}),
            }
            for status in statuses
        }

    time_range = _param(
        "time_range",
        {"type": "string", "pattern": f"^{TIME_RANGE_PATTERN}$", "example": TIME_RANGE_EXAMPLE},
        True,
        "<from>_<to> in UTC, from earlier than to (else 422 invalid_range); for /aggregates "
        "whole minutes, at most 10 minutes apart (422 invalid_range, range_too_long).",
    )
    text = {"type": "string", "minLength": 1, "maxLength": MAX_TEXT}
    ignored = {"description": "Ignored", "content": {"*/*": {"schema": {}}}}
    limit = {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}
    aggregates = {"type": "array", "items": {"type": "string", "enum": list(AGGREGATES)}}
    tag_schema = {"schema": {"$ref": "#/components/schemas/UserTag"}}
    tag = {"application/json": tag_schema, "text/plain": tag_schema}
    return {
        "/user_tags": {
            "post": {
                "summary": "Store one Allezon user tag (durably, like a hit)",
                "requestBody": {"required": True, "content": tag},
                "responses": {
                    "204": {"description": "Stored durably"},
                    **errors(400, 401, 404, 413, 415, 422, 429, 503),
                },
            }
        },
        "/user_profiles/{cookie}": {
            "post": {
                "summary": "A cookie's latest VIEW and BUY tags, newest first, as received",
                "parameters": [
                    {**_param("cookie", text, True), "in": "path"},
                    time_range,
                    _param("limit", limit),
                ],
                "requestBody": ignored,
                "responses": {
                    "200": {"description": "{cookie, views, buys}"},
                    **errors(400, 404, 422, 503),
                },
            }
        },
        "/aggregates": {
            "post": {
                "summary": "COUNT / SUM_PRICE of tags per minute (at most 10 minutes)",
                "parameters": [
                    time_range,
                    _param("action", {"type": "string", "enum": list(ACTIONS)}, True),
                    _param("aggregates", aggregates, True),
                    *(_param(name, text) for name in FILTERS),
                ],
                "requestBody": ignored,
                "responses": {
                    "200": {"description": "{columns, rows}, all strings"},
                    **errors(400, 404, 422, 503),
                },
            }
        },
    }


def _param(
    name: str, schema: dict[str, Any], required: bool = False, description: str = ""
) -> dict[str, Any]:
    parameter = {"in": "query", "name": name, "required": required, "schema": schema}
    return {**parameter, "description": description} if description else parameter
