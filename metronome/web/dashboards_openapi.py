"""The dashboards' part of ``/openapi.json``: the definition's JSON Schema, built from the
constants its validation uses (``metronome.dashboards.definition``), and every operation of
``/api/v1/dashboards``, ``/api/v1/shares`` and ``/api/v1/shared``."""

from __future__ import annotations

from typing import Any

from metronome.dashboards.definition import (
    GRID_COLUMNS,
    ID_PATTERN,
    MAX_DESCRIPTION,
    MAX_HEIGHT,
    MAX_REFRESH,
    MAX_ROW,
    MAX_TITLE,
    MAX_WIDGETS,
    MIN_REFRESH,
    OPTION_KEYS,
    RESERVED_IDS,
    UNITS,
    WIDGET_TYPES,
)
from metronome.query.calendar import INTERVALS
from metronome.query.parse import (
    COMPARE_MODES,
    DATE_RANGE_SCHEMA,
    DIMENSION_SCHEMA,
    FILTER_SCHEMA,
    METRIC_SCHEMA,
    ORDER_BY_SCHEMA,
    STREAM_SCHEMA,
)
from metronome.query.timerange import time_zone_schema

ID = {"type": "string", "pattern": f"^{ID_PATTERN}$", "not": {"enum": list(RESERVED_IDS)}}
WIDGET_ID = {"type": "string", "pattern": f"^{ID_PATTERN}$"}
COMPARE = {"oneOf": [{"type": "null"}, {"type": "string", "enum": list(COMPARE_MODES)}]}
FILTERS = {"type": "array", "items": FILTER_SCHEMA, "maxItems": 20}


def _integer(least: int, most: int) -> dict[str, Any]:
    return {"type": "integer", "minimum": least, "maximum": most}


WIDGET_QUERY = {
    "type": "object",
    "description": "The body of POST /api/v1/query without date_range, tz, compare, page, "
    'format and site (the page chooses them); "time" as a dimension is the page\'s interval.',
    "required": ["metrics"],
    "additionalProperties": False,
    "properties": {
        "stream": STREAM_SCHEMA,
        "metrics": {
            "type": "array",
            "items": METRIC_SCHEMA,
            "minItems": 1,
            "maxItems": 20,
            "uniqueItems": True,
        },
        "dimensions": {
            "type": "array",
            "items": {"anyOf": [{"const": "time"}, DIMENSION_SCHEMA]},
            "maxItems": 5,
            "uniqueItems": True,
        },
        "filters": FILTERS,
        "order_by": {"type": "array", "items": {"allOf": [ORDER_BY_SCHEMA]}},
        "limit": _integer(1, 10_000),
    },
}
WIDGET = {
    "type": "object",
    "required": ["id", "type", "query", "layout"],
    "additionalProperties": False,
    "properties": {
        "id": WIDGET_ID,
        "title": {"type": "string", "maxLength": MAX_TITLE},
        "type": {"type": "string", "enum": list(WIDGET_TYPES)},
        "query": WIDGET_QUERY,
        "layout": {
            "type": "object",
            "description": f"A {GRID_COLUMNS}-column grid: x + w at most {GRID_COLUMNS}.",
            "required": ["x", "y", "w", "h"],
            "additionalProperties": False,
            "properties": {
                "x": _integer(0, GRID_COLUMNS - 1),
                "y": _integer(0, MAX_ROW),
                "w": _integer(1, GRID_COLUMNS),
                "h": _integer(1, MAX_HEIGHT),
            },
        },
        "options": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "stacked": {"type": "boolean"},
                "overlay": {"type": "boolean"},
                "drilldown": {"type": "boolean"},
                "range": {"oneOf": [{"type": "null"}, *DATE_RANGE_SCHEMA["oneOf"]]},
                "refresh_seconds": {
                    "oneOf": [{"type": "null"}, _integer(MIN_REFRESH, MAX_REFRESH)]
                },
                "unit": {"oneOf": [{"type": "null"}, {"type": "string", "enum": list(UNITS)}]},
            },
            "propertyNames": {"enum": list(OPTION_KEYS)},
        },
    },
}
DEFAULTS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "range": DATE_RANGE_SCHEMA,
        "interval": {"type": "string", "enum": list(INTERVALS)},
        "tz": time_zone_schema(),
        "compare": COMPARE,
    },
}


