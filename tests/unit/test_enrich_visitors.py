"""Daily salts, keyed hashes and cookieless visitor ids (``metronome.enrich.visitors``)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import date

import pytest

from metronome.enrich.visitors import DailySalts, keyed_hash, visitor_id

SALT = b"s" * 32
DAY = date(2026, 11, 22)


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


def test_visitor_id_needs_an_ip_or_an_agent_and_a_salt() -> None:
    assert visitor_id(SALT, "site", None, None) is None
    assert visitor_id(SALT, "site", "", "") is None
    assert visitor_id(b"", "site", "203.0.113.77", "curl/8") is None
    assert visitor_id(SALT, "site", "203.0.113.77", None) == keyed_hash(
        SALT, "site\x00203.0.113.77\x00"
    )


def test_visitor_id_fields_are_separated_so_they_cannot_run_together() -> None:
    assert visitor_id(SALT, "a", "1.2.3.4", "b") != visitor_id(SALT, "a1", ".2.3.4", "b")
