"""Client IPs as they may be stored (``metronome.enrich.ips``)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from metronome.enrich.ips import anonymise_ip

SALT = b"s" * 32


@pytest.mark.parametrize(
    ("raw", "truncated"),
    [
        ("203.0.113.77", "203.0.113.0"),
        (" 203.0.113.77 ", "203.0.113.0"),
        ("2001:db8:abcd:12:34::1", "2001:db8:abcd::"),
        ("2001:DB8:ABCD:FFFF::1", "2001:db8:abcd::"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:203.0.113.77", "203.0.113.0"),
    ],
)
def test_truncation_keeps_the_ipv4_24_and_ipv6_48_prefix(raw: str, truncated: str) -> None:
    assert anonymise_ip(raw, "truncate", SALT) == truncated


def test_hashed_ip_is_a_16_hex_hmac_of_the_normalised_address() -> None:
    expected = hmac.new(SALT, b"2001:db8::1", hashlib.sha256).hexdigest()[:16]
    assert anonymise_ip("2001:DB8:0::1", "hash", SALT) == expected


def test_an_ip_is_not_hashed_without_a_salt() -> None:
    assert anonymise_ip("203.0.113.77", "hash", b"") is None


def test_full_mode_normalises_but_keeps_the_address() -> None:
    assert anonymise_ip("2001:DB8:0::1", "full", SALT) == "2001:db8::1"


@pytest.mark.parametrize("raw", ["", "not-an-ip", "256.1.1.1", "203.0.113.0/24"])
def test_invalid_ip_text_is_not_stored(raw: str) -> None:
    for mode in ("truncate", "hash", "full"):
        assert anonymise_ip(raw, mode, SALT) is None