def definition_schema(id_required: bool) -> dict[str, Any]:
    required = ["id", "title", "widgets"] if id_required else ["title", "widgets"]
    return {
        "type": "object",
        "required": required,
        "description": "A dashboard (docs/dashboards.md). The answer-only members version, "
        "source and readonly may be sent back and are ignored (version: see If-Match).",
        "additionalProperties": False,
        "properties": {
            "id": ID,
            "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
            "description": {"type": "string", "maxLength": MAX_DESCRIPTION},
            "stream": STREAM_SCHEMA,
            "site": {"oneOf": [{"type": "null"}, {"type": "string", "minLength": 1}]},
            "defaults": DEFAULTS,
            "widgets": {"type": "array", "items": WIDGET, "maxItems": MAX_WIDGETS},
            "version": {"type": "string"},
            "source": {"type": "string"},
            "readonly": {"type": "boolean"},
        },
    }


PAGE = {
    "type": "object",
    "additionalProperties": False,
    "description": "What the page shows; the dashboard's defaults fill what is left out.",
    "properties": {
        "site": {"type": ["string", "null"], "description": "Site (null: default_site)."},
        "range": DATE_RANGE_SCHEMA,
        "interval": {"type": "string", "enum": list(INTERVALS)},
        "tz": time_zone_schema(),
        "compare": COMPARE,
        "filters": FILTERS,
    },
}
SUMMARY = {
    "type": "object",
    "required": ["id", "title", "source", "readonly", "version"],
    "properties": {
        "id": ID,
        "title": {"type": "string"},
        "description": {"type": "string"},
        "stream": {"type": "string"},
        "site": {"type": ["string", "null"]},
        "source": {"type": "string", "enum": ["builtin", "file", "stored"]},
        "readonly": {"type": "boolean"},
        "version": {"type": "string"},
    },
}
DATA = {
    "type": "object",
    "required": ["widgets", "range", "compare_range"],
    "properties": {
        "widgets": {
            "type": "object",
            "description": "Per widget id: the POST /api/v1/query answer of its query on this "
            'page (a number over time adds "total", the same query without time), or '
            '{"error": {"code", "message"}}.',
            "additionalProperties": {"type": "object"},
        },
        "range": {"type": "object"},
        "compare_range": {"type": ["object", "null"]},
    },
}
SEMANTIC = (
    "invalid_dashboard: a widget's query names what its stream does not have, or its parts "
    "do not fit the widget type; filter_not_applicable: a page filter names a field the "
    "widget's stream does not have; invalid_range, too_many_buckets, impossible_date"
)
# A read key, or the session cookie of POST /api/v1/session (X-CSRF-Token on changes).
READ_KEY: list[dict[str, list[str]]] = [{"readKey": []}, {"sessionCookie": []}]
ERROR = {"$ref": "#/components/schemas/Error"}
STATUS = {
    400: "The body is not JSON, or not an object.",
    401: "A read key (or session) is missing or wrong.",
    403: "Refused: a read-only dashboard, a write through a shared link, a session without "
    "the site or without X-CSRF-Token.",
    404: "No such site, dashboard, widget or share.",
    405: "Not a method of this path (import is no dashboard id).",
    409: "The id is taken, or someone else saved the dashboard since its version was read.",
    413: "The body is larger than the limit.",
    415: "The body's media type is not read here.",
    422: "Well formed, but cannot be served; the code says why.",
    428: "A change needs the version it was made from (If-Match or version).",
    429: "Over a rate limit (a shared link's reads count as public reads).",
    503: "Elasticsearch cannot answer now.",
}
RETRY_AFTER = {"Retry-After": {"required": True, "schema": {"type": "integer", "minimum": 0}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int, semantic: str = SEMANTIC) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for status in statuses:
        text = STATUS[status] + (f" ({semantic})" if status == 422 else "")
        answers[str(status)] = _json(ERROR, text)
        if status in (429, 503):
            answers[str(status)]["headers"] = RETRY_AFTER
    return answers


def _site(required: bool = False) -> dict[str, Any]:
    return {
        "in": "query",
        "name": "site",
        "required": required,
        "schema": {"type": "string"},
        "description": "Site (default: default_site).",
    }


def _path(name: str, schema: dict[str, Any] = ID) -> dict[str, Any]:
    return {"in": "path", "name": name, "required": True, "schema": schema}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


# What a definition answer holds (the request schema, with its tuples, is not repeated for
# answers: response validators read JSON Schema drafts without prefixItems).
ANSWER = {
    "type": "object",
    "required": ["id", "title", "widgets", "source", "readonly", "version"],
    "properties": {
        "id": ID,
        "widgets": {"type": "array", "items": {"type": "object"}},
        "source": {"type": "string", "enum": ["builtin", "file", "stored"]},
        "readonly": {"type": "boolean"},
        "version": {"type": "string"},
    },
}


def dashboard_paths() -> dict[str, dict[str, Any]]:
    """Every dashboards operation, by path."""
    return {
        "/api/v1/dashboards": {
            "get": {
                "summary": "The dashboards of a site: built-in, files and stored ones",
                "security": READ_KEY,
                "parameters": [_site()],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["dashboards"],
                            "properties": {"dashboards": {"type": "array", "items": SUMMARY}},
                        },
                        "id, title, description, stream, site, source, readonly, version",
                    ),
                    **_errors(400, 401, 404, 503),
                },
            },
        },
        "/api/v1/dashboards/{id}": {
            "get": {
                "summary": "One dashboard's definition, with source, readonly and version "
                "(also in ETag)",
                "security": READ_KEY,
                "parameters": [_path("id"), _site()],
                "responses": {
                    "200": {
                        **_json(ANSWER, "The definition"),
                        "headers": {"ETag": {"schema": {"type": "string"}}},
                    },
                    **_errors(400, 401, 404, 405, 503),
                },
            },
        },
        "/api/v1/dashboards/{id}/data": {
            "post": {
                "summary": "Every widget of a dashboard answered at once (one multi-search), "
                "each as POST /api/v1/query answers its query; a widget's failure is its own",
                "security": READ_KEY,
                "parameters": [_path("id")],
                "requestBody": _body(PAGE),
                "responses": {
                    "200": _json(DATA, "widgets, range, compare_range"),
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            },
        },
    }


