"""``rate_limits:``: token buckets per client address and per site (``metronome.web.ratelimit``).

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

A rate of 0 turns that limit off; what a limit leaves out keeps its default. The limits are
kept in each web worker's memory: a client spread over ``server.workers`` workers (by the
kernel, per connection) may get up to that many times the rate, so the defaults are per worker
and generous.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Annotated, Any

from marshmallow import ValidationError, fields
from marshmallow.validate import Range

from metronome.config.declare import Loader

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Limit:
    # tokens (requests) per second; 0: no limit
    rate: Annotated[float, Range(min=0, max=1_000_000)]
    # the bucket's size: requests allowed at once after a quiet spell
    burst: Annotated[float, Range(min=1, max=10_000_000)]


@dataclass(frozen=True)
class LimitPair:
    per_ip: Limit
    per_site: Limit


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


NETWORKS = Loader(NetworksField)


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
    exempt: Annotated[tuple[Network, ...], NETWORKS] = (
        ipaddress.ip_network("127.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
    )
    # X-Forwarded-For is believed only from these addresses (a proxy can put anything there).
    trusted_proxies: Annotated[tuple[Network, ...], NETWORKS] = ()
    max_tracked: Annotated[int, Range(min=100, max=10_000_000)] = 100_000
