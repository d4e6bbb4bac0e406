"""What the server-to-server intake endpoints (``POST /ingest/logs``, ``POST /api/v1/metrics``)
share: the secret ingest key of a request, and the 202 that says what was kept."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

KEY_HEADER = "X-Metronome-Key"


def ingest_key() -> str | None:
    """X-Metronome-Key, or the password of HTTP Basic auth (Fluent Bit ``http_passwd``, Fluentd
    ``<auth> password``). Never ``?key=``: a secret in a URL ends up in proxies' logs."""
    key = request.headers.get(KEY_HEADER)
    if key:
        return key
    auth = request.authorization
    return auth.password if auth is not None and auth.password else None


def accepted_answer(accepted: int, rejected: list[dict[str, Any]]) -> Response:
    """202 with how many items were kept, and the refused ones (when any) with their reasons."""
    body: dict[str, Any] = {"accepted": accepted}
    if rejected:
        body["rejected"] = rejected
    response = jsonify(body)
    response.status_code = 202
    return response
