"""Where a client address is: ``geo.country`` (ISO 3166-1 alpha-2) and ``geo.country_name``
for every public address, plus ``geo.region`` and ``geo.city`` when the operator gives a city
database (``enrich.geo.mmdb``).

Everything is looked up on this machine, never over the network:

- the country comes from the Regional Internet Registries' delegation files, which the
  ``iptocc`` package ships inside its wheel (re-released when the registries publish); it says
  to which country a registry assigned a block, which agrees with commercial country databases
  for about 95% of addresses. Loaded on the first lookup of a process, then about 0.3 µs a
  lookup;
- a MaxMind GeoIP2/GeoLite2 City or DB-IP city ``.mmdb`` file, read with MaxMind's reader
  (``maxminddb``), adds the region and the city, and its country wins where it has one;
- the English name of a country is always taken from the one table of ISO 3166 names
  (``pycountry``), whatever gave the code, so one country has one name in every stream.

Private, loopback, link-local, reserved, multicast and unknown addresses get no ``geo`` at all.
Addresses are read (``inet_pton``) and checked with integer arithmetic: the standard library's
parsing and ``is_global`` cost about twenty times what the lookup itself costs.
"""

from __future__ import annotations

import bisect
import functools
import ipaddress
import socket
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import maxminddb

from metronome.config import GeoSettings

GeoField = dict[str, str]
CACHE_SIZE = 4096  # distinct addresses remembered per process: a client sends many requests
# Codes a registry or a city database uses that are not (yet) in ISO 3166-1.
EXTRA_COUNTRIES: Mapping[str, str] = {"XK": "Kosovo"}
# IPv4 blocks no client on the internet has: IANA's special-purpose blocks that are not
# globally reachable, multicast and the reserved 240/4 (with the broadcast address).
NOT_PUBLIC_IPV4 = (
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.0.2.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "198.51.100.0/24",
    "203.0.113.0/24",
    "224.0.0.0/4",
    "240.0.0.0/4",
)
# IPv6 clients are in 2000::/3, the only block IANA hands out for global unicast, except these:
# IETF protocol assignments (Teredo and the like) and the two documentation blocks.
NOT_PUBLIC_IPV6 = ("2001::/23", "2001:db8::/32", "3fff::/20")


def _ranges(blocks: tuple[str, ...]) -> tuple[list[int], list[int]]:
    """The first and last addresses of ``blocks`` as numbers, in order."""
    networks = [ipaddress.ip_network(block) for block in blocks]
    networks.sort(key=lambda network: int(network.network_address))
    return [int(n.network_address) for n in networks], [int(n.broadcast_address) for n in networks]


_V4_FIRST, _V4_LAST = _ranges(NOT_PUBLIC_IPV4)
_V6_FIRST, _V6_LAST = _ranges(NOT_PUBLIC_IPV6)
_MAPPED_PREFIX = 0xFFFF  # ::ffff:a.b.c.d, an IPv4 client on a dual-stack socket


class GeoDatabaseError(Exception):
    """The configured ``.mmdb`` file cannot be used; the message names it."""


class Geo:
    """The lookups of one deployment: the built-in country data, and the ``.mmdb`` if any."""

    def __init__(self, mmdb: Path | None = None) -> None:
        self.mmdb = mmdb
        self._reader = None if mmdb is None else open_mmdb(mmdb)
        self._cached: Callable[[str], tuple[tuple[str, str], ...] | None] = functools.lru_cache(
            maxsize=CACHE_SIZE
        )(self._find)

    def lookup(self, text: str) -> GeoField | None:
        """The ``geo`` object of the address ``text`` (a new dict), or ``None``."""
        found = self._cached(text)
        return None if found is None else dict(found)

    def _find(self, text: str) -> tuple[tuple[str, str], ...] | None:
        address = public_address(text)
        if address is None:
            return None
        field: GeoField = {}
        if self._reader is not None:
            field = city_fields(self._record(address))
        code = field.pop("country", None)
        if code is None or country_name(code) is None:  # none, or one that is no country
            code = builtin_country(address)
        name = country_name(code) if code else None
        if code is None or name is None:
            return None  # a region without its country would be a place nobody can filter on
        return (("country", code), ("country_name", name), *sorted(field.items()))

    def _record(self, address: str) -> Any:
        assert self._reader is not None
        try:
            return self._reader.get(address)
        except (ValueError, TypeError):  # an IPv6 address in an IPv4-only database
            return None


