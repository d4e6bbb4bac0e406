"""The alerts' part of ``/openapi.json``: the rule's JSON Schema, built from the constants its
validation uses (``metronome.alerts.rules``), and every operation of ``/api/v1/alerts``."""

from __future__ import annotations

from typing import Any

from metronome.alerts.anomaly import MAX_WEEKS
from metronome.alerts.machine import STATES
from metronome.alerts.rules import AGAINST, DIRECTIONS, MAX_DESCRIPTION, SEVERITIES
from metronome.query.parse import FILTER_SCHEMA, METRIC_SCHEMA, STREAM_SCHEMA

NAME = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_.-]{0,63}$"}
PATH_NAME = {
    "type": "string",
    "pattern": "^(?:health:[a-z_]{1,40}(?::[a-z0-9][a-z0-9_.-]{0,63})?|[a-z0-9][a-z0-9_.-]{0,63})$",
}
DURATION = {
    "oneOf": [
        {"type": "string", "pattern": "^[0-9]{1,7}(?:[.][0-9]{1,3})?[smhdw]?$"},
        {"type": "number", "minimum": 0, "maximum": 31_622_400},
    ],
    "description": "Seconds, or text such as 30s, 15m, 1h, 1d, 1w.",
}
NUMBER = {"type": "number", "minimum": -1e15, "maximum": 1e15}
CONDITION = {
    "description": "Exactly one of: above / below a threshold; a change of more than percent "
    "against the previous window or the same window a week earlier; an anomaly against the "
    "seasonal baseline; no data for a duration.",
    "oneOf": [
        {"type": "object", "required": ["above"], "additionalProperties": False,
         "properties": {"above": NUMBER}},
        {"type": "object", "required": ["below"], "additionalProperties": False,
         "properties": {"below": NUMBER}},
        {
            "type": "object",
            "required": ["change"],
            "additionalProperties": False,
            "properties": {
                "change": {
                    "type": "object",
                    "required": ["percent"],
                    "additionalProperties": False,
                    "properties": {
                        "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e15},
                        "against": {"type": "string", "enum": list(AGAINST)},
                        "direction": {"type": "string", "enum": list(DIRECTIONS)},
                    },
                }
            },
        },
        {
            "type": "object",
            "required": ["anomaly"],
            "additionalProperties": False,
            "properties": {
                "anomaly": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "sensitivity": {"type": "number", "minimum": 0.5, "maximum": 20},
                        "min_weeks": {"type": "integer", "minimum": 1, "maximum": MAX_WEEKS},
                        "direction": {"type": "string", "enum": list(DIRECTIONS)},
                    },
                }
            },
        },
        {"type": "object", "required": ["no_data"], "additionalProperties": False,
         "properties": {"no_data": DURATION}},
    ],
}  # fmt: skip
RULE = {
    "type": "object",
    "required": ["name", "condition"],
    "additionalProperties": False,
    "description": "An alert rule (docs/alerts.md). The answer-only members origin, readonly, "
    "version and status may be sent back and are ignored (version: see If-Match).",
    "properties": {
        "name": NAME,
        "site": {"type": ["string", "null"], "description": "Default: the request's site."},
        "stream": STREAM_SCHEMA,
        "metric": METRIC_SCHEMA,
        "filters": {"type": "array", "items": FILTER_SCHEMA, "maxItems": 20},
        "window": DURATION,
        "condition": CONDITION,
        "for": DURATION,
        "repeat": DURATION,
        "cooldown": DURATION,
        "severity": {"type": "string", "enum": list(SEVERITIES)},
        "channels": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
        "tz": {"type": "string", "maxLength": 64, "description": "IANA time zone (anomaly)."},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
        "enabled": {"type": "boolean"},
        "origin": {"type": "string"},
        "readonly": {"type": "boolean"},
        "version": {"type": ["string", "null"]},
        "status": {"type": "object"},
    },
}
STATUS = {
    "type": "object",
    "required": ["state", "since", "value", "summary"],
    "properties": {
        "state": {"type": "string", "enum": list(STATES)},
        "since": {"type": ["string", "null"]},
        "value": {"type": ["number", "null"]},
        "reference": {"type": ["number", "null"]},
        "summary": {"type": "string"},
        "evaluated_at": {"type": ["string", "null"]},
        "error": {"type": ["string", "null"]},
    },
}
ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["name", "condition", "origin", "readonly", "version", "status"],
    "properties": {
        "name": {"type": "string"},
        "site": {"type": ["string", "null"]},
        "condition": {"type": "object"},
        "origin": {"type": "string", "enum": ["file", "stored", "health"]},
        "readonly": {"type": "boolean"},
        "version": {"type": ["string", "null"]},
        "status": STATUS,
    },
}
EVENT = {
    "type": "object",
    "required": ["state", "at", "summary", "notified"],
    "properties": {
        "state": {"type": "string", "enum": ["firing", "repeat", "resolved"]},
        "at": {"type": "string"},
        "value": {"type": ["number", "null"]},
        "reference": {"type": ["number", "null"]},
        "summary": {"type": "string"},
        "notified": {"type": "boolean"},
        "severity": {"type": "string"},
    },
}
ONE = {
    **ANSWER,
    "required": [*ANSWER["required"], "history"],
    "properties": {
        **ANSWER["properties"],
        "history": {
            "type": "object",
            "required": ["events", "page", "limit", "total", "has_more"],
            "properties": {
                "events": {"type": "array", "items": EVENT},
                "page": {"type": "integer"},
                "limit": {"type": "integer"},
                "total": {"type": "integer"},
                "has_more": {"type": "boolean"},
            },
        },
    },
}
# A read key or the session cookie (of the rule's site), or an admin key (every site's rules
# and the pipeline-health ones).
READ: list[dict[str, list[str]]] = [{"readKey": []}, {"sessionCookie": []}, {"adminKey": []}]
WRITE: list[dict[str, list[str]]] = [{"readKey": []}, {"sessionCookie": []}]
ERROR = {"$ref": "#/components/schemas/Error"}
SEMANTIC = (
    "invalid_rule: the rule names a field its stream lacks, an unknown channel or site, or "
    "parts that do not fit together"
)
STATUS_TEXT = {
    400: "The body is not JSON, or not an object; a paging parameter out of range.",
    401: "A key (or session) is missing or wrong.",
    403: "Refused: a rule of the configuration file or a pipeline-health rule (readonly), a "
    "site's key for a health rule, a session without the site or without X-CSRF-Token.",
    404: "No such site or rule.",
    409: "The name is taken, or someone else saved the rule since its version was read.",
    413: "The body is larger than the limit.",
    415: "The body's media type is not read here.",
    422: "Well formed, but cannot be used; the code says why.",
    428: "A change needs the version it was made from (If-Match or version).",
    503: "Elasticsearch cannot answer now.",
}
RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}}
IF_MATCH: dict[str, Any] = {
    "in": "header",
    "name": "If-Match",
    "schema": {"type": "string", "pattern": '^(?:W/)?"?[0-9]{1,19}[.][0-9]{1,19}"?$'},
    "description": 'The version the change starts from, as the ETag gave it ("12.1").',
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        text = STATUS_TEXT[status] + (f" ({SEMANTIC})" if status == 422 else "")
        answers[str(status)] = _json(ERROR, text)
        if status == 503:
            answers[str(status)]["headers"] = RETRY_AFTER
    return answers


def _site() -> dict[str, Any]:
    return {
        "in": "query",
        "name": "site",
        "schema": {"type": "string"},
        "description": "Site (default: default_site; an admin key sees every site).",
    }


def _name() -> dict[str, Any]:
    return {"in": "path", "name": "name", "required": True, "schema": PATH_NAME}


def _paging(name: str, most: int) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": 1, "maximum": most}
    return {"in": "query", "name": name, "schema": schema}


def _body() -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": RULE}}}


def alert_paths() -> dict[str, dict[str, Any]]:
    saved = {
        **_json(ANSWER, "The stored rule; its version also in ETag"),
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }
    return {
        "/api/v1/alerts": {
            "get": {
                "summary": "Alert rules with their current state, last value and since when",
                "security": READ,
                "parameters": [_site()],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["alerts"],
                            "properties": {"alerts": {"type": "array", "items": ANSWER}},
                        },
                        "alerts",
                    ),
                    **_errors(400, 401, 403, 404, 503),
                },
            },
            "post": {
                "summary": "Store a rule of the site (validated against the stream's fields and "
                "the notify channels)",
                "security": WRITE,
                "parameters": [_site()],
                "requestBody": _body(),
                "responses": {"201": saved, **_errors(400, 401, 403, 404, 409, 413, 415, 422, 503)},
            },
        },
        "/api/v1/alerts/{name}": {
            "get": {
                "summary": "One rule with its state and its history (newest first, paged); "
                "health: rules need an admin key",
                "security": READ,
                "parameters": [_name(), _site(), _paging("page", 10_000), _paging("limit", 200)],
                "responses": {
                    "200": _json(ONE, "The rule, status, history"),
                    **_errors(400, 401, 403, 404, 503),
                },
            },
            "put": {
                "summary": "Replace a stored rule from the version it was read at (If-Match or "
                "version in the body)",
                "security": WRITE,
                "parameters": [_name(), _site(), {**IF_MATCH, "required": True}],
                "requestBody": _body(),
                "responses": {
                    "200": saved,
                    **_errors(400, 401, 403, 404, 409, 413, 415, 422, 428, 503),
                },
            },
            "delete": {
                "summary": "Delete a stored rule (If-Match optional) and its state",
                "security": WRITE,
                "parameters": [_name(), _site(), IF_MATCH],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(400, 401, 403, 404, 409, 503),
                },
            },
        },
    }
