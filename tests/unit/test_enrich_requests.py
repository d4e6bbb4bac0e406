"""The web-request fields server logs and S3 access logs share (``metronome.enrich.requests``)."""

from __future__ import annotations

from metronome.enrich.requests import web_request_fields
from metronome.enrich.useragent import UA_MAX_CHARS

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0"


def test_http_holds_only_what_the_log_has() -> None:
    fields = web_request_fields(method="GET", status=304, version="HTTP/1.1")
    assert fields == {"http": {"method": "GET", "status": 304, "version": "HTTP/1.1"}}


def test_target_referrer_and_agent_become_url_referrer_user_agent_and_bot() -> None:
    fields = web_request_fields(
        method="GET",
        status=200,
        bytes_sent=512,
        target="/reset?token=s3cret&ref=mail",
        referrer="https://www.example.org/login?email=a%40b.org#x",
        user_agent=FIREFOX,
    )
    assert fields["http"] == {"method": "GET", "status": 200, "bytes": 512}
    assert fields["url"] == {"full": "/reset?ref=mail", "path": "/reset", "query": "ref=mail"}
    assert fields["referrer"] == {
        "full": "https://www.example.org/login",
        "host": "example.org",
        "page": "example.org/login",
        "path": "/login",
    }
    assert (fields["user_agent"]["name"], fields["bot"]) == ("Firefox", False)


def test_a_referrer_can_be_split_as_logged() -> None:
    referrer = "https://example.org/a?q=1"
    fields = web_request_fields(method="GET", status=200, referrer=referrer, clean_referrer=False)
    assert fields["referrer"]["full"] == referrer


def test_the_user_agent_is_cut_like_a_hits_and_a_blank_one_is_left_out() -> None:
    long = web_request_fields(method="GET", status=200, user_agent=FIREFOX + "x" * 1000)
    assert long["user_agent"]["original"] == (FIREFOX + "x" * 1000)[:UA_MAX_CHARS]
    blank = web_request_fields(method="GET", status=200, user_agent="  ")
    assert "user_agent" not in blank and "bot" not in blank
