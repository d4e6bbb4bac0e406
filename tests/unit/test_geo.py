"""Geo enrichment: the registry country of public addresses, nothing for the others, region and
city from a real city database (.mmdb written by the test), and where each stream stores it."""

from __future__ import annotations

import ipaddress
import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from ingesters.s3_access_logs.documents import RecordMapping, line_document
from ingesters.s3_access_logs.keys import LogObject
from metronome.cli import cli
from metronome.config import GeoSettings
from metronome.enrich.geo import (
    NOT_PUBLIC_IPV4,
    NOT_PUBLIC_IPV6,
    Geo,
    GeoDatabaseError,
    city_fields,
    country_name,
    geo_lookup,
    public_address,
)
from metronome.enrich.visitors import DailySalts
from metronome.hits.pipeline import HitContext, enrich
from metronome.logs.events import LogEvent
from metronome.logs.records import LogContext, log_entry
from metronome.web.ingest import client_ip
from tests.fakes.s3 import access_log_line
from tests.geo_db import write_city_db

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
BUILTIN = Geo()

# Addresses of networks whose registry country has been stable for many years.
KNOWN = [
    ("8.8.8.8", "US", "United States"),  # Google Public DNS
    ("9.9.9.9", "US", "United States"),  # Quad9 (IBM's block, assigned in the US)
    ("1.1.1.1", "AU", "Australia"),  # APNIC's research block, announced by Cloudflare
    ("193.0.14.129", "NL", "Netherlands"),  # k.root-servers.net, RIPE NCC in Amsterdam
    ("203.178.141.194", "JP", "Japan"),  # the WIDE project
    ("2001:4860:4860::8888", "US", "United States"),  # Google Public DNS over IPv6
    ("::ffff:8.8.8.8", "US", "United States"),  # an IPv4 client on a dual-stack socket
]
NOT_PUBLIC = [
    "10.1.2.3",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "169.254.10.10",  # link-local
    "100.64.0.1",  # carrier-grade NAT
    "192.0.2.1",  # documentation
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.251",  # multicast
    "ff02::1",
    "::1",
    "fe80::1",
    "fd12:3456::1",  # unique local
    "2001:db8::1",  # documentation
    "not an address",
    "",
]


@pytest.mark.parametrize(("address", "code", "name"), KNOWN)
def test_public_addresses_get_their_registry_country(address: str, code: str, name: str) -> None:
    assert BUILTIN.lookup(address) == {"country": code, "country_name": name}


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_private_loopback_reserved_and_invalid_addresses_get_no_geo(address: str) -> None:
    assert BUILTIN.lookup(address) is None


def test_the_fast_ipv4_check_agrees_with_the_standard_library() -> None:
    """Every block's edges and 100,000 random addresses: public exactly when ``is_global``
    and not multicast. 192.0.0.0/24 is left out: whether its two anycast addresses count as
    global depends on the Python version; none of them is a client."""
    chooser = random.Random(22)
    samples = [ipaddress.IPv4Address(chooser.getrandbits(32)) for _ in range(100_000)]
    for block in map(ipaddress.IPv4Network, NOT_PUBLIC_IPV4):
        first, last = int(block.network_address), int(block.broadcast_address)
        edges = (first - 1, first, first + 1, last - 1, last, last + 1)
        samples += [ipaddress.IPv4Address(n) for n in edges if 0 <= n < 2**32]
    special = ipaddress.IPv4Network("192.0.0.0/24")
    for address in samples:
        if address in special:
            assert public_address(str(address)) is None
            continue
        expected = address.is_global and not address.is_multicast
        assert (public_address(str(address)) is not None) is expected, address
    assert public_address(" 8.8.8.8 ") == "8.8.8.8"
    assert public_address("8.8.8.8\n") == "8.8.8.8"
    assert public_address("::ffff:8.8.8.8") == "8.8.8.8"
    assert public_address("010.1.2.3") is None  # leading zeros: refused, as ipaddress does


