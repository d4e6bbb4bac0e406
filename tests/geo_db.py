"""Real city databases (.mmdb, MaxMind DB format) written for the geo tests, in the layout of
MaxMind's GeoIP2/GeoLite2 City and DB-IP's city files, instead of shipping a binary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 are documentation ranges: not global, so the
# lookups never reach the database for them. These are real public networks instead.
CITY_NETWORKS: dict[str, dict[str, Any]] = {
    # Google's public resolver, placed (for the test) where the registry data would not put it:
    # the database's country must win.
    "8.8.8.0/24": {
        "country": {"iso_code": "DE", "names": {"en": "Germany", "de": "Deutschland"}},
        "subdivisions": [{"iso_code": "BE", "names": {"en": "Land Berlin"}}],
        "city": {"names": {"en": "Berlin", "de": "Berlin"}},
    },
    # A record without a country: the registry's country (AU for Cloudflare's 1.1.1.0/24) stays.
    "1.1.1.0/24": {"city": {"names": {"en": "Sydney"}}},
    # A code that is no country (Europe, as old databases had it): the registry's country (NL).
    "193.0.14.0/24": {"country": {"iso_code": "EU"}, "city": {"names": {"en": "Amsterdam"}}},
    # IPv6: Google's resolver again.
    "2001:4860:4860::/48": {
        "country": {"iso_code": "US", "names": {"en": "United States"}},
        "subdivisions": [{"names": {"en": "California"}}],
        "city": {"names": {"en": "Mountain View"}},
    },
}


def write_city_db(
    path: Path, networks: dict[str, dict[str, Any]] | None = None, ip_version: int = 6
) -> Path:
    """``path`` written as a city database holding ``networks`` (default ``CITY_NETWORKS``);
    ``ip_version=4`` writes an IPv4-only one (IPv6 networks left out)."""
    writer = MMDBWriter(
        ip_version=ip_version,
        database_type="GeoLite2-City",
        languages=["en"],
        description="Metronome test city database",
        ipv4_compatible=ip_version == 6,
    )
    for network, record in (networks or CITY_NETWORKS).items():
        if ip_version == 4 and ":" in network:
            continue
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
