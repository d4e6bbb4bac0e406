"""Log events as documents of the logs stream: fields, web requests, items, stable ids."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import REGISTRY

from metronome.enrich.visitors import DailySalts
from metronome.hits.eventtime import EventTimeError
from metronome.logs.bodies import BadRecord, log_events, parse_time
from metronome.logs.events import LogEvent
from metronome.logs.forward import ForwardCounters
from metronome.logs.forward.metrics import CounterMirror
from metronome.logs.items import compile_rule, item_of
from metronome.logs.records import LogContext, log_entry

RULES = (
    compile_rule(r"/datasets/(?P<id>[^/]+)\.(?P<format>csv|kml|shp)"),
    compile_rule(r"/datasets/(?P<id>[^/.]+)"),
)
CONTEXT = LogContext(site="default", rules=RULES, ip_mode="truncate", salts=DailySalts(b"k" * 32))
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
LINE = (
    '203.0.113.7 - - [22/Nov/2026:10:15:32 +0100] "GET /datasets/42.csv?dl=1 HTTP/1.1" 200 5120 '
    '"https://example.org/blog/post" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 '
    '(KHTML, like Gecko) Chrome/120.0 Safari/537.36"'
)


def event(record: dict[str, object], key: str = "", tag: str = "nginx.access") -> LogEvent:
    return LogEvent(tag=tag, time=NOW, record=record, input="forward", key=key)


def test_an_access_line_becomes_a_counted_download() -> None:
    doc = log_entry(event({"message": LINE, "hostname": "web-1"}), CONTEXT, NOW).doc
    assert doc["@timestamp"] == "2026-11-22T09:15:32.000Z"  # the line's own time, in UTC
    assert (doc["type"], doc["site"], doc["tag"], doc["hostname"]) == (
        "logs",
        "default",
        "nginx.access",
        "web-1",
    )
    assert doc["message"] == LINE.replace("?dl=1", "")  # as url.full: no query it does not keep
    assert doc["http"] == {"method": "GET", "status": 200, "bytes": 5120, "version": "HTTP/1.1"}
    assert doc["url"] == {"full": "/datasets/42.csv", "path": "/datasets/42.csv"}
    assert doc["referrer"]["host"] == "example.org"
    assert doc["user_agent"]["name"] == "Chrome" and doc["bot"] is False
    assert doc["client_ip"] == "203.0.113.0"  # never stored raw by default
    assert (doc["id"], doc["event"], doc["format"]) == ("42", "download", "csv")
    assert isinstance(doc["visitor"], str)


def test_a_logged_request_keeps_no_token_in_url_referrer_or_line() -> None:
    line = (
        '203.0.113.7 - - [22/Nov/2026:10:15:32 +0100] "GET /reset?token=s3cret&utm_source=mail '
        'HTTP/1.1" 200 512 "https://example.org/login?email=a%40b.org#x" "curl/8.0"'
    )
    doc = log_entry(event({"message": line}), CONTEXT, NOW).doc
    assert doc["url"] == {
        "full": "/reset?utm_source=mail",
        "path": "/reset",
        "query": "utm_source=mail",
    }
    assert doc["referrer"]["full"] == "https://example.org/login"
    assert "/reset?utm_source=mail HTTP/1.1" in doc["message"]
    for secret in ("s3cret", "a%40b.org"):
        assert secret not in str(doc)
    keep_all = LogContext("default", RULES, "truncate", DailySalts(b"k" * 32), keep_query=("*",))
    kept = log_entry(event({"message": line}), keep_all, NOW).doc
    assert kept["message"] == line.replace("#x", "")  # a fragment is never kept


def test_a_logged_user_agent_is_stored_cut_like_a_hits() -> None:
    agent = "Mozilla/5.0 (X11; Linux x86_64) " + "x" * 1000
    line = f'203.0.113.7 - - [22/Nov/2026:10:15:32 +0100] "GET / HTTP/1.1" 200 5 "-" "{agent}"'
    doc = log_entry(event({"message": line}), CONTEXT, NOW).doc
    assert doc["user_agent"]["original"] == agent[:512]


@pytest.mark.parametrize(
    ("method", "path", "status", "expected"),
    [
        ("GET", "/datasets/42", 200, ("42", "view", None)),
        ("GET", "/datasets/42.kml", 304, ("42", "download", "kml")),
        ("GET", "/datasets/my%20data.shp", 200, ("my data", "download", "shp")),
        ("HEAD", "/datasets/42.csv", 200, None),  # not a download
        ("GET", "/datasets/42.csv", 206, None),  # a range request: its 200 counts
        ("GET", "/datasets/42.csv", 404, None),
        ("GET", "/about", 200, None),
    ],
)
def test_which_requests_count_for_an_item(
    method: str, path: str, status: int, expected: tuple[str, str, str | None] | None
) -> None:
    item = item_of(RULES, method, path, status)
    assert (None if item is None else (item.id, item.event, item.format)) == expected


def test_a_rule_needs_an_id_group() -> None:
    with pytest.raises(ValueError, match="id"):
        compile_rule(r"/datasets/(?P<name>.+)")


def test_record_fields_that_collide_with_document_fields_are_kept_aside() -> None:
    doc = log_entry(
        event({"type": "app", "site": "x", "level": "info", "msg": "ok"}), CONTEXT, NOW
    ).doc
    assert (doc["type"], doc["site"], doc["level"]) == ("logs", "default", "info")
    assert doc["record"] == {"type": "app", "site": "x"}
    assert doc["@timestamp"] == "2026-11-22T12:00:00.000Z" and "http" not in doc


def test_parser_fields_become_the_web_request_instead_of_staying_loose() -> None:
    record = {"host": "192.168.0.1", "user": None, "method": "GET", "path": "/datasets/7"}
    doc = log_entry(
        event({**record, "code": 200, "size": 10, "referer": None, "agent": "x"}), CONTEXT, NOW
    ).doc
    assert not {"host", "method", "path", "code"} & doc.keys()
    assert (doc["id"], doc["event"], doc["http"]["status"]) == ("7", "view", 200)


def test_ids_are_deterministic_so_a_resend_is_stored_once() -> None:
    first = log_entry(event({"message": "a"}, key="chunk-1:0"), CONTEXT, NOW)
    again = log_entry(event({"message": "a"}, key="chunk-1:0"), CONTEXT, NOW)
    other_position = log_entry(event({"message": "a"}, key="chunk-1:1"), CONTEXT, NOW)
    assert first.id == again.id != other_position.id
    other_tag = log_entry(event({"message": "a"}, key="chunk-1:0", tag="other"), CONTEXT, NOW)
    assert other_tag.id != first.id


def test_without_a_key_identical_lines_are_distinct_requests() -> None:
    # Message mode has no chunk: two identical lines in one second are two real requests.
    same = [log_entry(event({"message": LINE}), CONTEXT, NOW).id for _ in range(2)]
    assert same[0] != same[1]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1398282091.5, datetime(2014, 4, 23, 19, 41, 31, 500000, tzinfo=UTC)),  # double
        (1398282091, datetime(2014, 4, 23, 19, 41, 31, tzinfo=UTC)),  # epoch
        (1398282091500, datetime(2014, 4, 23, 19, 41, 31, 500000, tzinfo=UTC)),  # epoch_ms
        ("2018-05-30T09:39:52.000681Z", datetime(2018, 5, 30, 9, 39, 52, 681, tzinfo=UTC)),
        ("2018-05-30 09:39:52.000681", datetime(2018, 5, 30, 9, 39, 52, 681, tzinfo=UTC)),
        ("2018-05-30T11:39:52+02:00", datetime(2018, 5, 30, 9, 39, 52, tzinfo=UTC)),
        ("yesterday", None),
        (True, None),
    ],
)
def test_fluent_bit_and_fluentd_time_values(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize("value", [10**30, 1398282091500000, 42, -1398282091, 0])
def test_a_number_the_epoch_rule_cannot_read_rejects_its_record_naming_the_key(
    value: int,
) -> None:
    with pytest.raises(EventTimeError):
        parse_time(value)
    events, rejected = log_events([{"log": "x", "time": value}, {"log": "y"}], "app", NOW, "k")
    assert [e.record for e in events] == [{"log": "y"}]
    [refused] = rejected
    assert refused["index"] == 0
    assert (refused["error"]["code"], refused["error"]["field"]) == ("ambiguous_time", "time")
    assert "epoch seconds below 1e11" in refused["error"]["message"]


def test_the_time_key_sets_the_event_time_and_leaves_the_record() -> None:
    events, rejected = log_events(
        [{"date": 1398282091.0, "log": "x"}, BadRecord("no"), {"log": "y"}], "app", NOW, "http:d"
    )
    assert [e.record for e in events] == [{"log": "x"}, {"log": "y"}]
    assert events[0].time == datetime(2014, 4, 23, 19, 41, 31, tzinfo=UTC)
    assert events[1].time == NOW
    assert [e.key for e in events] == ["http:d:0", "http:d:2"]
    assert rejected == [{"index": 1, "error": {"code": "invalid_record", "message": "no"}}]


def test_forward_counters_reach_prometheus_as_growth_only() -> None:
    def value(what: str) -> float:
        found = REGISTRY.get_sample_value("metronome_forward_total", {"what": what})
        return found or 0.0

    before = value("acks")
    mirror, counters = CounterMirror(), ForwardCounters()
    counters.acks = 3
    mirror(counters)
    mirror(counters)  # nothing new: nothing added
    counters.acks = 5
    mirror(counters)
    assert value("acks") - before == 5
