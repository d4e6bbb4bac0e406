"""Which client a request comes from, as the rate limits see it.

The peer address (``REMOTE_ADDR``), unless the peer is a trusted reverse proxy: then the
``X-Forwarded-For`` hops are read from the right (each proxy appends the address it got the
request from) and the first address not itself a trusted proxy is the client. Anything left
of it was written by the client and proves nothing. ``X-Forwarded-For`` from a peer not
trusted is ignored: anyone can send it.

IPv6 clients are keyed by their /64, the block one customer line usually gets, so that a
client cannot get a fresh bucket per address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from metronome.config import Network

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def parse_address(text: str) -> Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def within(address: Address, networks: Sequence[Network]) -> bool:
    return any(address in network for network in networks)


def client_address(
    peer: str, forwarded_for: str | None, trusted: Sequence[Network]
) -> Address | None:
    """The client's address, ``None`` if the peer's is not an address (a Unix socket)."""
    address = parse_address(peer)
    if address is None or not trusted or not forwarded_for or not within(address, trusted):
        return address
    for hop in reversed(forwarded_for.split(",")):
        forwarded = parse_address(hop)
        if forwarded is None:
            break  # a malformed hop: the proxy that appended after it is the last known
        address = forwarded
        if not within(address, trusted):
            break
    return address


def client_key(address: Address) -> str:
    """The bucket key of an address: itself for IPv4, its /64 for IPv6."""
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
