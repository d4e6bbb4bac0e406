"""The ``rate_limits:`` section of the configuration.

    rate_limits:
      enabled: true
      ingest:            # POST /tick, GET /tick.gif, POST /ingest/logs, POST /user_tags
        per_ip:   {rate: 200, burst: 400}     # requests per second, and the burst above it
        per_site: {rate: 2000, burst: 4000}
      public_reads:      # GET /tock/<id> without a key
        per_ip:   {rate: 20, burst: 60}
        per_site: {rate: 200, burst: 400}
      exempt: [127.0.0.0/8, "::1"]   # client addresses no per-IP limit applies to
      trusted_proxies: []            # whose X-Forwarded-For names the client; none by default
      max_tracked: 100000            # buckets kept per worker

A rate of 0 turns that limit off. The limits are kept in each web worker's memory: a client
spread over ``server.workers`` workers (by the kernel, per connection) may get up to that many
times the rate, so the defaults are per worker and generous.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    rate: float  # tokens (requests) per second; 0: no limit
    burst: float  # the bucket's size: requests allowed at once after a quiet spell


@dataclass(frozen=True)
class LimitPair:
    per_ip: Limit
    per_site: Limit


@dataclass(frozen=True)
class RateLimitSettings:
    enabled: bool = True
    # Above what the ingest benchmark sends from one machine (~1,500 hits/s) per site; a
    # browser sends a hit or two per page view, a log shipper batches.
    ingest: LimitPair = field(default_factory=lambda: LimitPair(Limit(200, 400), Limit(2000, 4000)))
    # A public page may show a few dozen counters at once: the burst covers one such page.
    public_reads: LimitPair = field(
        default_factory=lambda: LimitPair(Limit(20, 60), Limit(200, 400))
    )
    # Loopback is exempt from the per-IP limits: the local benchmark, and a reverse proxy on
    # the same host that is not (yet) in trusted_proxies, which would otherwise be one client.
    exempt: tuple[Network, ...] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    # X-Forwarded-For is believed only from these addresses (a proxy can put anything there).
    trusted_proxies: tuple[Network, ...] = ()
    max_tracked: int = 100_000


class _Strict(Schema):
    class Meta:
        unknown = RAISE


class LimitSchema(_Strict):  # loads a partial mapping; the section's defaults fill the rest
    rate = fields.Float(validate=validate.Range(min=0, max=1_000_000))
    burst = fields.Float(validate=validate.Range(min=1, max=10_000_000))


class LimitPairSchema(_Strict):
    per_ip = fields.Nested(LimitSchema)
    per_site = fields.Nested(LimitSchema)


class NetworksField(fields.Field):
    """Addresses or networks in CIDR notation (``10.0.0.0/8``, ``::1``): a list, or one
    comma-separated string (as an environment variable gives it)."""

    def _deserialize(
        self, value: Any, attr: str | None, data: Any, **kwargs: Any
    ) -> tuple[Network, ...]:
        items = value.split(",") if isinstance(value, str) else value
        if not isinstance(items, list | tuple):
            raise ValidationError("Give a list of IP addresses or networks.")
        networks = []
        for item in items:
            try:
                networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                raise ValidationError(f"{item!r} is not an IP address or network.") from None
        return tuple(networks)


class RateLimitSchema(_Strict):
    enabled = fields.Boolean()
    ingest = fields.Nested(LimitPairSchema)
    public_reads = fields.Nested(LimitPairSchema)
    exempt = NetworksField()
    trusted_proxies = NetworksField()
    max_tracked = fields.Integer(validate=validate.Range(min=100, max=10_000_000))

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> RateLimitSettings:
        defaults = RateLimitSettings()
        for section in ("ingest", "public_reads"):
            if section in data:  # what is not given keeps its default
                pair: LimitPair = getattr(defaults, section)
                given = data[section]
                data[section] = LimitPair(
                    *(
                        Limit(**{**vars(getattr(pair, scope)), **given.get(scope, {})})
                        for scope in ("per_ip", "per_site")
                    )
                )
        return RateLimitSettings(**data)
