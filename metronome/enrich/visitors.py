"""The secret's daily salts, keyed hashes, and cookieless visitor ids.

The secret never leaves the deployment; salts derived from it change every UTC day, so a
cookieless visitor id or a hashed IP can be counted within a day but not followed across days.
The secret's file is kept by ``metronome.fsutil.load_or_create_secret``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
from datetime import date

HASH_HEX_CHARS = 16
SECRET_FILE = "visitor-secret"  # under var/, beside the spool, unless privacy.visitor_secret is set


class DailySalts:
    """HMAC-SHA256(secret, "YYYY-MM-DD"): one salt per UTC day, the newest two days cached."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the visitor secret must not be empty")
        self._secret = secret
        self._cache: dict[date, bytes] = {}

    def for_day(self, day: date) -> bytes:
        salt = self._cache.get(day)
        if salt is None:
            salt = hmac.digest(self._secret, day.isoformat().encode("ascii"), hashlib.sha256)
            # A new dict swapped in whole, so threads never see one half-trimmed.
            self._cache = dict(sorted({**self._cache, day: salt}.items())[-2:])
        return salt


@functools.lru_cache(maxsize=4096)
def visitor_id(salt: bytes, site: str, client_ip: str | None, user_agent: str | None) -> str | None:
    """A cookieless visitor id, the same for one browser on one site for one salt's day.

    ``None`` without an IP and a user agent (nothing tells visitors apart) or without a salt
    (the id would then follow a person forever).
    """
    if not (client_ip or user_agent) or not salt:
        return None
    return keyed_hash(salt, "\0".join((site, client_ip or "", user_agent or "")))


def keyed_hash(salt: bytes, text: str) -> str:
    digest = hmac.new(salt, text.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:HASH_HEX_CHARS]
