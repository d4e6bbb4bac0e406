"""The signature of a webhook body: ``X-Metronome-Signature: sha256=<hex>``, the HMAC-SHA256
with the channel's secret of the bytes ``<timestamp>.<body>``, where ``<timestamp>`` is the
``X-Metronome-Timestamp`` header (Unix seconds, ASCII digits) and ``<body>`` the exact body
bytes. The receiver recomputes it and refuses an old timestamp, so a captured request
cannot be replayed later."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Metronome-Signature"
TIMESTAMP_HEADER = "X-Metronome-Timestamp"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The header value: ``sha256=`` and the hex digest."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return "sha256=" + hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_headers(secret: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }


def verify(
    secret: str, timestamp: str, body: bytes, given: str, *, now: float, tolerance: float = 300
) -> bool:
    """What a receiver checks: the signature matches and the timestamp is recent."""
    if not timestamp.isdigit() or abs(now - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), given)
