"""``GET /openapi.json``: the public API described from the schemas that validate requests.

The hit, /tock and query schemas below are the very classes the endpoints load requests
with, so the description cannot drift from the behaviour; a test checks that every route
the app serves is described here.
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Blueprint, Response, current_app, jsonify

from metronome.compat.allezon import openapi_paths as allezon_paths
from metronome.hits.schema import HitSchema
from metronome.query.parse import QuerySchema
from metronome.query.tock import TockArgsSchema
from metronome.version import VERSION

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
WRITE_KEY: list[dict[str, list[str]]] = [{"writeKey": []}, {}]
READ_KEY: list[dict[str, list[str]]] = [{"readKey": []}]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {
        str(status): _json(ERROR, "An error; the message says what is wrong.")
        for status in statuses
    }


def build_spec(version: str) -> dict[str, Any]:
    spec = APISpec(
        title="Metronome",
        version=version,
        openapi_version="3.0.3",
        plugins=[MarshmallowPlugin()],
        info={"description": "Self-hosted usage analytics on Elasticsearch."},
    )
    spec.components.schema("Hit", schema=HitSchema)
    spec.components.schema("Query", schema=QuerySchema)
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
    spec.components.security_scheme(
        "writeKey", {"type": "apiKey", "in": "header", "name": "X-Metronome-Key"}
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
    hit = {"$ref": "#/components/schemas/Hit"}
    hits = {"oneOf": [hit, {"type": "array", "items": hit}]}
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
                    "content": {
                        "application/json": {"schema": hits},
                        "text/plain": {"schema": hits},
                        "application/x-ndjson": {"schema": {"type": "string"}},
                        "application/x-www-form-urlencoded": {"schema": hit},
                    }
                },
                "responses": {
                    "202": _json(accepted, "Stored durably (invalid hits of a batch listed)."),
                    **_errors(400, 401, 403, 413, 415, 422, 503),
                },
            },
            "options": {"summary": "CORS preflight", "responses": {"204": {"description": "OK"}}},
        },
    )
    spec.path(
        path="/tick.gif",
        operations={
            "get": {
                "summary": "The tracking pixel: a hit as query parameters",
                "parameters": [{"in": "query", "schema": HitSchema}],
                "responses": {
                    "200": {
                        "description": "A 1x1 transparent GIF",
                        "content": {"image/gif": {}},
                    },
                    **_errors(400, 401, 403, 422, 503),
                },
            },
            "options": {"summary": "CORS preflight", "responses": {"204": {"description": "OK"}}},
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
                    {"in": "path", "name": "id", "required": True, "schema": {"type": "string"}},
                    {"in": "query", "schema": TockArgsSchema},
                ],
                "responses": {
                    "200": _json({"type": "object"}, "The original tock shape (docs/api.md 4.1)"),
                    **_errors(400, 401, 404, 422, 503),
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
                    {
                        "in": "query",
                        "name": "format",
                        "schema": {"type": "string", "enum": ["json", "csv", "xlsx", "ndjson"]},
                    }
                ],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Query"}}
                    }
                },
                "responses": {
                    "200": _json({"type": "object"}, "results, meta and the normalised query"),
                    **_errors(400, 401, 404, 422, 503),
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
                    {"in": "query", "name": name, "schema": {"type": "string"}}
                    for name in (
                        "site",
                        "stream",
                        "from",
                        "to",
                        "tz",
                        "format",
                        "fields",
                        "id",
                        "event",
                    )
                ],
                "responses": {
                    "200": {
                        "description": "NDJSON or CSV",
                        "content": {"application/x-ndjson": {}, "text/csv": {}},
                    },
                    **_errors(400, 401, 404, 503),
                },
            }
        },
    )
    log_operation = {
        "post": {
            "summary": "Log records from Fluentd out_http or Fluent Bit http (JSON object or "
            "array, NDJSON, gzip); the tag from the path, ?tag= or X-Fluent-Tag; stored in "
            "the logs stream, access-log lines parsed into web requests",
            "security": WRITE_KEY,
            "parameters": [
                {"in": "query", "name": name, "schema": {"type": "string"}}
                for name in ("site", "tag", "key")
            ],
            "requestBody": {
                "content": {
                    "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                    "application/x-ndjson": {},
                }
            },
            "responses": {
                "202": _json({"type": "object"}, "accepted, and rejected records by index"),
                **_errors(400, 401, 404, 413, 415, 422, 503),
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
                    {"in": "path", "name": "tag", "required": True, "schema": {"type": "string"}},
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
                "parameters": [{"in": "query", "name": "v", "schema": {"type": "string"}}],
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
        "staleness, consecutive failures, last error and cursor; read key of the admin site"
    )
    spec.path(
        path="/api/v1/sources",
        operations={
            "get": {
                "summary": source_summary,
                "security": READ_KEY,
                "responses": {
                    "200": _json({"type": "object"}, "{scheduler, sources: [...]}"),
                    **_errors(400, 401, 503),
                },
            }
        },
    )
    spec.path(
        path="/api/v1/sources/{name}",
        operations={
            "get": {
                "summary": "One source's status (as in /api/v1/sources)",
                "security": READ_KEY,
                "parameters": [
                    {"in": "path", "name": "name", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": _json({"type": "object"}, "the source's status"),
                    **_errors(400, 401, 404, 503),
                },
            }
        },
    )
    spec.path(
        path="/webhooks/github",
        operations={
            "post": {
                "summary": "GitHub webhook deliveries (JSON or form): X-Hub-Signature-256 "
                "verified on the raw body, deduplicated by X-GitHub-Delivery, stored durably "
                "in the github stream; ping answered",
                "parameters": [
                    {"in": "header", "name": name, "required": True, "schema": {"type": "string"}}
                    for name in ("X-GitHub-Event", "X-GitHub-Delivery", "X-Hub-Signature-256")
                ],
                "requestBody": {
                    "content": {
                        "application/json": {"schema": {"type": "object"}},
                        "application/x-www-form-urlencoded": {},
                    }
                },
                "responses": {
                    "200": _json({"type": "object"}, "ping answered"),
                    "202": _json({"type": "object"}, "stored"),
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            }
        },
    )
    for path, summary in (
        ("/healthz", "The process answers"),
        ("/readyz", "Elasticsearch answers and the spool has room"),
        ("/metrics", "Prometheus metrics (text format)"),
        ("/openapi.json", "This document"),
    ):
        spec.path(
            path=path,
            operations={"get": {"summary": summary, "responses": {"200": {"description": "OK"}}}},
        )
    for path, operations in allezon_paths().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()


@bp.get("/openapi.json")
def openapi() -> Response:
    cached = current_app.extensions.get("metronome.web.openapi")
    if cached is None:
        cached = build_spec(VERSION)
        current_app.extensions["metronome.web.openapi"] = cached
    return jsonify(cached)
