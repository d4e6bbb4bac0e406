"""``sites:``: the tracked applications (tenants), who may write to and read from each, and what
one hit may hold there; ``allezon:``, the site the Allezon-compatible endpoints use."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from marshmallow import ValidationError, fields
from marshmallow.validate import Length, Range, Regexp

from metronome.config.declare import INTERNAL, SPLIT, Each, Loader, Then, section_schema

SITE_NAME = r"^[A-Za-z0-9_.-]{1,64}\Z"
VALID_SITE_NAME = Regexp(SITE_NAME, error="Not a valid site name.")
# Keys shown in documentation and examples say so; a key that does is never accepted.
EXAMPLE_KEY_MARKS = ("example", "changeme", "change-me", "change_me", "your_", "your-")


def not_an_example_key(key: str) -> None:
    if any(mark in key.lower() for mark in EXAMPLE_KEY_MARKS):
        raise ValidationError(
            f"{key[:24]!r} is an example key from the documentation, which anyone can read: "
            "generate your own, e.g. python3 -c 'import secrets; print(secrets.token_urlsafe(24))'."
        )


def keys(min_length: int) -> Each:
    return Each(Length(min=min_length), not_an_example_key)


@dataclass(frozen=True)
class HitLimits:
    """What one hit may hold; per site, so a noisy site can be tightened alone."""

    max_params: Annotated[int, Range(min=1, max=10_000)] = 100
    max_value_chars: Annotated[int, Range(min=1, max=1_000_000)] = 1024
    max_future_seconds: Annotated[int, Range(min=0)] = 86_400  # clock skew allowance
    # None: any past time is accepted (back-fill)
    max_age_days: Annotated[int | None, Range(min=1)] = None


@dataclass(frozen=True)
class SiteSettings:
    """One tracked application (tenant) and who may write to and read from it. Keys may be
    given as one comma-separated string: METRONOME_SITES__SHOP__READ_KEYS=sk_a,sk_b."""

    name: Annotated[str, INTERNAL]  # its key under sites:
    write_auth: Literal["key", "none"] = "key"
    write_keys: Annotated[tuple[str, ...], SPLIT, keys(8)] = ()
    # secrets: not in repr()
    read_keys: Annotated[tuple[str, ...], SPLIT, keys(8)] = field(default=(), repr=False)
    allowed_origins: tuple[str, ...] = ()
    public_tock: bool = False
    limits: HitLimits = field(default_factory=HitLimits)
    # Secret keys of server-to-server intake (POST /ingest/logs); write keys, which web pages
    # publish, cannot send it. None: only a keyless site (write_auth: none) takes it.
    ingest_keys: Annotated[tuple[str, ...], SPLIT, keys(16)] = field(default=(), repr=False)

    def check(self) -> None:
        if self.write_auth == "key" and not self.write_keys:
            raise ValidationError(
                "A site with write_auth: key needs at least one write key "
                "(or set write_auth: none).",
                "write_keys",
            )
        if set(self.write_keys) & set(self.read_keys):
            raise ValidationError("A key cannot be both a write key and a read key.", "read_keys")
        if set(self.ingest_keys) & (set(self.write_keys) | set(self.read_keys)):
            raise ValidationError(
                "An ingest key is secret: it cannot also be a write key or a read key.",
                "ingest_keys",
            )


def _sites(**options: Any) -> fields.Field:
    site = section_schema(SiteSettings, SiteSettings(name=""))
    names = fields.String(validate=Regexp(SITE_NAME))
    return fields.Dict(keys=names, values=fields.Nested(site), **options)


SITES = Loader(_sites)
NAMED = Then(
    lambda sites: {name: dataclasses.replace(site, name=name) for name, site in sites.items()}
)
AT_LEAST_ONE = Length(min=1, error="Define at least one site.")
DEFAULT_SITES: Mapping[str, SiteSettings] = {
    "default": SiteSettings(name="default", write_auth="none", public_tock=True),
}


@dataclass(frozen=True)
class AllezonSettings:
    """The Allezon-compatible endpoints (``metronome.compat.allezon``): on or off, and the site
    they use."""

    # Off unless enabled: the platform sends no keys, so /user_profiles would answer anyone.
    enabled: bool = False  # false: /user_tags, /user_profiles and /aggregates answer 404
    # where tags are stored and read; must be one of the sites
    site: Annotated[str, VALID_SITE_NAME] = "allezon"