def test_the_fast_ipv6_check_agrees_with_the_standard_library_in_global_unicast() -> None:
    """In 2000::/3 (where every IPv6 client is) public exactly when ``is_global``, except
    2001::/23 (IETF protocol assignments, whose few global exceptions vary with the Python
    version: no client there) and 3fff::/20 (documentation since 2024, unknown to older
    Pythons); outside 2000::/3 never (multicast, link-local, unique local, unassigned)."""
    chooser = random.Random(23)
    unicast = [ipaddress.IPv6Address((1 << 125) | chooser.getrandbits(125)) for _ in range(20_000)]
    for block in map(ipaddress.IPv6Network, NOT_PUBLIC_IPV6):
        first, last = int(block.network_address), int(block.broadcast_address)
        unicast += [ipaddress.IPv6Address(n) for n in (first - 1, first, last, last + 1)]
    unsure = [ipaddress.IPv6Network("2001::/23"), ipaddress.IPv6Network("3fff::/20")]
    for address in unicast:
        if any(address in block for block in unsure):
            assert public_address(str(address)) is None
        else:
            assert (public_address(str(address)) is not None) is address.is_global, address
    for _ in range(20_000):
        other = ipaddress.IPv6Address(chooser.getrandbits(128))
        if int(other) >> 125 != 1 and other.ipv4_mapped is None:
            assert public_address(str(other)) is None, other
    assert public_address("2001:4860:4860::8888") == "2001:4860:4860::8888"
    assert public_address("::ffff:10.0.0.1") is None
    assert public_address("fe80::1%eth0") is None


def test_each_lookup_is_a_new_dict() -> None:
    first = BUILTIN.lookup("8.8.8.8")
    assert first is not None
    first["country"] = "XX"
    assert BUILTIN.lookup("8.8.8.8") == {"country": "US", "country_name": "United States"}


def test_country_names_are_english_common_names_and_non_countries_have_none() -> None:
    assert country_name("KR") == "South Korea"
    assert country_name("DE") == "Germany"
    assert country_name("XK") == "Kosovo"  # used by registries, not (yet) in ISO 3166-1
    assert country_name("EU") is None
    assert country_name("ZZ") is None


def test_geo_off_is_none_and_the_same_settings_share_one_lookup() -> None:
    assert geo_lookup(GeoSettings(enabled=False)) is None
    assert geo_lookup(GeoSettings()) is geo_lookup(GeoSettings())


# --- a city database -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Geo:
    return Geo(write_city_db(tmp_path_factory.mktemp("geo") / "city.mmdb"))


def test_a_city_database_adds_region_and_city_and_its_country_wins(city: Geo) -> None:
    assert city.lookup("8.8.8.8") == {
        "country": "DE",
        "country_name": "Germany",
        "region": "Land Berlin",
        "city": "Berlin",
    }
    assert city.lookup("2001:4860:4860::8844") == {
        "country": "US",
        "country_name": "United States",
        "region": "California",
        "city": "Mountain View",
    }


def test_without_a_country_in_the_database_the_registry_country_stays(city: Geo) -> None:
    assert city.lookup("1.1.1.1") == {
        "country": "AU",
        "country_name": "Australia",
        "city": "Sydney",
    }
    assert city.lookup("193.0.14.129") == {
        "country": "NL",
        "country_name": "Netherlands",
        "city": "Amsterdam",
    }
    assert city.lookup("9.9.9.9") == {"country": "US", "country_name": "United States"}
    assert city.lookup("10.0.0.1") is None


def test_an_ipv4_only_database_leaves_ipv6_clients_their_registry_country(tmp_path: Path) -> None:
    geo = Geo(write_city_db(tmp_path / "v4.mmdb", ip_version=4))
    assert geo.lookup("8.8.8.8") == {
        "country": "DE",
        "country_name": "Germany",
        "region": "Land Berlin",
        "city": "Berlin",
    }
    assert geo.lookup("2001:4860:4860::8888") == {"country": "US", "country_name": "United States"}


def test_records_of_another_layout_give_nothing() -> None:
    assert city_fields(None) == {}
    assert city_fields("DE") == {}
    assert city_fields({"country": "DE", "city": ["Berlin"], "subdivisions": "BE"}) == {}
    assert city_fields({"registered_country": {"iso_code": "fr"}}) == {"country": "FR"}


def test_a_missing_or_corrupt_database_is_an_error_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.mmdb"
    with pytest.raises(GeoDatabaseError, match=f"enrich.geo.mmdb: cannot read {missing}: No such"):
        Geo(missing)
    corrupt = tmp_path / "corrupt.mmdb"
    corrupt.write_bytes(b"\x00" * 4096)
    with pytest.raises(GeoDatabaseError, match=f"cannot read {corrupt}"):
        geo_lookup(GeoSettings(mmdb=corrupt))


