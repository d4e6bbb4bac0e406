"""``POST /api/v1/metrics`` in ``/openapi.json``: the point schema states every rule
``metronome.points.point`` checks, so the conformance run can tell a good point from a bad one
(only the clock bound, a time more than a day ahead, is beyond JSON Schema)."""

from __future__ import annotations

import sys
from typing import Any

from metronome.config import IngestSettings
from metronome.hits.eventtime import EVENT_TIME
from metronome.points.point import (
    DIMENSION_PATTERN,
    MAX_DIMENSION_VALUE_CHARS,
    MAX_DIMENSIONS,
    MAX_UNIT_CHARS,
    METRIC_PATTERN,
)

FINITE = {"minimum": -sys.float_info.max, "maximum": sys.float_info.max}
POINT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["metric", "value"],
    "additionalProperties": False,
    "properties": {
        "metric": {"type": "string", "pattern": f"^{METRIC_PATTERN}$", "example": "orders"},
        "value": {"type": "number", **FINITE, "example": 3.5},
        "time": {
            **EVENT_TIME.schema,
            "description": "When the value holds (default: when it was received); at most a "
            "day ahead of the server clock.",
        },
        "dimensions": {
            "type": "object",
            "maxProperties": MAX_DIMENSIONS,
            "propertyNames": {"pattern": f"^{DIMENSION_PATTERN}$"},
            "additionalProperties": {
                "anyOf": [
                    {"type": "string", "minLength": 1, "maxLength": MAX_DIMENSION_VALUE_CHARS},
                    {"type": "integer"},
                    {"type": "boolean"},
                ]
            },
            "description": "Stored as text under dimensions.<name> (numbers and booleans too).",
            "example": {"region": "eu"},
        },
        "unit": {"type": "string", "minLength": 1, "maxLength": MAX_UNIT_CHARS},
    },
}


def points_paths(security: list[dict[str, list[str]]], errors: dict[str, Any]) -> dict[str, Any]:
    """The path item; ``security`` and ``errors`` are the spec's own (the ingest key, the
    shared error answers)."""
    body = {
        "type": "object",
        "required": ["points"],
        "additionalProperties": False,
        "properties": {
            "points": {
                "type": "array",
                "items": POINT_SCHEMA,
                "minItems": 1,
                "maxItems": IngestSettings().max_metric_points,
            }
        },
    }
    answer = {
        "type": "object",
        "required": ["accepted"],
        "properties": {
            "accepted": {"type": "integer", "minimum": 1},
            "rejected": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"index": {"type": "integer"}, "error": {"type": "object"}},
                },
            },
        },
    }
    return {
        "/api/v1/metrics": {
            "post": {
                "summary": "Metric points (metric, dimensions, time) -> value into the metrics "
                "stream; the valid points of a batch are kept, the others listed in rejected",
                "security": security,
                "parameters": [
                    {
                        "in": "query",
                        "name": "site",
                        "schema": {"type": "string"},
                        "description": "Site (default: default_site).",
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": body}},
                },
                "responses": {
                    "202": {
                        "description": "Stored durably: accepted, and rejected points by index",
                        "content": {"application/json": {"schema": answer}},
                    },
                    **errors,
                },
            }
        }
    }
