"""``GET /openapi.json``: the public API described from the schemas that validate requests.

The hit and user tag schemas come from the one definition each payload is checked by
(``metronome.hits.definition``, ``metronome.compat.allezon.tag``), the /tock and query schemas
are the very classes the endpoints load requests with, and the parameters' grammars come from
the modules that enforce them, so the description cannot drift from the behaviour; a test
checks that every route the app serves is described here, and a schemathesis run
(tests/integration/test_openapi_conformance.py) that the service answers as described.
OpenAPI 3.1: its JSON Schema states tuples ([operator, field, values]).

Status codes: 400 a request outside the grammar; 422 one in it that cannot be served (its code
says why); 413 a body over the limit; 415 a media type not read; 429 over a rate limit and 503
(the store or the spool cannot take it now), both with Retry-After.
"""

from __future__ import annotations

from typing import Any, get_args

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, jsonify

from metronome.compat.allezon import openapi_components as allezon_components
from metronome.compat.allezon import openapi_paths as allezon_paths
from metronome.config import IngestSettings
from metronome.hits.definition import hit_query_parameters, hit_schema
from metronome.query.catalog import FieldKind
from metronome.query.export import XLSX_MEDIA_TYPE
from metronome.query.parse import OUTPUT_FORMATS, STREAM_SCHEMA, QuerySchema
from metronome.query.result import RESULT_SCHEMA
from metronome.query.sql.answer import SQL_RESULT_SCHEMA
from metronome.query.sql.request import SQL_FORMATS, SqlSchema
from metronome.query.timerange import INSTANT_SCHEMA, time_zone_schema
from metronome.query.tock import TockArgsSchema
from metronome.version import VERSION
from metronome.web.alerts_openapi import alert_paths
from metronome.web.dashboards_openapi import all_paths as dashboard_paths
from metronome.web.dashboards_openapi import dashboard_components
from metronome.web.points_openapi import points_paths
from metronome.web.reports_openapi import report_paths
from metronome.web.sessions import COOKIE_NAME, CSRF_HEADER
from metronome.web.views.app import app_paths
from metronome.web.views.events import FIELDS_PATTERN, FORMATS, MAX_VALUE_LENGTH
from metronome.web.views.logs import MAX_TAG_CHARS, TAG_HEADER
from metronome.web.views.query import MAX_ID_LENGTH
from metronome.web.views.session import MAX_KEY_CHARS
from metronome.webhooks.github import (
    DELIVERY_HEADER,
    DELIVERY_ID,
    EVENT_HEADER,
    EVENT_NAME,
    SIGNATURE_HEADER,
)

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
WRITE_KEY: list[dict[str, list[str]]] = [{"writeKey": []}, {}]
# A read key, or the browser's session cookie (web/readers.py decides which sites either opens).
READ_KEY: list[dict[str, list[str]]] = [{"readKey": []}, {"sessionCookie": []}]
INGEST_KEY: list[dict[str, list[str]]] = [{"ingestKey": []}, {"ingestPassword": []}, {}]
ADMIN_KEY: list[dict[str, list[str]]] = [{"adminKey": []}]
METRICS_TOKEN: list[dict[str, list[str]]] = [{"metricsToken": []}, {"adminKey": []}]
CORS_PREFLIGHT = {"summary": "CORS preflight", "responses": {"204": {"description": "OK"}}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before sending the request again.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    }
}
STATUS = {
    400: "The request is outside the grammar described here.",
    401: "A key is missing or wrong.",
    403: "Refused: the origin may not send to this site (forbidden_origin), or the session "
    "may not do this (csrf: no X-CSRF-Token; site_not_allowed).",
    404: "No such site, item or resource.",
    413: "The body is larger than the limit.",
    415: "The body's media type is not read here.",
    422: "The request is well formed but cannot be served; the code says why.",
    429: "Over a rate limit.",
    503: "The store or the spool cannot take the request now.",
}


