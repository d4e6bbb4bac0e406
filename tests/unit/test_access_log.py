"""Access-log lines and Fluentd parser records become web requests (docs/server-logs.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from metronome.logs.access_log import WebRequest, from_parser_record, parse_line


def test_an_nginx_combined_line() -> None:
    line = (
        '203.0.113.7 - alice [10/Oct/2024:13:55:36 +0000] "GET /docs?x=1 HTTP/1.1" 200 2326 '
        '"https://ex.com/" "Mozilla/5.0 (X11)"'
    )
    assert parse_line(line) == WebRequest(
        client_ip="203.0.113.7",
        user="alice",
        time=datetime(2024, 10, 10, 13, 55, 36, tzinfo=UTC),
        method="GET",
        path="/docs?x=1",
        protocol="HTTP/1.1",
        status=200,
        bytes=2326,
        referrer="https://ex.com/",
        user_agent="Mozilla/5.0 (X11)",
    )


def test_dashes_are_missing_values_and_the_offset_is_kept() -> None:
    request = parse_line(
        '10.0.0.1 - - [06/Aug/2018:09:57:51 +0800] "HEAD / HTTP/1.0" 304 - "-" "-"'
    )
    assert request is not None
    assert (request.user, request.bytes, request.referrer, request.user_agent) == (None,) * 4
    assert request.time == datetime(2018, 8, 6, 9, 57, 51, tzinfo=timezone(timedelta(hours=8)))
    assert (request.method, request.status) == ("HEAD", 304)


def test_escaped_quotes_of_apache_and_nginx_are_undone() -> None:
    apache = (
        r'1.2.3.4 - - [10/Oct/2024:13:55:36 +0200] "GET /a\"b HTTP/1.1" 404 12 "-" "say \"hi\""'
    )
    nginx = r'1.2.3.4 - - [10/Oct/2024:13:55:36 +0200] "GET /q HTTP/1.1" 200 1 "-" "x\x22y\xC3\xA9"'
    first, second = parse_line(apache), parse_line(nginx)
    assert first is not None and second is not None
    assert (first.path, first.user_agent) == ('/a"b', 'say "hi"')
    assert second.user_agent == 'x"yé'  # \xXX escapes are bytes, read as UTF-8


def test_a_garbage_request_line_is_kept_raw() -> None:
    request = parse_line(r'1.2.3.4 - - [10/Oct/2024:13:55:36 +0000] "\x16\x03\x01" 400 0 "-" "-"')
    assert request is not None
    assert (request.method, request.path, request.request) == (None, None, "\x16\x03\x01")
    assert request.status == 400


def test_the_common_format_has_no_referrer_or_agent() -> None:
    request = parse_line(
        '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /a.gif HTTP/1.0" 200 23'
    )
    assert request is not None
    assert (request.path, request.bytes, request.referrer, request.user_agent) == (
        "/a.gif",
        23,
        None,
        None,
    )


def test_other_lines_are_not_access_logs() -> None:
    for line in (
        "",
        "hello",
        "2026-11-22 12:00:00 ERROR boom",
        '1.2.3.4 - - [bad] "GET / HTTP/1.1" 200 1',
    ):
        assert parse_line(line) is None


def test_fluentd_nginx_parser_records_keep_strings_and_dashes() -> None:
    record = {
        "remote": "203.0.113.7",
        "host": "-",
        "user": "-",
        "method": "GET",
        "path": "/datasets/42.csv",
        "code": "200",
        "size": "5120",
        "referer": "-",
        "agent": "curl/8.0",
        "http_x_forwarded_for": "-",
    }
    request = from_parser_record(record)
    assert request is not None
    assert (request.client_ip, request.user, request.status, request.bytes) == (
        "203.0.113.7",
        None,
        200,
        5120,
    )
    assert (request.referrer, request.user_agent, request.time) == (None, "curl/8.0", None)


def test_fluentd_apache2_parser_records_have_integers_and_nulls() -> None:
    record = {
        "host": "192.168.0.1",
        "user": None,
        "method": "GET",
        "path": "/",
        "code": 200,
        "size": 777,
        "referer": None,
        "agent": "Opera/12.0",
    }
    request = from_parser_record(record)
    assert request is not None
    assert (request.client_ip, request.status, request.bytes, request.user_agent) == (
        "192.168.0.1",
        200,
        777,
        "Opera/12.0",
    )
    assert from_parser_record({"message": "not a request"}) is None
