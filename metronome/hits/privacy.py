"""What Metronome keeps about the person behind a hit: the secret, daily salts, IPs, visitor ids,
URLs without their secrets.

The secret never leaves the deployment; salts derived from it change every UTC day, so a
cookieless visitor id or a hashed IP can be counted within a day but not followed across days.
The pure helpers here are what the enrichment steps call; the secret's file is kept by
``metronome.fsutil.load_or_create_secret``.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
from datetime import date
from typing import Literal
from urllib.parse import unquote_plus

IpMode = Literal["drop", "truncate", "hash", "full"]
# Query parameter names kept in stored URLs; "utm_*" names every name starting "utm_", "*" all.
KeepParams = tuple[str, ...]
DEFAULT_KEEP_PARAMS: KeepParams = ("utm_*", "ref")  # campaign tags, the snippet's default too

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


@functools.lru_cache(maxsize=4096)  # a client sends many hits from one address
def anonymise_ip(text: str, mode: IpMode, salt: bytes) -> str | None:
    """The IP as it may be stored under ``mode``; ``None`` when nothing may be (or it is invalid).

    ``hash`` needs a salt: an unsalted hash of an IPv4 address is reversed by trying all 2**32.
    """
    if mode == "drop":
        return None
    address = parse_ip(text)
    if address is None:
        return None
    if mode == "full":
        return str(address)
    if mode == "truncate":
        return str(truncate_ip(address))
    return keyed_hash(salt, str(address)) if salt else None


def parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d; /48 of that would keep them whole.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def truncate_ip(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """IPv4 to its /24, IPv6 to its /48 (one site's prefix); an IPv6 zone id is dropped."""
    # The explicit classes matter: ip_network(int) would read a small IPv6 number as IPv4.
    if isinstance(address, ipaddress.IPv4Address):
        return ipaddress.IPv4Network((int(address), 24), strict=False).network_address
    return ipaddress.IPv6Network((int(address), 48), strict=False).network_address


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


def clean_url(raw: str, keep: KeepParams) -> str:
    """``raw`` as it may be stored: no fragment, except a hash route (``#/cart``, ``#!/cart``)
    without a query of its own, and only the query parameters ``keep`` names.

    URLs carry password-reset tokens, ``#access_token=...`` and e-mail addresses; the snippet
    strips them before sending (``cleanUrl``, the same rule), this is for every other sender.
    Plain text, so it serves absolute URLs and request targets (``/docs?x=1``) alike; kept
    pairs stay as they were written.
    """
    before, _, fragment = raw.partition("#")
    path, _, query = before.partition("?")
    if "*" not in keep:
        query = "&".join(pair for pair in query.split("&") if pair and _kept(pair, keep))
    return path + (f"?{query}" if query else "") + hash_route(fragment)


def hash_route(fragment: str) -> str:
    """The route of a URL fragment (``#/cart`` of ``/cart?x=1``), else "": an anchor or a token."""
    if fragment.startswith(("/", "!/")):
        return "#" + fragment.partition("?")[0]
    return ""


def _kept(pair: str, keep: KeepParams) -> bool:
    name = unquote_plus(pair.partition("=")[0])
    return any(
        name == entry or (entry.endswith("*") and name.startswith(entry[:-1])) for entry in keep
    )
