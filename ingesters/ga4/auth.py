"""Google authentication for the Data API: a static OAuth token, or a service-account key.

With a key file, the source signs a JWT (RS256) with the account's private key and trades it
at the key's ``token_uri`` for an access token (OAuth 2.0 "JWT bearer" grant), which is cached
until shortly before it expires.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from metronome.sources.base import SourceError
from metronome.sources.http import HttpClient

SCOPE = "https://www.googleapis.com/auth/analytics.readonly"
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
ASSERTION_LIFETIME = 3600  # seconds: the longest Google accepts
EXPIRY_MARGIN = 60.0  # seconds: a token this close to expiring is replaced before use
TOKEN_ANSWERS = frozenset({200, 400, 401, 403})


class CredentialsError(SourceError):
    """The key file is missing, unreadable or not a service-account key."""


class TokenRefused(SourceError):
    """The token endpoint refused the signed assertion."""


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key_id: str
    private_key: rsa.RSAPrivateKey
    token_uri: str


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float  # epoch seconds

    def fresh(self, now: float) -> bool:
        return now < self.expires_at - EXPIRY_MARGIN


def load_service_account(path: str | Path) -> ServiceAccount:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as error:
        raise CredentialsError(f"cannot read the key file {path}: {error.strerror}") from None
    return parse_service_account(text, str(path))


def parse_service_account(text: str, origin: str = "the key file") -> ServiceAccount:
    """A Google service-account JSON key (``type: service_account``) with its RSA key."""
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialsError(f"{origin} is not JSON") from None
    if not isinstance(data, dict) or data.get("type") != "service_account":
        raise CredentialsError(f"{origin} is not a service-account key (type: service_account)")
    missing = [
        name
        for name in ("client_email", "private_key", "token_uri")
        if not isinstance(data.get(name), str) or not data[name]
    ]
    if missing:
        raise CredentialsError(f"{origin} lacks {', '.join(missing)}")
    try:
        key = serialization.load_pem_private_key(data["private_key"].encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise CredentialsError(f"the private_key of {origin} is not a PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialsError(f"the private_key of {origin} is not an RSA key")
    return ServiceAccount(
        client_email=data["client_email"],
        private_key_id=str(data.get("private_key_id") or ""),
        private_key=key,
        token_uri=data["token_uri"],
    )


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _segment(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), sort_keys=True).encode())


def build_assertion(account: ServiceAccount, issued_at: int, scope: str = SCOPE) -> str:
    """The signed JWT ``header.claims.signature`` asking ``token_uri`` for a token."""
    header: dict[str, str] = {"alg": "RS256", "typ": "JWT"}
    if account.private_key_id:
        header["kid"] = account.private_key_id
    claims = {
        "iss": account.client_email,
        "scope": scope,
        "aud": account.token_uri,
        "iat": issued_at,
        "exp": issued_at + ASSERTION_LIFETIME,
    }
    signing_input = f"{_segment(header)}.{_segment(claims)}"
    signature = account.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{b64url(signature)}"


def parse_token_answer(status: int, payload: Any, now: float) -> AccessToken:
    """The token endpoint's JSON: ``{"access_token", "expires_in", "token_type"}`` or
    ``{"error", "error_description"}``."""
    if not isinstance(payload, dict):
        raise TokenRefused(f"the token endpoint answered {status} without a JSON object")
    if status != 200 or "error" in payload:
        reason = payload.get("error_description") or payload.get("error") or "no reason given"
        code = payload.get("error")
        raise TokenRefused(f"{code}: {reason}" if code and code != reason else str(reason))
    token = payload.get("access_token")
    lifetime = payload.get("expires_in", ASSERTION_LIFETIME)
    if not isinstance(token, str) or not token:
        raise TokenRefused("the token endpoint answered without an access_token")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
        raise TokenRefused(f"the token endpoint answered a bad expires_in: {lifetime!r}")
    return AccessToken(token, now + float(lifetime))


class ServiceAccountTokens:
    """Access tokens for one key file, cached across runs until they are about to expire.
    The key file is read again for every new token, so a rotated key is picked up."""

    def __init__(self, credentials_file: str, clock: Callable[[], float]) -> None:
        self.credentials_file = credentials_file
        self.clock = clock
        self.cached: AccessToken | None = None
        self.exchanges = 0

    def token(self, http: HttpClient) -> str:
        if self.cached is None or not self.cached.fresh(self.clock()):
            self.cached = self._exchange(http)
        return self.cached.value

    def forget(self) -> None:
        self.cached = None

    def _exchange(self, http: HttpClient) -> AccessToken:
        account = load_service_account(self.credentials_file)
        issued_at = int(self.clock())
        response = http.post(
            account.token_uri,
            data={"grant_type": GRANT_TYPE, "assertion": build_assertion(account, issued_at)},
            ok=TOKEN_ANSWERS,
        )
        self.exchanges += 1
        try:
            payload = response.json()
        except ValueError:
            payload = None
        try:
            return parse_token_answer(response.status_code, payload, float(issued_at))
        except TokenRefused as error:
            raise TokenRefused(
                f"Google refused a token for {account.client_email} at {account.token_uri}: {error}"
            ) from None