TOKEN = {"type": "string", "pattern": "^[A-Za-z0-9_-]{20,128}$"}
SHARE: dict[str, Any] = {
    "type": "object",
    "required": ["id", "site", "dashboard", "created", "filters"],
    "properties": {
        "id": {"type": "string"},
        "site": {"type": "string"},
        "dashboard": {"type": "string"},
        "created": {"type": "string"},
        "filters": {"type": "array"},
    },
}
SHARE_REQUEST = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "site": {"type": ["string", "null"], "description": "Site (null: default_site)."},
        "filters": {**FILTERS, "description": "Filters every answer through the link applies."},
    },
}
NEW_SHARE = {
    **SHARE,
    "required": [*SHARE["required"], "token", "url"],
    "properties": {
        **SHARE["properties"],
        "token": {"type": "string", "description": "Shown this once; only its hash is kept."},
        "url": {"type": "string"},
    },
}
IF_MATCH: dict[str, Any] = {
    "in": "header",
    "name": "If-Match",
    "schema": {"type": "string", "pattern": '^(?:W/)?"?[0-9]{1,19}[.][0-9]{1,19}"?$'},
    "description": 'The version the change starts from, as the ETag gave it: "12.1" (or '
    '"version" in the body). A value that is no version of the dashboard is a 409.',
}
DOWNLOAD = {
    "description": "Every row of the widget's query on this page",
    "content": {
        "text/csv": {},
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {},
    },
}
FORMAT = {"type": "string", "enum": ["csv", "xlsx"]}
SHARED_DEFINITION = {
    "type": "object",
    "required": ["dashboard", "site", "filters"],
    "properties": {
        "dashboard": ANSWER,
        "site": {"type": "string"},
        "filters": {"type": "array"},
    },
}
READONLY = {
    "summary": "Refused: nothing is written through a shared link",
    "parameters": [_path("token", TOKEN)],
    "responses": _errors(403, 429),
}


