"""Browser sessions: a read key exchanged once for a signed cookie (``POST /api/v1/session``).

The cookie is the whole session; the server keeps no table, so every worker (and every
machine sharing the secret) accepts it. It holds:

- the sites the key opened at sign-in;
- a fingerprint of the key: an HMAC of it under a key derived from the server secret, so the
  cookie reveals nothing about the key, yet a key removed from (or rotated in) the
  configuration no longer matches any fingerprint and its sessions end;
- when it was signed in (``issued``) and when it ends (``expires``): ``ttl`` after its last
  use (sliding), never later than ``issued + max_age``;
- the CSRF token the browser app echoes in ``X-CSRF-Token`` on every unsafe request.

Format: ``v1.<base64url of the JSON claims>.<base64url of HMAC-SHA256 over "v1." + claims>``.
Anything else (another secret, an edited byte, a truncated value, expired) is no session.

Pure but for ``session_book``, which reads (or makes) the secret: the caller passes the time
and the configured keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from metronome.access.readkeys import KEYS_DIR
from metronome.config import Settings
from metronome.fsutil import load_or_create_secret
from metronome.web.ratelimit.buckets import Buckets

COOKIE_NAME = "metronome_session"
CSRF_HEADER = "X-CSRF-Token"
SECRET_FILE = "session-secret"  # under <var>/keys/, next to the generated read keys
VERSION = "v1"
MAX_COOKIE_CHARS = 3000  # a browser keeps ~4 KB per cookie; anything longer is not ours
CSRF_BYTES = 32
FINGERPRINT_BYTES = 16


@dataclass(frozen=True)
class Claims:
    sites: tuple[str, ...]
    fingerprint: str  # of the key signed in with (hex)
    issued: int  # epoch seconds of the sign-in
    expires: int  # epoch seconds
    csrf: str


@dataclass(frozen=True)
class SessionKeys:
    """The two keys derived from the server secret: one signs cookies, one fingerprints read
    keys (so neither use can be turned into the other)."""

    signing: bytes
    fingerprint: bytes

    @classmethod
    def derive(cls, secret: bytes) -> SessionKeys:
        return cls(
            hmac.new(secret, b"metronome session cookie signature", hashlib.sha256).digest(),
            hmac.new(secret, b"metronome session key fingerprint", hashlib.sha256).digest(),
        )


def fingerprint(keys: SessionKeys, read_key: str) -> str:
    digest = hmac.new(keys.fingerprint, read_key.encode("utf-8"), hashlib.sha256).digest()
    return digest[:FINGERPRINT_BYTES].hex()


def key_sites(
    keys: SessionKeys, read_keys: Mapping[str, Iterable[str]]
) -> dict[str, frozenset[str]]:
    """Fingerprint -> the sites that key reads, from ``{site: its read keys}``."""
    opened: dict[str, set[str]] = {}
    for site, site_keys in read_keys.items():
        for key in site_keys:
            opened.setdefault(fingerprint(keys, key), set()).add(site)
    return {print_: frozenset(sites) for print_, sites in opened.items()}


def sign_in(fingerprint_: str, sites: Iterable[str], now: int, ttl: int, max_age: int) -> Claims:
    """A new session for a key that opens ``sites``."""
    return Claims(
        sites=tuple(sorted(sites)),
        fingerprint=fingerprint_,
        issued=now,
        expires=min(now + ttl, now + max_age),
        csrf=secrets.token_urlsafe(CSRF_BYTES),
    )


def renewed(claims: Claims, now: int, ttl: int, max_age: int) -> Claims:
    """The session pushed to ``ttl`` after ``now``, up to its absolute end."""
    expires = min(now + ttl, claims.issued + max_age)
    return Claims(claims.sites, claims.fingerprint, claims.issued, expires, claims.csrf)


def encode(claims: Claims, keys: SessionKeys) -> str:
    payload = json.dumps(
        {
            "s": list(claims.sites),
            "f": claims.fingerprint,
            "i": claims.issued,
            "e": claims.expires,
            "c": claims.csrf,
        },
        separators=(",", ":"),
    ).encode("utf-8")
    signed = f"{VERSION}.{_b64(payload)}"
    return f"{signed}.{_b64(_signature(keys, signed))}"


def decode(cookie: str, keys: SessionKeys, now: int, max_age: int) -> Claims | None:
    """The claims of a cookie this server signed and that has not ended, else ``None``."""
    if len(cookie) > MAX_COOKIE_CHARS:
        return None
    parts = cookie.split(".")
    if len(parts) != 3 or parts[0] != VERSION:
        return None
    signed = f"{parts[0]}.{parts[1]}"
    try:
        signature = _unb64(parts[2])
        if not hmac.compare_digest(signature, _signature(keys, signed)):
            return None
        raw = json.loads(_unb64(parts[1]))
    except (ValueError, binascii.Error):
        return None
    claims = _claims(raw)
    if claims is None or claims.expires <= now or claims.issued + max_age <= now:
        return None
    if claims.issued > now + 300:  # signed in the future: a clock gone wrong, not ours
        return None
    return claims


def csrf_matches(claims: Claims, header: str | None) -> bool:
    return header is not None and hmac.compare_digest(
        header.encode("utf-8", "surrogateescape"), claims.csrf.encode("ascii")
    )


def _claims(raw: object) -> Claims | None:
    """Signed claims are ours, yet checked: a secret shared with an older version, say."""
    if not isinstance(raw, dict):
        return None
    sites, print_, issued, expires, csrf = (raw.get(k) for k in ("s", "f", "i", "e", "c"))
    if not (
        isinstance(sites, list)
        and sites
        and all(isinstance(site, str) for site in sites)
        and isinstance(print_, str)
        and isinstance(issued, int)
        and isinstance(expires, int)
        and isinstance(csrf, str)
        and csrf
    ):
        return None
    return Claims(tuple(sites), print_, issued, expires, csrf)


def _signature(keys: SessionKeys, signed: str) -> bytes:
    return hmac.new(keys.signing, signed.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionBook:
    """What one app needs to sign sessions in and read them back: the derived keys, which
    sites each configured read key opens (by fingerprint), the lifetimes, and the buckets of
    failed sign-ins."""

    def __init__(
        self,
        secret: bytes,
        read_keys: Mapping[str, Iterable[str]],
        ttl: int,
        max_age: int,
        failures: Buckets,
    ) -> None:
        self.keys = SessionKeys.derive(secret)
        self.opened = key_sites(self.keys, read_keys)
        self.ttl = ttl
        self.max_age = max_age
        self.failures = failures  # failed sign-ins per client address

    def start(self, read_key: str, now: int) -> Claims | None:
        """A new session for ``read_key``, ``None`` when it reads no site."""
        print_ = fingerprint(self.keys, read_key)
        sites = self.opened.get(print_)
        if not sites:
            return None
        return sign_in(print_, sites, now, self.ttl, self.max_age)

    def read(self, cookie: str, now: int) -> Claims | None:
        """The live session of a cookie: signed here, not ended, and its key still configured
        (for the sites it still reads), else ``None``."""
        claims = decode(cookie, self.keys, now, self.max_age)
        if claims is None:
            return None
        still = self.opened.get(claims.fingerprint, frozenset())
        sites = tuple(site for site in claims.sites if site in still)
        if not sites:
            return None
        if sites != claims.sites:
            claims = Claims(sites, claims.fingerprint, claims.issued, claims.expires, claims.csrf)
        return claims

    def renewal(self, claims: Claims, now: int) -> Claims | None:
        """The claims to send again after a use at ``now``, or ``None`` when the cookie sent a
        minute ago or less is still as good (no Set-Cookie on every answer)."""
        fresh = renewed(claims, now, self.ttl, self.max_age)
        return fresh if fresh.expires - claims.expires >= RENEW_AFTER else None

    def encode(self, claims: Claims) -> str:
        return encode(claims, self.keys)


RENEW_AFTER = 60  # seconds


def session_book(settings: Settings, var_dir: Path) -> SessionBook:
    """The app's book: the secret configured, else the one kept in ``<var>/keys/`` (made at
    first start, 0600, the same for every worker)."""
    config = settings.sessions
    secret = load_or_create_secret(config.secret, var_dir / KEYS_DIR / SECRET_FILE)
    read_keys = {name: site.read_keys for name, site in settings.sites.items()}
    return SessionBook(
        secret,
        read_keys,
        ttl=round(config.ttl_hours * 3600),
        max_age=round(config.max_days * 86400),
        failures=Buckets(config.failed_sign_ins, settings.rate_limits.max_tracked),
    )
