"""CORS for the ingest endpoints: which page origins may send hits to which site.

A site with no ``allowed_origins`` accepts hits from any page (write keys are public anyway);
otherwise only from the listed origins (``*`` allows all). ``text/plain`` beacons need no
preflight; ``application/json`` and a key header do. Pure: the web layer puts these headers on
its answers.
"""

from __future__ import annotations

from metronome.config import SiteSettings

ALLOWED_METHODS = "POST, GET, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Content-Encoding, X-Metronome-Key"
PREFLIGHT_MAX_AGE = "86400"


def origin_allowed(site: SiteSettings, origin: str | None) -> bool:
    if not origin or not site.allowed_origins:
        return True
    return "*" in site.allowed_origins or origin.rstrip("/") in {
        allowed.rstrip("/") for allowed in site.allowed_origins
    }


def cors_headers(origin: str | None, preflight: bool = False) -> list[tuple[str, str]]:
    """The CORS headers of an ingest answer to a page of ``origin`` (``None``: not allowed)."""
    headers = [("Vary", "Origin")]
    if not origin:
        return headers
    headers += [
        ("Access-Control-Allow-Origin", origin),
        ("Access-Control-Expose-Headers", "Retry-After"),
    ]
    if preflight:
        headers += [
            ("Access-Control-Allow-Methods", ALLOWED_METHODS),
            ("Access-Control-Allow-Headers", ALLOWED_HEADERS),
            ("Access-Control-Max-Age", PREFLIGHT_MAX_AGE),
        ]
    return headers