def write_paths() -> dict[str, dict[str, Any]]:
    """Creating, changing, deleting, exporting and importing dashboards."""
    new = {"$ref": "#/components/schemas/NewDashboard"}
    created = {
        **_json(ANSWER, "Stored; the answer holds its version (also in ETag)"),
        "headers": {"ETag": {"schema": {"type": "string"}}},
    }
    return {
        "/api/v1/dashboards": {
            "post": {
                "summary": "Store a dashboard (id taken: 409 id_taken; no id: one is made "
                "from the title)",
                "security": READ_KEY,
                "parameters": [_site()],
                "requestBody": _body(new),
                "responses": {"201": created, **_errors(400, 401, 404, 409, 413, 415, 422, 503)},
            },
        },
        "/api/v1/dashboards/{id}": {
            "put": {
                "summary": "Replace a stored dashboard from the version it was read at "
                "(If-Match or version in the body)",
                "security": READ_KEY,
                "parameters": [_path("id"), _site(), {**IF_MATCH, "required": True}],
                "requestBody": _body(new),
                "responses": {
                    "200": created,
                    **_errors(400, 401, 403, 404, 405, 409, 413, 415, 422, 428, 503),
                },
            },
            "delete": {
                "summary": "Delete a stored dashboard (If-Match optional)",
                "security": READ_KEY,
                "parameters": [_path("id"), _site(), IF_MATCH],
                "responses": {
                    "204": {"description": "Deleted"},
                    **_errors(400, 401, 403, 404, 405, 409, 422, 503),
                },
            },
        },
        "/api/v1/dashboards/{id}/export": {
            "get": {
                "summary": "The definition as a file to import elsewhere",
                "security": READ_KEY,
                "parameters": [_path("id"), _site()],
                "responses": {
                    "200": _json(
                        {"type": "object"}, "The definition; Content-Disposition: attachment"
                    ),
                    **_errors(400, 401, 404, 503),
                },
            },
        },
        "/api/v1/dashboards/import": {
            "post": {
                "summary": "Store an exported definition in ?site= (a taken id gets -2, -3...)",
                "security": READ_KEY,
                "parameters": [_site()],
                "requestBody": _body(new),
                "responses": {"201": created, **_errors(400, 401, 404, 409, 413, 415, 422, 503)},
            },
        },
        "/api/v1/dashboards/{id}/widgets/{widget}/data.{format}": {
            "post": {
                "summary": "One widget's rows as CSV or XLSX (the data endpoint's body)",
                "security": READ_KEY,
                "parameters": [_path("id"), _path("widget"), _path("format", FORMAT)],
                "requestBody": _body(PAGE),
                "responses": {"200": DOWNLOAD, **_errors(400, 401, 404, 413, 415, 422, 503)},
            },
        },
    }


def share_paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/v1/dashboards/{id}/shares": {
            "post": {
                "summary": "A public read-only link (its token shown once), optionally with "
                "fixed filters",
                "security": READ_KEY,
                "parameters": [_path("id")],
                "requestBody": _body(SHARE_REQUEST),
                "responses": {
                    "201": _json(NEW_SHARE, "The link"),
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            },
            "get": {
                "summary": "The links of a dashboard (without their tokens)",
                "security": READ_KEY,
                "parameters": [_path("id"), _site()],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "properties": {"shares": {"type": "array", "items": SHARE}},
                        },
                        "shares",
                    ),
                    **_errors(400, 401, 404, 503),
                },
            },
        },
        "/api/v1/shares/{id}": {
            "delete": {
                "summary": "Revoke a link: its token opens nothing any more",
                "security": READ_KEY,
                "parameters": [_path("id", {"type": "string"}), _site()],
                "responses": {"204": {"description": "Revoked"}, **_errors(400, 401, 404, 503)},
            },
        },
        "/api/v1/shared/{token}": {
            "get": {
                "summary": "A shared dashboard's definition (read-only), site and fixed filters; "
                "no key",
                "parameters": [_path("token", TOKEN)],
                "responses": {
                    "200": _json(SHARED_DEFINITION, "dashboard, site, filters"),
                    **_errors(404, 429, 503),
                },
            },
            **{method: READONLY for method in ("post", "put", "patch", "delete")},
        },
        "/api/v1/shared/{token}/data": {
            "post": {
                "summary": "Every widget of a shared dashboard (its fixed filters applied); no key",
                "parameters": [_path("token", TOKEN)],
                "requestBody": _body(PAGE),
                "responses": {
                    "200": _json(DATA, "As the data endpoint"),
                    **_errors(400, 403, 404, 413, 415, 422, 429, 503),
                },
            },
            **{method: READONLY for method in ("put", "patch", "delete")},
        },
        "/api/v1/shared/{token}/widgets/{widget}/data.{format}": {
            "post": {
                "summary": "One widget's rows of a shared dashboard as CSV or XLSX; no key",
                "parameters": [_path("token", TOKEN), _path("widget"), _path("format", FORMAT)],
                "requestBody": _body(PAGE),
                "responses": {
                    "200": DOWNLOAD,
                    **_errors(400, 403, 404, 413, 415, 422, 429, 503),
                },
            },
        },
    }


def all_paths() -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for part in (dashboard_paths(), write_paths(), share_paths()):
        for path, operations in part.items():
            paths.setdefault(path, {}).update(operations)
    return paths


def dashboard_components() -> dict[str, dict[str, Any]]:
    return {
        "Dashboard": definition_schema(id_required=True),
        "NewDashboard": definition_schema(id_required=False),
    }
