"""``privacy:``: what is kept of the person behind a hit (``metronome.enrich`` applies it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from marshmallow.validate import Regexp

from metronome.config.declare import NULL_IS_EMPTY, SPLIT, Each, Then

DEFAULT_KEEP_PARAMS: tuple[str, ...] = ("utm_*", "ref")  # campaign tags, the snippet's default too
UNIQUE = Then(lambda items: tuple(dict.fromkeys(items)))  # in their first order
PARAM_NAME = Regexp(
    r"^[^&=#\s]{1,128}\Z", error="Use a query parameter name (no &, =, # or spaces)."
)


@dataclass(frozen=True)
class PrivacySettings:
    # drop: no IP stored; truncate: IPv4 /24, IPv6 /48; hash: daily-salted hash; full: as seen
    ip: Literal["drop", "truncate", "hash", "full"] = "truncate"
    # Secret for the daily visitor/IP salts; shared by every instance of a deployment.
    # Empty: one is generated on first start and kept in <spool.dir>/../visitor-secret.
    visitor_secret: str | None = field(default=None, repr=False)  # a secret: not in repr()
    # Query parameters kept in stored URLs (hits' url/referrer, server logs' url/referrer);
    # the rest and any fragment but a "#/route" are dropped: tokens, e-mail addresses.
    # "utm_*" keeps every name starting "utm_"; ["*"] keeps every parameter. From the
    # environment: METRONOME_PRIVACY__KEEP_QUERY_PARAMS=utm_*,ref (empty: none).
    keep_query_params: Annotated[
        tuple[str, ...], SPLIT, NULL_IS_EMPTY, Each(PARAM_NAME), UNIQUE
    ] = DEFAULT_KEEP_PARAMS