def _errors(*statuses: int, semantic: str = "") -> dict[str, Any]:
    """Error answers; ``semantic`` names the 422 codes of requests no schema can rule out."""
    answers: dict[str, Any] = {}
    for status in statuses:
        description = STATUS[status] + (f" ({semantic})" if status == 422 and semantic else "")
        answers[str(status)] = _json(ERROR, description)
        if status in (429, 503):
            answers[str(status)]["headers"] = RETRY_AFTER
    return answers


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter = {"in": "query", "name": name, "schema": schema}
    return {**parameter, "description": description} if description else parameter


MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv",
    "xlsx": XLSX_MEDIA_TYPE,
    "ndjson": "application/x-ndjson",
}


def _files(description: str, *formats: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 200 in any of ``formats``: JSON by default (``schema``), a download for the others."""
    content: dict[str, Any] = {MEDIA_TYPES["json"]: {"schema": schema or {"type": "object"}}}
    for fmt in formats[1:]:
        content[MEDIA_TYPES[fmt]] = {}
    return {"description": description, "content": content}


CSRF_PARAMETER = {
    "in": "header",
    "name": CSRF_HEADER,
    "schema": {"type": "string"},
    "description": "The session's csrf_token: needed with the session cookie, not with a key",
}
DATES = (
    "invalid_range: from is not earlier than to; impossible_date: outside the years 1-9998; "
    "unknown_tz: a zone of this list that Elasticsearch's own (older) time-zone data lacks"
)


SQL_REFUSALS = (
    "invalid_sql: not SQL that parses; unsupported_sql: a construct not read here (a second "
    "statement, a join, a subquery, a function we lack...); sql_too_complex: over a bound "
    "(nesting, IN list, conditions); the message and position say where (line, column); "
    "unknown_field, unsuitable_field, inconsistent_query, too_many_buckets, too_many_rows, "
    f"{DATES}"
)


def _sql_path(spec: APISpec) -> None:
    formats = {"json": "application/json", "csv": "text/csv"}
    spec.path(
        path="/api/v1/sql",
        operations={
            "post": {
                "summary": "One SQL SELECT over a stream, answered as the equivalent query",
                "security": READ_KEY,
                "parameters": [
                    _query("format", {"type": "string", "enum": list(SQL_FORMATS)}),
                    _query("site", {"type": "string"}, "Site (default: default_site)."),
                    CSRF_PARAMETER,
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Sql"}}
                    },
                },
                "responses": {
                    "200": {
                        "description": "columns and rows in SELECT order, meta and the query "
                        "run (or the rows as CSV)",
                        "content": {
                            formats["json"]: {"schema": {"$ref": "#/components/schemas/SqlResult"}},
                            formats["csv"]: {},
                        },
                    },
                    **_errors(400, 401, 403, 404, 413, 415, 422, 503, semantic=SQL_REFUSALS),
                },
            }
        },
    )


def build_spec(version: str) -> dict[str, Any]:
    spec = APISpec(
        title="Metronome",
        version=version,
        openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Self-hosted usage analytics on Elasticsearch."},
    )
    spec.components.schema("Hit", hit_schema())
    spec.components.schema("FormHit", hit_schema(nested_ok=False))
    spec.components.schema("Query", schema=QuerySchema)
    spec.components.schema("QueryResult", RESULT_SCHEMA)
    spec.components.schema("Sql", schema=SqlSchema)
    spec.components.schema("SqlResult", SQL_RESULT_SCHEMA)
    spec.components.schema(
        "Error",
        {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "example": "invalid_hit"},
                        "message": {"type": "string"},
                        "field": {"type": "string"},
                    },
                }
            },
        },
    )
    _security_schemes(spec)
    spec.components.schema(
        "Session",
        {
            "type": "object",
            "required": ["sites", "csrf_token", "expires"],
            "properties": {
                "sites": {"type": "array", "items": {"type": "string"}, "minItems": 1},
                "csrf_token": {"type": "string", "minLength": 1},
                "expires": {"type": "string", "format": "date-time"},
            },
        },
    )
    _session_paths(spec)
    hit = {"$ref": "#/components/schemas/Hit"}
    batch = {
        "type": "array",
        "minItems": 1,
        "maxItems": IngestSettings().max_batch,
        "items": hit,
        "description": "A batch (the default limit of hits); an invalid hit is listed in "
        "rejected while the others are stored",
    }
    hits = {"oneOf": [hit, batch]}
    ndjson = {**batch, "description": "One hit a line (a line that is not JSON is refused alone)"}
    accepted = {
        "type": "object",
        "properties": {
            "accepted": {"type": "integer"},
            "rejected": {"type": "array", "items": {"type": "object"}},
        },
    }
    spec.path(
        path="/tick",
        operations={
            "post": {
                "summary": "Send one hit or a batch",
                "security": WRITE_KEY,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": hits},
                        "text/plain": {"schema": hits},
                        "application/x-ndjson": {"schema": ndjson},
                        "application/x-www-form-urlencoded": {
                            "schema": {"$ref": "#/components/schemas/FormHit"}
                        },
                    },
                },
                "responses": {
                    "202": _json(accepted, "Stored durably (invalid hits of a batch listed)."),
                    **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                },
            },
            "options": CORS_PREFLIGHT,
        },
    )
    spec.path(
        path="/tick.gif",
        operations={
            "get": {
                "summary": "The tracking pixel: a hit as query parameters (any other parameter "
                "is a free one; a.b names b of the object a; a name starting with _ is a "
                "cache-buster and ignored)",
                "parameters": hit_query_parameters(),
                "responses": {
                    "200": {
                        "description": "A 1x1 transparent GIF",
                        "content": {"image/gif": {}},
                    },
                    **_errors(400, 401, 403, 422, 429, 503),
                },
            },
            "options": CORS_PREFLIGHT,
        },
    )
    spec.path(
        path="/tock/{id}",
        operations={
            "get": {
                "summary": "Usage of one item: views over time, downloads, referers "
                "(append .json, .csv or .xlsx to the id for a file). Page ids sent by the "
                "JS snippet are paths: /tock//pricing reads the id /pricing",
                "security": [*READ_KEY, {}],
                "parameters": [
                    {
                        "in": "path",
                        "name": "id",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_ID_LENGTH},
                    },
                    {"in": "query", "schema": TockArgsSchema},
                ],
                "responses": {
                    "200": _files(
                        "The original tock shape, and meta.source (always raw: unique "
                        "visitors are counted; docs/api.md 4.1)",
                        "json",
                        "csv",
                        "xlsx",
                    ),
                    **_errors(
                        400, 401, 403, 404, 422, 429, 503, semantic=f"{DATES}; too_many_buckets"
                    ),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/query",
        operations={
            "post": {
                "summary": "Any aggregate question: metrics by dimensions, filtered, compared",
                "security": READ_KEY,
                "parameters": [
                    _query("format", {"type": "string", "enum": list(OUTPUT_FORMATS)}),
                    CSRF_PARAMETER,
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Query"}}
                    },
                },
                "responses": {
                    "200": _files(
                        "results, meta and the normalised query",
                        *OUTPUT_FORMATS,
                        schema={"$ref": "#/components/schemas/QueryResult"},
                    ),
                    **_errors(
                        400,
                        401,
                        403,
                        404,
                        413,
                        415,
                        422,
                        503,
                        semantic=f"{DATES}; too_many_buckets, too_many_rows; unknown_field, "
                        "unsuitable_field: the stream has no such field, or not of that kind; "
                        "inconsistent_query: two time dimensions, order_by naming neither a "
                        "metric nor a dimension",
                    ),
                },
            }
        },
    )
    _sql_path(spec)
    kinds = list(get_args(FieldKind))
    field = {
        "type": "object",
        "required": ["name", "kind"],
        "properties": {"name": {"type": "string"}, "kind": {"type": "string", "enum": kinds}},
    }
    spec.path(
        path="/api/v1/fields",
        operations={
            "get": {
                "summary": "The fields of a stream a query may name, with their kinds "
                "(metrics other than count and visitors need a number)",
                "security": READ_KEY,
                "parameters": [
                    _query("site", {"type": "string"}, "Site (default: default_site)."),
                    _query("stream", {**STREAM_SCHEMA, "default": "hits"}),
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["site", "stream", "fields"],
                            "properties": {
                                "site": {"type": "string"},
                                "stream": {"type": "string"},
                                "fields": {"type": "array", "items": field},
                            },
                        },
                        "The fields, by name",
                    ),
                    **_errors(400, 401, 403, 404, 503),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/events",
        operations={
            "get": {
                "summary": "Every matching raw document, streamed (no row cap)",
                "security": READ_KEY,
                "parameters": [
                    _query("site", {"type": "string"}, "Site (default: default_site)."),
                    _query("stream", {**STREAM_SCHEMA, "default": "hits"}),
                    _query("from", INSTANT_SCHEMA, "Start (inclusive); default: to - 30 days."),
                    _query("to", INSTANT_SCHEMA, "End (exclusive); default: now."),
                    _query("tz", time_zone_schema(), "For dates without an offset."),
                    _query(
                        "format", {"type": "string", "enum": list(FORMATS), "default": "ndjson"}
                    ),
                    _query(
                        "fields",
                        {"type": "string", "pattern": f"^{FIELDS_PATTERN}$"},
                        "Only these fields (the CSV columns, in this order): a,b.c",
                    ),
                    *(
                        _query(
                            name, {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_LENGTH}
                        )
                        for name in ("id", "event")
                    ),
                ],
                "responses": {
                    "200": {
                        "description": "NDJSON or CSV",
                        "content": {"application/x-ndjson": {}, "text/csv": {}},
                    },
                    **_errors(400, 401, 403, 404, 422, 503, semantic=DATES),
                },
            }
        },
    )
    records = {"type": "array", "items": {"type": "object"}, "minItems": 1}
    tag = {"type": "string", "minLength": 1, "maxLength": MAX_TAG_CHARS}
    log_operation = {
        "post": {
            "summary": "Log records from Fluentd out_http or Fluent Bit http (JSON object or "
            "array, NDJSON, gzip); the tag from the path, ?tag= or X-Fluent-Tag; stored in "
            "the logs stream, access-log lines parsed into web requests",
            "security": INGEST_KEY,
            "parameters": [
                _query("site", {"type": "string"}, "Site (default: logs.site, default_site)."),
                _query(
                    "tag",
                    {"type": "string", "maxLength": MAX_TAG_CHARS},
                    "Used when the path has none (empty: not given).",
                ),
                {
                    "in": "header",
                    "name": TAG_HEADER,
                    "schema": {"type": "string", "maxLength": MAX_TAG_CHARS},
                },
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"oneOf": [{"type": "object"}, records]}},
                    "application/x-ndjson": {
                        "schema": {**records, "description": "One JSON object a line."}
                    },
                },
            },
            "responses": {
                "202": _json({"type": "object"}, "accepted, and rejected records by index"),
                **_errors(400, 401, 404, 413, 415, 422, 429, 503),
            },
        }
    }
    spec.path(path="/ingest/logs", operations=log_operation)
    spec.path(
        path="/ingest/logs/{tag}",
        operations={
            "post": {
                **log_operation["post"],
                "parameters": [
                    {"in": "path", "name": "tag", "required": True, "schema": tag},
                    *log_operation["post"]["parameters"],
                ],
            }
        },
    )
    spec.path(
        path="/metronome.js",
        operations={
            "get": {
                "summary": "The browser tracking snippet (clients/js); ?v=<ETag> pins a build "
                "and is cached for a year",
                "parameters": [_query("v", {"type": "string"})],
                "responses": {
                    "200": {"description": "JavaScript", "content": {"text/javascript": {}}},
                    "304": {"description": "Not modified (If-None-Match)"},
                    **_errors(404),
                },
            }
        },
    )
    source_summary = (
        "Configured scheduled sources with their schedule, last run, last success, lag, "
        "staleness, consecutive failures, last error and cursor; an admin key"
    )
    source_name = {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}
    for path, summary, answer, parameters, statuses in (
        (
            "/api/v1/sources",
            source_summary,
            "{scheduler, sources: [...]}",
            [],
            (400, 401, 403, 503),
        ),
        (
            "/api/v1/sources/{name}",
            "One source's status (as in /api/v1/sources)",
            "the source's status",
            [source_name],
            (400, 401, 403, 404, 503),
        ),
    ):
        get: dict[str, Any] = {"summary": summary, "security": ADMIN_KEY}
        if parameters:
            get["parameters"] = parameters
        get["responses"] = {"200": _json({"type": "object"}, answer), **_errors(*statuses)}
        spec.path(path=path, operations={"get": get})
    spec.path(
        path="/webhooks/github",
        operations={
            "post": {
                "summary": "GitHub webhook deliveries (JSON or form): X-Hub-Signature-256 "
                "verified on the raw body, deduplicated by X-GitHub-Delivery, stored durably "
                "in the github stream; ping answered",
                "parameters": [
                    {"in": "header", "name": name, "required": True, "schema": schema}
                    for name, schema in (
                        (EVENT_HEADER, {"type": "string", "pattern": f"^{EVENT_NAME.pattern}$"}),
                        (
                            DELIVERY_HEADER,
                            {"type": "string", "pattern": f"^{DELIVERY_ID.pattern}$"},
                        ),
                        (SIGNATURE_HEADER, {"type": "string"}),
                    )
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "required": ["payload"],
                                "properties": {
                                    "payload": {
                                        "type": "string",
                                        "contentMediaType": "application/json",
                                        "description": "The JSON object GitHub sends.",
                                    }
                                },
                            }
                        },
                    },
                },
                "responses": {
                    "200": _json({"type": "object"}, "ping answered"),
                    "202": _json({"type": "object"}, "stored"),
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            }
        },
    )
    spec.path(
        path="/metrics",
        operations={
            "get": {
                "summary": "Prometheus metrics (text format); the metrics token or an admin key",
                "security": METRICS_TOKEN,
                "responses": {
                    "200": {"description": "OK", "content": {"text/plain": {}}},
                    **_errors(400, 401, 403),
                },
            }
        },
    )
    for path, summary in (
        ("/healthz", "The process answers"),
        ("/openapi.json", "This document"),
    ):
        spec.path(
            path=path,
            operations={"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}},
        )
    ready = {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "shards": {
                "type": "object",
                "description": "Shards open against cluster.max_shards_per_node x data nodes",
                "properties": {
                    "used": {"type": "integer"},
                    "limit": {"type": "integer"},
                    "max_shards_per_node": {"type": "integer"},
                    "data_nodes": {"type": "integer"},
                    "status": {"type": "string", "enum": ["ok", "warn", "fail"]},
                },
            },
            "warnings": {"type": "array", "items": {"type": "string"}},
        },
    }
    spec.path(
        path="/readyz",
        operations={
            "get": {
                "summary": "Elasticsearch answers and the spool has room (and the shard budget)",
                "responses": {
                    "200": _json(ready, "Ready"),
                    "503": {**_json(ready, "Not ready; error says why"), "headers": RETRY_AFTER},
                },
            }
        },
    )
    for name, component in dashboard_components().items():
        spec.components.schema(name, component)
    for path, operations in dashboard_paths().items():
        spec.path(path=path, operations=operations)
    for path, operations in alert_paths().items():
        spec.path(path=path, operations=operations)
    for path, operations in report_paths().items():
        spec.path(path=path, operations=operations)
    for path, operations in {**app_paths(), **_points_paths()}.items():
        spec.path(path=path, operations=operations)
    for name, component in allezon_components().items():
        spec.components.schema(name, component)
    for path, operations in allezon_paths().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


def _points_paths() -> dict[str, Any]:
    return points_paths(INGEST_KEY, _errors(400, 401, 404, 413, 415, 422, 429, 503))


def _security_schemes(spec: APISpec) -> None:
    """How each kind of caller proves who it is (keys, the session cookie, tokens)."""
    spec.components.security_scheme(
        "writeKey", {"type": "apiKey", "in": "header", "name": "X-Metronome-Key"}
    )
    spec.components.security_scheme(
        "ingestKey",
        {
            "type": "apiKey",
            "in": "header",
            "name": "X-Metronome-Key",
            "description": "A secret ingest key of the site (write keys are public and cannot "
            "send server logs).",
        },
    )
    spec.components.security_scheme(
        "ingestPassword",
        {
            "type": "http",
            "scheme": "basic",
            "description": "The ingest key as the password of HTTP Basic auth (Fluent Bit "
            "http_passwd, Fluentd <auth> password); the user name is not read.",
        },
    )
    spec.components.security_scheme(
        "readKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <read key>. A key in the URL (?key=) is "
            "refused with 400 key_in_url: URLs end up in logs and browser history.",
        },
    )
    spec.components.security_scheme(
        "adminKey",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <admin key> (admin_keys, else the key "
            "generated at first start into var/keys/admin.key). A site's key is refused with "
            "403 admin_key_required.",
        },
    )
    spec.components.security_scheme(
        "metricsToken",
        {
            "type": "http",
            "scheme": "bearer",
            "description": "Authorization: Bearer <metrics token> (metrics.token, else the "
            "token generated at first start into var/keys/metrics.token); an admin key also "
            "reads /metrics. None with metrics.auth: none.",
        },
    )
    spec.components.security_scheme(
        "sessionCookie",
        {
            "type": "apiKey",
            "in": "cookie",
            "name": COOKIE_NAME,
            "description": "The session cookie of POST /api/v1/session (a browser's sign-in "
            f"with a read key). With it, POST, PUT, PATCH and DELETE need the {CSRF_HEADER} "
            "header holding the session's csrf_token (403 csrf otherwise). A request with an "
            "Authorization header is judged by that header alone.",
        },
    )


def _session_paths(spec: APISpec) -> None:
    session = {"$ref": "#/components/schemas/Session"}
    cookie = {
        "Set-Cookie": {
            "description": f"{COOKIE_NAME}=...; HttpOnly; SameSite=Strict; Path=/; Max-Age "
            "(and Secure over https)",
            "schema": {"type": "string"},
        }
    }
    spec.path(
        path="/api/v1/session",
        operations={
            "post": {
                "summary": "Sign in with a read key: the session cookie for every site the key "
                "reads (wrong keys are counted per address: 429 past the limit)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["key"],
                                "additionalProperties": False,
                                "properties": {
                                    "key": {
                                        "type": "string",
                                        "minLength": 1,
                                        "maxLength": MAX_KEY_CHARS,
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {**_json(session, "Signed in; the cookie is set"), "headers": cookie},
                    **_errors(400, 401, 413, 415, 422, 429),
                },
            },
            "get": {
                "summary": "The current session (its expiry slides forward)",
                "security": [{"sessionCookie": []}],
                "responses": {"200": _json(session, "The session"), **_errors(401)},
            },
            "delete": {
                "summary": "Sign out: the cookie is cleared",
                "security": [{"sessionCookie": []}, {}],
                "parameters": [CSRF_PARAMETER],
                "responses": {
                    "204": {"description": "Signed out", "headers": cookie},
                    **_errors(403),
                },
            },
        },
    )


@bp.get("/openapi.json")
def openapi() -> Response:
    cached = current_app.extensions.get("metronome.web.openapi")
    if cached is None:
        cached = build_spec(VERSION)
        current_app.extensions["metronome.web.openapi"] = cached
    return jsonify(cached)
