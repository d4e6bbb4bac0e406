"""Client IP addresses as they may be stored: dropped, truncated, hashed, or kept."""

from __future__ import annotations

import functools
import ipaddress
from typing import Literal

from metronome.enrich.visitors import keyed_hash

IpMode = Literal["drop", "truncate", "hash", "full"]


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
