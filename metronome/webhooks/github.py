"""A GitHub webhook delivery, read off the request (docs/api.md section 3.5): signature,
headers, body. Pure functions; what is wrong leaves as an ``ApiError``.

The signature is an HMAC-SHA256 of the raw body bytes, so it is checked before the body is
parsed; nothing of an unsigned or wrongly signed request is looked at further.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from metronome.errors import ApiError
from metronome.hits.bodies import loads_json

SIGNATURE_HEADER = "X-Hub-Signature-256"
LEGACY_SIGNATURE_HEADER = "X-Hub-Signature"  # SHA-1: not accepted
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
HOOK_ID_HEADER = "X-GitHub-Hook-ID"

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"  # GitHub's default: payload=<urlencoded JSON>
NO_ENCODING = frozenset({"", "identity"})

# GitHub sends a GUID and lower-case snake_case names; bounded so they stay sane keywords.
DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
EVENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
HOOK_ID = re.compile(r"[0-9]{1,18}")
MAX_FORM_FIELDS = 16


@dataclass(frozen=True)
class Delivery:
    event: str  # X-GitHub-Event: push, star, ping, ...
    id: str  # X-GitHub-Delivery: the same on a redelivery
    hook_id: int | None  # X-GitHub-Hook-ID
    payload: dict[str, Any]
    # SHA-256 of the signed payload (canonical JSON: the same for a JSON and a form delivery
    # of it): the delivery's identity. Headers are not signed, so a captured delivery replayed
    # under a new X-GitHub-Delivery has the same digest.
    digest: str


def signature_of(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for this body."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify_signature(
    secret: str, body: bytes, signature: str | None, legacy_signature: str | None = None
) -> None:
    """Raise a 401 unless ``signature`` is this body's HMAC-SHA256 under ``secret``."""
    if not signature:
        legacy = (
            f" The request has only the legacy {LEGACY_SIGNATURE_HEADER} (SHA-1), which is not "
            "accepted."
            if legacy_signature
            else ""
        )
        raise ApiError(
            401,
            "missing_signature",
            f"The delivery has no {SIGNATURE_HEADER} header.{legacy} Give the webhook in GitHub "
            "the secret set as webhooks.github.secret.",
        )
    expected = signature_of(secret, body).encode("ascii")
    given = signature.strip().lower().encode("utf-8", "replace")
    if not hmac.compare_digest(expected, given):
        raise ApiError(
            401,
            "invalid_signature",
            f"{SIGNATURE_HEADER} does not match the body: the webhook's secret in GitHub is not "
            "the one set as webhooks.github.secret (or the body was changed on the way).",
        )


def read_delivery(
    *,
    event: str | None,
    delivery_id: str | None,
    hook_id: str | None,
    media_type: str | None,
    content_encoding: str | None,
    body: bytes,
) -> Delivery:
    """The delivery a (signed) request carries; 400, 415 or 422 when it is not one."""
    return Delivery(
        event=_header(EVENT_HEADER, event, EVENT_NAME, 64),
        id=_header(DELIVERY_HEADER, delivery_id, DELIVERY_ID, 128),
        hook_id=int(hook_id) if hook_id and HOOK_ID.fullmatch(hook_id.strip()) else None,
        payload=(payload := decode_payload(media_type, content_encoding, body)),
        digest=payload_digest(payload),
    )


def payload_digest(payload: dict[str, Any]) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def _header(name: str, value: str | None, pattern: re.Pattern[str], longest: int) -> str:
    if not value:
        raise ApiError(400, "missing_header", f"The delivery has no {name} header.", name)
    value = value.strip()
    if not pattern.fullmatch(value):
        raise ApiError(
            400,
            "invalid_header",
            f"{name} must be 1 to {longest} letters, digits and '_.-:', not {value[:80]!r}.",
            name,
        )
    return value


def decode_payload(
    media_type: str | None, content_encoding: str | None, body: bytes
) -> dict[str, Any]:
    """The JSON object of a JSON or form delivery."""
    if (content_encoding or "").strip().lower() not in NO_ENCODING:
        raise ApiError(
            415,
            "unsupported_encoding",
            f"Content-Encoding {content_encoding!r} is not supported; GitHub sends bodies as is.",
        )
    media_type = (media_type or "").lower()
    if media_type == JSON_TYPE:
        text = _text(body)
    elif media_type == FORM_TYPE:
        text = _form_payload(body)
    else:
        raise ApiError(
            415,
            "unsupported_media_type",
            f"A delivery is {JSON_TYPE} or {FORM_TYPE} (payload=<JSON>), not "
            f"{media_type or 'a body without Content-Type'}.",
        )
    if not text.strip():
        raise ApiError(400, "empty_payload", "The delivery has no payload.")
    try:
        payload = loads_json(text)
    except ValueError as error:
        raise ApiError(400, "invalid_json", f"The payload is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise ApiError(
            422, "invalid_payload", f"A payload is a JSON object, not {type(payload).__name__}."
        )
    return payload


def _text(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_encoding", "The body is not valid UTF-8.") from None


def _form_payload(body: bytes) -> str:
    try:
        fields = parse_qs(
            body.decode("ascii"),
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except (UnicodeDecodeError, ValueError):
        raise ApiError(
            400, "invalid_form", "The body is not a form of UTF-8 fields (payload=<JSON>)."
        ) from None
    values = fields.get("payload", [])
    if len(values) != 1:
        raise ApiError(
            400,
            "missing_payload",
            "A form delivery has exactly one payload field "
            f"(payload=<urlencoded JSON>); this one has {len(values)}.",
            "payload",
        )
    return values[0]
