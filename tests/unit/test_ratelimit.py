"""The pure parts of the rate limits: token buckets and the client's address."""

from __future__ import annotations

import ipaddress

import pytest

from metronome.config import ConfigError, Limit, settings_from_mapping
from metronome.web.ratelimit.buckets import Buckets, retry_after
from metronome.web.ratelimit.clients import client_address, client_key

PROXY = (ipaddress.ip_network("10.0.0.0/8"),)


def test_a_bucket_allows_its_burst_then_one_request_per_token() -> None:
    buckets = Buckets(Limit(rate=2, burst=3), max_keys=100)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(0.5)  # the next token in 1/rate s
    assert buckets.take("a", 0.25) == pytest.approx(0.25)  # refused: refilled half a token
    assert buckets.take("a", 0.5) == 0.0
    assert buckets.take("b", 0.5) == 0.0  # a key of its own


def test_a_quiet_bucket_refills_only_up_to_its_burst() -> None:
    buckets = Buckets(Limit(rate=1, burst=2), max_keys=100)
    buckets.take("a", 0.0)
    assert [buckets.take("a", 1000.0) for _ in range(2)] == [0.0, 0.0]
    assert buckets.take("a", 1000.0) > 0


def test_rate_zero_is_no_limit() -> None:
    buckets = Buckets(Limit(rate=0, burst=1), max_keys=100)
    assert all(buckets.take("a", 0.0) == 0.0 for _ in range(1000))


def test_the_table_forgets_full_buckets_first_and_stays_bounded() -> None:
    buckets = Buckets(Limit(rate=1, burst=1), max_keys=100)
    buckets.take("busy", 99.5)  # empty until 100.5
    for n in range(99):
        buckets.take(n, 0.0)  # full again by 1.0
    buckets.take("new", 100.0)
    assert set(buckets.state) == {"busy", "new"}
    assert buckets.take("busy", 100.0) > 0  # still limited: not forgotten
    for n in range(1000):
        buckets.take(f"flood-{n}", 100.0)
        assert len(buckets.state) <= 100


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    assert retry_after(0.01) == 1
    assert retry_after(1.0) == 1
    assert retry_after(1.2) == 2


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert str(client_address("203.0.113.9", "198.51.100.1", ())) == "203.0.113.9"
    assert str(client_address("203.0.113.9", "198.51.100.1", PROXY)) == "203.0.113.9"
    assert str(client_address("10.0.0.2", "198.51.100.1", PROXY)) == "198.51.100.1"


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    # The client wrote "1.1.1.1" itself; the proxies appended what they saw.
    header = "1.1.1.1, 198.51.100.1, 10.0.0.7"
    assert str(client_address("10.0.0.2", header, PROXY)) == "198.51.100.1"
    assert str(client_address("10.0.0.2", "10.0.0.9", PROXY)) == "10.0.0.9"  # all trusted
    assert str(client_address("10.0.0.2", "junk, 10.0.0.9", PROXY)) == "10.0.0.9"
    assert str(client_address("10.0.0.2", "", PROXY)) == "10.0.0.2"


def test_a_peer_that_is_no_address_has_none() -> None:
    assert client_address("", None, ()) is None
    assert client_address("unix:/run/metronome.sock", None, PROXY) is None


def test_ipv6_clients_share_a_bucket_per_64() -> None:
    one = client_address("2001:db8:1:2::1", None, ())
    two = client_address("2001:db8:1:2:ffff::9", None, ())
    assert one is not None and two is not None
    assert client_key(one) == client_key(two) == "2001:db8:1:2::/64"
    assert client_key(ipaddress.ip_address("192.0.2.1")) == "192.0.2.1"


def test_settings_take_partial_limits_and_comma_separated_networks() -> None:
    limits = settings_from_mapping(
        {"rate_limits": {"ingest": {"per_ip": {"rate": "5"}}, "trusted_proxies": "10.0.0.1, ::1"}}
    ).rate_limits
    assert limits.ingest.per_ip == Limit(5, 400)
    assert limits.ingest.per_site == Limit(2000, 4000)
    assert [str(n) for n in limits.trusted_proxies] == ["10.0.0.1/32", "::1/128"]
    assert settings_from_mapping({}).rate_limits.trusted_proxies == ()  # never by default


@pytest.mark.parametrize(
    ("raw", "where"),
    [
        ({"trusted_proxies": ["10.0.0.300"]}, "rate_limits.trusted_proxies"),
        ({"ingest": {"per_ip": {"rate": -1}}}, "rate_limits.ingest.per_ip.rate"),
        ({"public_reads": {"per_site": {"burst": 0}}}, "rate_limits.public_reads.per_site.burst"),
        ({"ingest": {"per_host": {}}}, "rate_limits.ingest.per_host"),
    ],
)
def test_a_wrong_limit_is_named(raw: dict[str, object], where: str) -> None:
    with pytest.raises(ConfigError, match=where):
        settings_from_mapping({"rate_limits": raw})


def test_wait_tells_when_a_token_comes_without_taking_one() -> None:
    buckets = Buckets(Limit(rate=1, burst=2), max_keys=100)
    assert buckets.wait("a", 0.0) == 0.0  # an unknown key has a full bucket
    buckets.take("a", 0.0)
    assert buckets.wait("a", 0.0) == 0.0
    buckets.take("a", 0.0)
    assert buckets.wait("a", 0.25) == pytest.approx(0.75)
    assert buckets.wait("a", 0.25) == pytest.approx(0.75)  # asking took nothing
    assert buckets.wait("a", 1.0) == 0.0
    assert Buckets(Limit(rate=0, burst=1), max_keys=100).wait("a", 0.0) == 0.0
