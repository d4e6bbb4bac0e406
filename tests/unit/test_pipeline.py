from __future__ import annotations

import hashlib
import hmac
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from metronome.hits.definition import load_hit
from metronome.hits.pipeline import (
    STEPS,
    HitContext,
    enrich,
    put_bot,
    put_client_ip,
    put_user_agent,
    put_visitor,
)

RECEIVED = datetime(2026, 11, 22, 10, 0, 0, 123000, tzinfo=UTC)
CTX = HitContext(site="default", received_at=RECEIVED)


def test_a_hit_becomes_a_logstash_document() -> None:
    doc = enrich(load_hit({"id": "dataset-42", "key": "secret-key-1"}), CTX)
    assert doc["@timestamp"] == "2026-11-22T10:00:00.123Z"
    assert doc["@version"] == "1"
    assert doc["type"] == "hits"
    assert doc["site"] == "default"
    assert doc["received_at"] == "2026-11-22T10:00:00.123Z"
    assert len(doc["hit_id"]) == 32
    assert "key" not in doc


def test_event_time_becomes_the_timestamp() -> None:
    doc = enrich(load_hit({"id": "x", "time": "2015-01-22T13:05:00+01:00"}), CTX)
    assert doc["@timestamp"] == "2015-01-22T12:05:00.000Z"
    assert "time" not in doc


def test_a_client_hit_id_is_kept() -> None:
    doc = enrich(load_hit({"id": "x", "hit_id": "abc-1"}), CTX)
    assert doc["hit_id"] == "abc-1"


def test_stored_urls_lose_fragments_and_parameters_not_kept() -> None:
    hit = {
        "id": "reset",
        "url": "https://shop.example.org/reset?token=s3cret&utm_campaign=spring#access_token=t0k",
        "referrer": "https://mail.example.com/inbox?email=a%40b.org",
    }
    doc = enrich(load_hit(hit), CTX)
    assert doc["url"]["full"] == "https://shop.example.org/reset?utm_campaign=spring"
    assert doc["url"]["path"] == "/reset"
    assert doc["referrer"]["full"] == "https://mail.example.com/inbox"
    for secret in ("s3cret", "t0k", "a%40b.org"):
        assert secret not in str(doc)
    kept = enrich(load_hit(hit), replace(CTX, keep_query=("*",)))
    assert kept["url"]["full"] == "https://shop.example.org/reset?token=s3cret&utm_campaign=spring"


def test_enrich_does_not_modify_its_input() -> None:
    hit = load_hit({"id": "x", "url": "https://a.org/p"})
    enrich(hit, CTX)
    assert hit["url"] == "https://a.org/p"


# --- user agent, bot, visitor and client IP ------------------------------------------------

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
IPAD_SAFARI = (
    "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEADLESS = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/126.0.0.0 Safari/537.36"
)
CUBOT_PHONE = (
    "Mozilla/5.0 (Linux; Android 10; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Mobile Safari/537.36"
)
SALT_DAY_1 = b"salt-of-2026-11-22".ljust(32, b"-")
SALT_DAY_2 = b"salt-of-2026-11-23".ljust(32, b"-")


def agent_field(user_agent: str) -> dict[str, str]:
    doc = put_user_agent({}, replace(CTX, user_agent=user_agent))
    field: dict[str, str] = doc["user_agent"]
    return field


def test_existing_callers_get_privacy_safe_defaults() -> None:
    assert CTX.user_agent is None
    assert CTX.client_ip is None
    assert CTX.ip_mode == "truncate"
    assert CTX.salt == b""


def test_new_steps_run_after_the_existing_ones_visitor_before_client_ip() -> None:
    assert STEPS[-4:] == (put_user_agent, put_bot, put_visitor, put_client_ip)


def test_desktop_chrome_is_parsed_into_name_version_os_and_device() -> None:
    assert agent_field(CHROME_WINDOWS) == {
        "original": CHROME_WINDOWS,
        "name": "Chrome",
        "version": "126.0.0.0",
        "os": "Windows",
        "os_version": "10",
        "device": "desktop",
    }


def test_iphone_safari_is_a_mobile() -> None:
    field = agent_field(IPHONE_SAFARI)
    assert field["name"] == "Mobile Safari"
    assert field["version"] == "17.5"
    assert (field["os"], field["os_version"]) == ("iOS", "17.5")
    assert field["device"] == "mobile"


def test_ipad_and_android_without_mobile_token_are_tablets() -> None:
    assert agent_field(IPAD_SAFARI)["device"] == "tablet"
    assert agent_field(ANDROID_TABLET)["device"] == "tablet"


def test_googlebot_is_a_bot_device_without_an_os() -> None:
    assert agent_field(GOOGLEBOT) == {
        "original": GOOGLEBOT,
        "name": "Googlebot",
        "version": "2.1",
        "device": "bot",
    }


def test_curl_is_a_bot_device() -> None:
    assert agent_field("curl/8.5.0") == {
        "original": "curl/8.5.0",
        "name": "curl",
        "version": "8.5.0",
        "device": "bot",
    }


def test_an_unknown_agent_keeps_only_original_and_device_other() -> None:
    assert agent_field("garbage") == {"original": "garbage", "device": "other"}


def test_the_stored_user_agent_is_cut_to_512_characters() -> None:
    assert (
        agent_field(CHROME_WINDOWS + "x" * 1000)["original"] == (CHROME_WINDOWS + "x" * 1000)[:512]
    )


def test_no_or_blank_user_agent_stores_no_user_agent_field() -> None:
    assert "user_agent" not in put_user_agent({}, CTX)
    assert "user_agent" not in put_user_agent({}, replace(CTX, user_agent="  "))