def test_every_command_stops_at_a_city_database_it_cannot_read(tmp_path: Path) -> None:
    missing = tmp_path / "GeoLite2-City.mmdb"
    path = tmp_path / "metronome.yml"
    settings = {
        "spool": {"dir": str(tmp_path / "spool")},
        "enrich": {"geo": {"mmdb": str(missing)}},
    }
    path.write_text(yaml.safe_dump(settings))
    for command in (["serve"], ["forward"], ["sources", "list"]):
        result = CliRunner().invoke(cli, ["--config", str(path), *command])
        assert result.exit_code == 1, result.output
        assert f"Error: enrich.geo.mmdb: cannot read {missing}" in result.output


# --- the streams ----------------------------------------------------------------------------


def test_a_hit_stores_the_country_of_the_whole_address_and_the_truncated_address() -> None:
    ctx = HitContext(site="default", received_at=NOW, client_ip="8.8.8.8", geo=BUILTIN)
    doc = enrich({"id": "/pricing", "event": "view"}, ctx)
    assert doc["geo"] == {"country": "US", "country_name": "United States"}
    assert doc["client_ip"] == "8.8.8.0"
    # A client-side value never passes (load_hit refuses "geo"; the step overwrites it anyway).
    again = enrich({"id": "/pricing", "geo": {"country": "FR"}}, ctx)
    assert again["geo"] == {"country": "US", "country_name": "United States"}
    assert again["geo"] is not doc["geo"]


@pytest.mark.parametrize(
    ("client", "geo"), [("10.0.0.7", BUILTIN), (None, BUILTIN), ("8.8.8.8", None)]
)
def test_a_hit_without_a_public_address_or_with_geo_off_has_no_geo(
    client: str | None, geo: Geo | None
) -> None:
    ctx = HitContext(site="default", received_at=NOW, client_ip=client, geo=geo, ip_mode="drop")
    assert "geo" not in enrich({"id": "/pricing"}, ctx)


def log_context(geo: Geo | None) -> LogContext:
    return LogContext("default", (), "drop", DailySalts(b"k" * 32), geo=geo)


def access_line(address: str) -> str:
    return f'{address} - - [22/Nov/2026:10:15:32 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'


def test_a_server_log_request_stores_the_country_of_its_client() -> None:
    event = LogEvent(
        tag="nginx.access",
        time=NOW,
        record={"message": access_line("193.0.14.129"), "geo": "from the record"},
        input="forward",
    )
    doc = log_entry(event, log_context(BUILTIN), NOW).doc
    assert doc["geo"] == {"country": "NL", "country_name": "Netherlands"}
    assert "client_ip" not in doc  # privacy.ip: drop, and the location is still there
    assert doc["record"] == {"geo": "from the record"}  # a record's own field is kept aside
    for address, geo in (("192.168.0.3", BUILTIN), ("193.0.14.129", None)):
        event = LogEvent(tag="t", time=NOW, record={"message": access_line(address)}, input="http")
        assert "geo" not in log_entry(event, log_context(geo), NOW).doc


def test_an_s3_request_stores_the_country_of_its_requester_before_ip_mode() -> None:
    log = LogObject(day=NOW.date(), key="logs/2026-11-22-12-00-00-AAAA", time=NOW)
    line = access_log_line("shop", NOW, "datasets/42.csv", remote_ip="203.178.141.194")
    document = line_document(log, 1, line, RecordMapping(ip_mode="drop", geo=BUILTIN))
    assert document.fields["geo"] == {"country": "JP", "country_name": "Japan"}
    assert "remote_ip" not in document.fields
    assert "geo" not in line_document(log, 1, line, RecordMapping()).fields
    private = access_log_line("shop", NOW, "datasets/42.csv", remote_ip="10.0.0.3")
    assert "geo" not in line_document(log, 1, private, RecordMapping(geo=BUILTIN)).fields


# --- the client address of a hit ------------------------------------------------------------

PROXY = ipaddress.ip_network("127.0.0.1/32")


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "8.8.8.8", "8.8.8.8"),  # the trusted proxy's client
        ("127.0.0.1", "203.0.113.50, 8.8.8.8", "8.8.8.8"),  # a forged hop is left of it
        ("127.0.0.1", "8.8.8.8, 127.0.0.1", "8.8.8.8"),  # past the trusted proxies
        ("127.0.0.1", "junk", "127.0.0.1"),  # a malformed hop: the proxy is the last known
        ("198.51.100.4", "8.8.8.8", "198.51.100.4"),  # not a trusted peer: the header is ignored
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_the_client_behind_a_trusted_proxy_is_the_forwarded_address(
    peer: str, forwarded: str | None, expected: str
) -> None:
    environ = {"REMOTE_ADDR": peer}
    if forwarded is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded
    assert client_ip(environ, (PROXY,)) == expected
