"""The session cookie's codec and lifetimes (metronome.web.sessions), without a server."""

from __future__ import annotations

import pytest

from metronome.config import ConfigError, Limit, settings_from_mapping
from metronome.web.ratelimit.buckets import Buckets
from metronome.web.sessions import (
    Claims,
    SessionBook,
    SessionKeys,
    csrf_matches,
    decode,
    encode,
    fingerprint,
    renewed,
    sign_in,
)

KEY = "sk_unit_read_0001"
SECRET = b"0123456789abcdef" * 4
HOUR, DAY = 3600, 86400
NOW = 1_800_000_000


def book(read_keys: dict[str, list[str]] | None = None, secret: bytes = SECRET) -> SessionBook:
    keys = read_keys if read_keys is not None else {"shop": [KEY], "blog": [KEY, "sk_other_01"]}
    return SessionBook(secret, keys, 12 * HOUR, 7 * DAY, Buckets(Limit(0, 1), 100))


def test_a_key_opens_every_site_it_reads_and_nothing_else() -> None:
    claims = book().start(KEY, NOW)
    assert claims is not None
    assert claims.sites == ("blog", "shop")
    assert claims.expires == NOW + 12 * HOUR
    assert book().start("sk_unknown_01", NOW) is None
    assert book().start("", NOW) is None


def test_the_cookie_round_trips_and_holds_no_key() -> None:
    sessions = book()
    claims = sessions.start(KEY, NOW)
    assert claims is not None
    cookie = sessions.encode(claims)
    assert KEY not in cookie
    assert sessions.read(cookie, NOW + 1) == claims
    assert claims.fingerprint == fingerprint(sessions.keys, KEY)
    assert KEY not in claims.fingerprint


def test_a_fingerprint_depends_on_the_secret() -> None:
    one, two = SessionKeys.derive(SECRET), SessionKeys.derive(SECRET[::-1])
    assert fingerprint(one, KEY) != fingerprint(two, KEY)
    assert fingerprint(one, KEY) != fingerprint(one, KEY + "x")


def test_an_edited_truncated_or_foreign_cookie_is_no_session() -> None:
    sessions = book()
    claims = sessions.start(KEY, NOW)
    assert claims is not None
    cookie = sessions.encode(claims)
    version, body, signature = cookie.split(".")
    for bad in (
        cookie[:-1],
        f"{version}.{body}A.{signature}",
        f"v2.{body}.{signature}",
        f"{version}.{body}",
        f"{version}.{body}.{signature}.x",
        f"{version}.{body}.é{signature}",
        book(secret=SECRET[::-1]).encode(claims),
        "",
        "." * 2,
        "v1." + "A" * 4000 + ".x",
    ):
        assert sessions.read(bad, NOW) is None, bad


def test_well_signed_claims_of_the_wrong_shape_are_no_session() -> None:
    keys = SessionKeys.derive(SECRET)
    for sites in ((), (1,)):
        claims = Claims(sites, "ab", NOW, NOW + HOUR, "csrf")  # type: ignore[arg-type]
        assert decode(encode(claims, keys), keys, NOW, 7 * DAY) is None
    assert decode(encode(Claims(("s",), "ab", NOW, NOW + HOUR, ""), keys), keys, NOW, DAY) is None


def test_a_session_ends_at_its_expiry_and_at_most_max_age_after_sign_in() -> None:
    sessions = book()
    claims = sessions.start(KEY, NOW)
    assert claims is not None
    cookie = sessions.encode(claims)
    assert sessions.read(cookie, claims.expires - 1) is not None
    assert sessions.read(cookie, claims.expires) is None
    long_lived = Claims(claims.sites, claims.fingerprint, NOW, NOW + 30 * DAY, claims.csrf)
    stretched = sessions.encode(long_lived)  # as if signed with a longer ttl
    assert sessions.read(stretched, NOW + 7 * DAY - 1) is not None
    assert sessions.read(stretched, NOW + 7 * DAY) is None
    future = Claims(claims.sites, claims.fingerprint, NOW + DAY, NOW + 2 * DAY, claims.csrf)
    assert sessions.read(sessions.encode(future), NOW) is None


def test_use_slides_the_expiry_up_to_the_absolute_end() -> None:
    sessions = book()
    claims = sessions.start(KEY, NOW)
    assert claims is not None
    assert sessions.renewal(claims, NOW + 30) is None  # less than a minute gained: no cookie
    later = sessions.renewal(claims, NOW + 2 * HOUR)
    assert later is not None
    assert later.expires == NOW + 14 * HOUR
    assert (later.csrf, later.issued, later.sites) == (claims.csrf, claims.issued, claims.sites)
    last = renewed(claims, NOW + 7 * DAY - HOUR, 12 * HOUR, 7 * DAY)
    assert last.expires == NOW + 7 * DAY
    assert sessions.renewal(last, NOW + 7 * DAY - 10) is None  # at its end: nothing to gain


def test_a_key_removed_from_the_configuration_ends_or_narrows_its_sessions() -> None:
    claims = book().start(KEY, NOW)
    assert claims is not None
    cookie = book().encode(claims)
    narrowed = book({"shop": ["sk_rotated_01"], "blog": [KEY]}).read(cookie, NOW)
    assert narrowed is not None and narrowed.sites == ("blog",)
    assert book({"shop": ["sk_rotated_01"], "blog": ["sk_other_01"]}).read(cookie, NOW) is None
    # A new site given the same key later is not added to a session signed before.
    wider = book({"shop": [KEY], "blog": [KEY], "new": [KEY]}).read(cookie, NOW)
    assert wider is not None and wider.sites == ("blog", "shop")


def test_the_csrf_token_is_random_and_compared_exactly() -> None:
    one = sign_in("ab", ["s"], NOW, HOUR, DAY)
    two = sign_in("ab", ["s"], NOW, HOUR, DAY)
    assert one.csrf != two.csrf and len(one.csrf) >= 40
    assert csrf_matches(one, one.csrf)
    assert not csrf_matches(one, two.csrf)
    assert not csrf_matches(one, None)
    assert not csrf_matches(one, "")
    assert not csrf_matches(one, one.csrf + "\udcff")


def test_session_settings_are_checked() -> None:
    settings = settings_from_mapping({"sessions": {"ttl_hours": 2, "max_days": 1}})
    assert settings.sessions.ttl_hours == 2
    assert settings.sessions.failed_sign_ins.burst == 10
    with pytest.raises(ConfigError, match="ttl_hours"):
        settings_from_mapping({"sessions": {"ttl_hours": 48, "max_days": 1}})
    with pytest.raises(ConfigError, match="secret"):
        settings_from_mapping({"sessions": {"secret": "short"}})
    assert "hunter2" not in repr(settings_from_mapping({"sessions": {"secret": "hunter2" * 5}}))
