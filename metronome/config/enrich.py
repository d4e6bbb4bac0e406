"""``enrich:``: what ingest adds to a document beyond what the request says
(``metronome.enrich``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class GeoSettings:
    # The country of a client address (geo.country, geo.country_name), looked up on this
    # machine in the registry data an installed package ships, before the address is anonymised.
    enabled: bool = True
    # A MaxMind (GeoIP2/GeoLite2 City) or DB-IP (city lite) .mmdb file: adds geo.region and
    # geo.city, and its country wins. Checked at start-up: a missing or unreadable file stops it.
    mmdb: Path | None = None


@dataclass(frozen=True)
class EnrichSettings:
    geo: GeoSettings = field(default_factory=GeoSettings)