def test_the_cached_result_is_not_shared_between_documents() -> None:
    first = agent_field(CHROME_WINDOWS)
    first["name"] = "changed"
    assert agent_field(CHROME_WINDOWS)["name"] == "Chrome"


@pytest.mark.parametrize(
    "user_agent",
    [
        GOOGLEBOT,
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Yahoo! Slurp; http://help.yahoo.com/help/us/ysearch/slurp)",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        HEADLESS,
        "UptimeRobot/2.0",
        "Pingdom.com_bot_version_1.4_(http://www.pingdom.com/)",
        "SomeCrawler/1.0",
    ],
)
def test_crawlers_scripts_headless_browsers_and_monitors_are_bots(user_agent: str) -> None:
    assert put_bot({}, replace(CTX, user_agent=user_agent))["bot"] is True


@pytest.mark.parametrize(
    "user_agent", [CHROME_WINDOWS, IPHONE_SAFARI, IPAD_SAFARI, ANDROID_TABLET, CUBOT_PHONE]
)
def test_browsers_are_not_bots(user_agent: str) -> None:
    assert put_bot({}, replace(CTX, user_agent=user_agent))["bot"] is False


def test_a_hit_without_user_agent_is_not_flagged_as_bot() -> None:
    assert put_bot({}, CTX)["bot"] is False


def test_client_ip_is_truncated_by_default() -> None:
    assert put_client_ip({}, replace(CTX, client_ip="203.0.113.77"))["client_ip"] == "203.0.113.0"


def test_ipv6_is_truncated_to_its_48_bit_prefix() -> None:
    ctx = replace(CTX, client_ip="2001:db8:abcd:12:34::1")
    assert put_client_ip({}, ctx)["client_ip"] == "2001:db8:abcd::"


def test_dropped_ip_mode_stores_no_client_ip() -> None:
    ctx = replace(CTX, client_ip="203.0.113.77", ip_mode="drop")
    assert "client_ip" not in put_client_ip({}, ctx)


def test_hashed_ip_is_stable_within_a_day_and_changes_across_days() -> None:
    day_1 = replace(CTX, client_ip="203.0.113.77", ip_mode="hash", salt=SALT_DAY_1)
    day_2 = replace(day_1, salt=SALT_DAY_2)
    hashed = put_client_ip({}, day_1)["client_ip"]
    assert hashed == put_client_ip({}, day_1)["client_ip"]
    assert hashed != put_client_ip({}, day_2)["client_ip"]
    assert len(hashed) == 16
    assert "203.0.113" not in hashed


def test_full_ip_mode_keeps_the_address() -> None:
    ctx = replace(CTX, client_ip="203.0.113.77", ip_mode="full")
    assert put_client_ip({}, ctx)["client_ip"] == "203.0.113.77"


def test_invalid_ip_text_stores_no_client_ip() -> None:
    for mode in ("truncate", "hash", "full"):
        ctx = replace(CTX, client_ip="not-an-ip", ip_mode=mode, salt=SALT_DAY_1)
        assert "client_ip" not in put_client_ip({}, ctx)


def test_a_client_sent_client_ip_is_never_stored() -> None:
    ctx = replace(CTX, client_ip="203.0.113.77", ip_mode="drop")
    assert "client_ip" not in put_client_ip({"client_ip": "198.51.100.1"}, ctx)


def test_the_raw_ip_appears_nowhere_in_an_enriched_document_by_default() -> None:
    ctx = replace(CTX, client_ip="203.0.113.77", user_agent=CHROME_WINDOWS, salt=SALT_DAY_1)
    doc = enrich(load_hit({"id": "x"}), ctx)
    assert "203.0.113.77" not in repr(doc)
    assert doc["client_ip"] == "203.0.113.0"


def visitor_of(site: str = "default", salt: bytes = SALT_DAY_1) -> str:
    ctx = replace(CTX, site=site, salt=salt, client_ip="203.0.113.77", user_agent=CHROME_WINDOWS)
    visitor: str = put_visitor({}, ctx)["visitor"]
    return visitor


def test_cookieless_visitor_is_a_16_hex_daily_hash_of_site_ip_and_agent() -> None:
    expected = hmac.new(
        SALT_DAY_1, f"default\x00203.0.113.77\x00{CHROME_WINDOWS}".encode(), hashlib.sha256
    ).hexdigest()[:16]
    assert visitor_of() == expected


def test_cookieless_visitor_is_stable_within_a_day() -> None:
    assert visitor_of() == visitor_of()


def test_cookieless_visitor_differs_across_sites_and_days() -> None:
    assert visitor_of() != visitor_of(site="other-site")
    assert visitor_of() != visitor_of(salt=SALT_DAY_2)


def test_a_client_sent_visitor_is_kept() -> None:
    ctx = replace(CTX, salt=SALT_DAY_1, client_ip="203.0.113.77", user_agent=CHROME_WINDOWS)
    assert put_visitor({"visitor": "v-123"}, ctx)["visitor"] == "v-123"


def test_ip_alone_or_agent_alone_still_gives_a_visitor() -> None:
    assert "visitor" in put_visitor({}, replace(CTX, salt=SALT_DAY_1, client_ip="203.0.113.77"))
    assert "visitor" in put_visitor({}, replace(CTX, salt=SALT_DAY_1, user_agent=CHROME_WINDOWS))


def test_no_ip_and_no_agent_leaves_visitor_unset() -> None:
    assert "visitor" not in put_visitor({}, replace(CTX, salt=SALT_DAY_1))


def test_without_a_salt_no_visitor_is_made() -> None:
    ctx = replace(CTX, client_ip="203.0.113.77", user_agent=CHROME_WINDOWS)
    assert "visitor" not in put_visitor({}, ctx)
