from __future__ import annotations

import hashlib
import hmac
import stat
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path

import pytest

from metronome.fsutil import load_or_create_secret
from metronome.hits.privacy import (
    DEFAULT_KEEP_PARAMS,
    DailySalts,
    anonymise_ip,
    clean_url,
    keyed_hash,
    visitor_id,
)

SALT = b"s" * 32
DAY = date(2026, 11, 22)


def test_a_configured_secret_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("from-the-file\n")
    assert load_or_create_secret("from-the-config", path) == b"from-the-config"


def test_a_configured_secret_creates_no_file(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    load_or_create_secret("from-the-config", path)
    assert not path.exists()


def test_the_secret_file_is_created_once_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "var" / "visitor-secret"
    first = load_or_create_secret(None, path)
    assert load_or_create_secret(None, path) == first
    assert len(bytes.fromhex(first.decode())) == 32


def test_the_secret_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    load_or_create_secret(None, path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_creating_the_secret_leaves_no_temporary_file(tmp_path: Path) -> None:
    load_or_create_secret(None, tmp_path / "visitor-secret")
    assert [p.name for p in tmp_path.iterdir()] == ["visitor-secret"]


def test_an_existing_secret_file_is_read_not_replaced(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("abc123\n")
    assert load_or_create_secret(None, path) == b"abc123"
    assert path.read_text() == "abc123\n"


def test_the_file_secret_pasted_into_the_config_gives_the_same_secret(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    from_file = load_or_create_secret(None, path)
    assert load_or_create_secret(path.read_text().strip(), path) == from_file


def test_an_empty_secret_file_is_an_error_not_silently_replaced(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    path.write_text("\n")
    with pytest.raises(ValueError, match="empty"):
        load_or_create_secret(None, path)


def test_concurrent_first_starts_end_with_one_secret(tmp_path: Path) -> None:
    path = tmp_path / "visitor-secret"
    with ProcessPoolExecutor(max_workers=8) as pool:
        secrets = set(pool.map(load_or_create_secret, [None] * 32, [path] * 32))
    assert secrets == {path.read_text().strip().encode()}


def test_the_daily_salt_is_the_hmac_of_the_iso_day() -> None:
    expected = hmac.new(b"secret", b"2026-11-22", hashlib.sha256).digest()
    assert DailySalts(b"secret").for_day(DAY) == expected


def test_daily_salts_differ_across_days_and_secrets() -> None:
    salts = DailySalts(b"secret")
    assert salts.for_day(DAY) != salts.for_day(date(2026, 11, 23))
    assert salts.for_day(DAY) != DailySalts(b"other").for_day(DAY)


def test_daily_salts_keep_only_the_two_newest_days() -> None:
    salts = DailySalts(b"secret")
    for day in (date(2026, 11, 21), date(2026, 11, 23), DAY, date(2026, 1, 1)):
        salts.for_day(day)
    assert sorted(salts._cache) == [DAY, date(2026, 11, 23)]


def test_daily_salts_refuse_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        DailySalts(b"")


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


def test_visitor_id_needs_an_ip_or_an_agent_and_a_salt() -> None:
    assert visitor_id(SALT, "site", None, None) is None
    assert visitor_id(SALT, "site", "", "") is None
    assert visitor_id(b"", "site", "203.0.113.77", "curl/8") is None
    assert visitor_id(SALT, "site", "203.0.113.77", None) == keyed_hash(
        SALT, "site\x00203.0.113.77\x00"
    )


def test_visitor_id_fields_are_separated_so_they_cannot_run_together() -> None:
    assert visitor_id(SALT, "a", "1.2.3.4", "b") != visitor_id(SALT, "a1", ".2.3.4", "b")


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("https://x.org/reset?token=s3cret", "https://x.org/reset"),
        ("https://x.org/cb#access_token=abc&state=1", "https://x.org/cb"),
        (
            "https://x.org/a?email=a%40b.org&utm_source=n&ref=hn",
            "https://x.org/a?utm_source=n&ref=hn",
        ),
        ("https://x.org/?utm_id=7&refx=1&xref=2", "https://x.org/?utm_id=7"),
        ("https://x.org/?utm%5Fsource=n&q", "https://x.org/?utm%5Fsource=n"),  # names decoded
        ("https://x.org/#/orders/7?token=x", "https://x.org/#/orders/7"),  # a hash route stays
        ("https://x.org/#!/inbox", "https://x.org/#!/inbox"),
        ("https://x.org/page#section", "https://x.org/page"),
        ("/docs?x=1&utm_medium=ad", "/docs?utm_medium=ad"),  # a request target
        ("https://x.org/a?", "https://x.org/a"),
        ("not a url#x", "not a url"),
    ],
)
def test_a_clean_url_keeps_no_fragment_but_a_route_and_only_kept_parameters(
    raw: str, clean: str
) -> None:
    assert clean_url(raw, DEFAULT_KEEP_PARAMS) == clean


def test_the_kept_parameters_are_configurable() -> None:
    assert clean_url("https://x.org/?page=2&q=a&utm_source=n", ("page",)) == "https://x.org/?page=2"
    assert clean_url("https://x.org/?a=1&b#frag", ("*",)) == "https://x.org/?a=1&b"  # all
    assert clean_url("https://x.org/?utm_source=n", ()) == "https://x.org/"  # none