@functools.cache
def geo_lookup(settings: GeoSettings) -> Geo | None:
    """The process's ``Geo`` for these settings (built once), ``None`` when geo is off.

    ``GeoDatabaseError`` when the ``.mmdb`` cannot be read: the entry points call this at
    start-up, so a wrong file stops them there rather than at the first request."""
    if not settings.enabled:
        return None
    return Geo(settings.mmdb)


def public_address(text: str) -> str | None:
    """``text`` as a public address (IPv4-mapped IPv6 as its IPv4), else ``None``: invalid,
    private, loopback, link-local, reserved, documentation, multicast, outside 2000::/3."""
    text = text.strip()
    try:
        number = int.from_bytes(socket.inet_pton(socket.AF_INET, text), "big")
    except OSError:
        pass  # not a dotted IPv4 address
    else:
        return text if _outside(number, _V4_FIRST, _V4_LAST) else None
    try:
        packed = socket.inet_pton(socket.AF_INET6, text)
    except OSError:  # not an address at all, or one with a zone (fe80::1%eth0): never public
        return None
    number = int.from_bytes(packed, "big")
    if number >> 32 == _MAPPED_PREFIX:
        ipv4 = socket.inet_ntop(socket.AF_INET, packed[12:])
        return ipv4 if _outside(number & 0xFFFFFFFF, _V4_FIRST, _V4_LAST) else None
    if number >> 125 != 0b001 or not _outside(number, _V6_FIRST, _V6_LAST):
        return None
    return text


def _outside(number: int, firsts: list[int], lasts: list[int]) -> bool:
    """Whether ``number`` is in none of the sorted blocks ``firsts[i]``-``lasts[i]``."""
    index = bisect.bisect_right(firsts, number) - 1
    return index < 0 or number > lasts[index]


def open_mmdb(path: Path) -> maxminddb.Reader:
    """A reader of ``path``; ``GeoDatabaseError`` naming it when it is missing or no MaxMind DB."""
    try:
        reader = maxminddb.open_database(str(path))
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as error:
        reason = getattr(error, "strerror", None) or str(error) or type(error).__name__
        raise GeoDatabaseError(f"enrich.geo.mmdb: cannot read {path}: {reason}") from None
    return reader


def city_fields(record: Any) -> GeoField:
    """``country``, ``region`` and ``city`` of a GeoIP2/DB-IP city record, where it has them
    (English names; a record of another layout gives nothing)."""
    if not isinstance(record, dict):
        return {}
    field: GeoField = {}
    country = _member(record, "country") or _member(record, "registered_country")
    code = country.get("iso_code") if country else None
    if isinstance(code, str) and len(code) == 2:
        field["country"] = code.upper()
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        region = _english(subdivisions[0])
        if region:
            field["region"] = region
    city = _english(_member(record, "city"))
    if city:
        field["city"] = city
    return field


def builtin_country(address: str) -> str | None:
    """The registry country of a public address, by the data shipped with ``iptocc``."""
    code = _iptocc()(address)
    return code if isinstance(code, str) else None


def country_name(code: str) -> str | None:
    """The English name of an ISO 3166-1 alpha-2 code (its common name where ISO's is formal:
    "South Korea", "Iran"); ``None`` for a code that is no country ("EU", "ZZ")."""
    return _country_names().get(code)


@functools.cache
def _iptocc() -> Callable[[str], Any]:
    # Loaded on the first lookup: a process that never looks an address up never loads it.
    import iptocc  # noqa: PLC0415

    lookup: Callable[[str], Any] = iptocc.country_code
    return lookup


@functools.cache
def _country_names() -> dict[str, str]:
    import pycountry  # noqa: PLC0415  # likewise: its tables are read on the first lookup

    names = {c.alpha_2: getattr(c, "common_name", None) or c.name for c in pycountry.countries}
    return {**names, **EXTRA_COUNTRIES}


def _member(record: dict[str, Any], name: str) -> dict[str, Any] | None:
    value = record.get(name)
    return value if isinstance(value, dict) else None


def _english(part: dict[str, Any] | None) -> str | None:
    names = part.get("names") if part else None
    name = names.get("en") if isinstance(names, dict) else None
    return name if isinstance(name, str) and name else None
