"""``/api/v1/session``: sign in with a read key (POST), see the session (GET), sign out (DELETE).

The key comes in a JSON body only: never in a URL, never logged, never answered. The body must
be ``application/json``, which a page of another site cannot send without a CORS preflight we
never grant, so no other site can sign a browser in. Wrong keys are counted per client address
(``sessions.failed_sign_ins``): over the limit every sign-in from that address is refused with
429 before its key is looked at, so a guess made then tells nothing.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from metronome.access.sites import read_key
from metronome.errors import ApiError
from metronome.web.ratelimit.buckets import retry_after
from metronome.web.readers import (
    check_csrf,
    clear_session_cookie,
    client_bucket,
    no_session,
    session_of_request,
    set_session_cookie,
)
from metronome.web.services import current_services
from metronome.web.sessions import Claims

log = logging.getLogger(__name__)
bp = Blueprint("session", __name__)

MAX_KEY_CHARS = 512
MAX_BODY_BYTES = 4096
HOW = 'Send {"key": "<read key>"} as JSON (Content-Type: application/json).'


@bp.post("/api/v1/session")
def sign_in() -> Response:
    read_key(None, request.args)  # a key in the URL is refused, as everywhere
    key = _key_of(request.mimetype, request.get_data(cache=False))
    book = current_services().sessions
    client = client_bucket()
    wait = book.failures.wait(client, time.monotonic())
    if wait:
        seconds = retry_after(wait)
        log.warning("sign-in refused: too many failed sign-ins from %s", client)
        raise ApiError(
            429,
            "rate_limited",
            f"Too many failed sign-ins from this address; retry after {seconds} s.",
            headers={"Retry-After": str(seconds)},
        )
    claims = book.start(key, int(time.time()))
    if claims is None:
        book.failures.take(client, time.monotonic())
        log.warning("failed sign-in from %s: the key reads no site", client)
        raise ApiError(401, "bad_key", "That key reads no site.", field="key")
    # The key's fingerprint, never the key: enough to tell sessions of different keys apart.
    log.info("sign-in from %s: sites %s, key %s", client, claims.sites, claims.fingerprint[:8])
    response = jsonify(_describe(claims))
    set_session_cookie(response, claims)
    return response


@bp.get("/api/v1/session")
def current() -> Response:
    claims = session_of_request()
    if claims is None:
        error = no_session()
        response = jsonify(error.body())
        response.status_code = error.status
        clear_session_cookie(response)
        return response
    fresh = current_services().sessions.renewal(claims, int(time.time()))
    response = jsonify(_describe(fresh or claims))
    if fresh is not None:  # a use like any other: the session slides forward
        set_session_cookie(response, fresh)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.delete("/api/v1/session")
def sign_out() -> Response:
    claims = session_of_request()
    if claims is not None:
        check_csrf(claims)
    response = Response(status=204)
    clear_session_cookie(response)
    return response


def _key_of(mimetype: str, raw: bytes) -> str:
    """The key of a sign-in body. No message repeats any part of the body: it is a secret."""
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", f"{mimetype or 'No type'} is not read. {HOW}")
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(
            413, "request_entity_too_large", f"A sign-in body is at most {MAX_BODY_BYTES} bytes."
        )
    try:
        body: Any = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ApiError(400, "malformed_json", f"The body is not valid JSON. {HOW}") from None
    if not isinstance(body, dict) or set(body) != {"key"}:
        raise ApiError(422, "invalid_sign_in", f"The body must hold exactly one member, key. {HOW}")
    key = body["key"]
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_KEY_CHARS:
        raise ApiError(
            422,
            "invalid_sign_in",
            f"key must be a string of 1 to {MAX_KEY_CHARS} characters.",
            field="key",
        )
    return key


def _describe(claims: Claims) -> dict[str, Any]:
    expires = datetime.fromtimestamp(claims.expires, UTC)
    return {
        "sites": list(claims.sites),
        "csrf_token": claims.csrf,
        "expires": expires.isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
