"""Which site a request is for, and whether its key may write or read (docs/api.md section 2)."""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Mapping

from metronome.config import Settings, SiteSettings
from metronome.errors import ApiError


def find_site(settings: Settings, name: str | None) -> SiteSettings:
    site = settings.site(name or settings.default_site)
    if site is None:
        raise ApiError(404, "unknown_site", f"There is no site named {name!r}.", field="site")
    return site


def check_write_key(site: SiteSettings, key: str | None) -> None:
    if site.write_auth == "none":
        return
    if not key:
        raise ApiError(
            401,
            "missing_key",
            f"Site {site.name!r} needs a write key (X-Metronome-Key header, key parameter or "
            "key field).",
            field="key",
        )
    if not one_of(key, site.write_keys):
        raise ApiError(401, "invalid_key", f"That key cannot write to site {site.name!r}.", "key")


def check_ingest_key(site: SiteSettings, key: str | None, what: str = "server logs") -> None:
    """Server-to-server intake (server logs, metric points) takes the site's secret ingest keys
    only: a write key is published in web pages, so with it anyone could forge server-side
    downloads. ``what`` names the intake in the messages."""
    if not site.ingest_keys:
        if site.write_auth == "none":
            return
        raise ApiError(
            401,
            "no_ingest_key",
            f"Site {site.name!r} takes {what} only with an ingest key, and has none: set "
            f"sites.{site.name}.ingest_keys (write keys are public and cannot send them).",
            field="key",
        )
    if not key:
        raise ApiError(
            401,
            "missing_key",
            f"Site {site.name!r} needs an ingest key (X-Metronome-Key header or the password of "
            "Basic auth).",
            field="key",
        )
    if not one_of(key, site.ingest_keys):
        raise ApiError(
            401, "invalid_key", f"That key cannot send {what} to site {site.name!r}.", "key"
        )


def check_read_key(site: SiteSettings, key: str | None, public_ok: bool = False) -> None:
    """Pass with one of the site's read keys, or with no key at all where ``public_ok`` and the
    site has ``public_tock``. A wrong key is refused even there: a client that sends a key
    wants to know it does not work, not to be answered as anonymous."""
    if public_ok and site.public_tock and key is None:
        return
    if not key:
        raise ApiError(
            401,
            "missing_key",
            f"Site {site.name!r} needs a read key (Authorization: Bearer <key>).",
            field="key",
        )
    if not one_of(key, site.read_keys):
        raise ApiError(401, "invalid_key", f"That key cannot read site {site.name!r}.", "key")


def read_key(authorization: str | None, args: Mapping[str, str]) -> str | None:
    """The read key of a request: the ``Authorization: Bearer`` header, never the URL.

    A key in the URL is written into access logs, browser history and proxies' logs, so a
    ``?key=`` on a read endpoint is refused (400) rather than used or silently ignored."""
    if "key" in args:
        raise ApiError(
            400,
            "key_in_url",
            "Send the read key in the Authorization header (Authorization: Bearer <key>), "
            "not in the URL: URLs end up in logs and browser history.",
            field="key",
        )
    return bearer_token(authorization)


def bearer_token(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def one_of(key: str, keys: Iterable[str]) -> bool:
    """Whether ``key`` is one of ``keys``."""
    # Compare against every key in constant time so timing reveals nothing about near misses.
    found = False
    for candidate in keys:
        found |= hmac.compare_digest(key.encode(), candidate.encode())
    return found
