from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from metronome.errors import ApiError
from metronome.query.builder import composite_body, escape_wildcard, filter_clause, metric_aggs
from metronome.query.catalog import FieldKind, field_kinds
from metronome.query.compare import bucket_pairs, change_percent, compare_range
from metronome.query.model import Filter, Metric, TimeRange
from metronome.query.parse import parse_query

NOW = datetime(2015, 3, 15, 12, tzinfo=UTC)
FIELDS: dict[str, FieldKind] = {
    "@timestamp": "date",
    "event": "keyword",
    "format": "keyword",
    "referrer.host": "keyword",
    "price": "number",
    "message": "text",
    "message.keyword": "keyword",
    "bot": "boolean",
}


def parse(**body: Any) -> Any:
    return parse_query({"metrics": ["count"], **body}, "default", FIELDS, NOW)[0]


def test_named_ranges_are_whole_local_days() -> None:
    query = parse(date_range="7d", tz="Europe/Warsaw")
    assert query.range.start.isoformat() == "2015-03-09T00:00:00+01:00"
    assert query.range.end.isoformat() == "2015-03-16T00:00:00+01:00"
    month = parse(date_range="month")
    assert (month.range.start.day, month.range.end.month) == (1, 4)


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("yesterday", "2015-03-14T00:00:00+01:00", "2015-03-15T00:00:00+01:00"),
        ("last_month", "2015-02-01T00:00:00+01:00", "2015-03-01T00:00:00+01:00"),
        ("last_year", "2014-01-01T00:00:00+01:00", "2015-01-01T00:00:00+01:00"),
        ("90d", "2014-12-16T00:00:00+01:00", "2015-03-16T00:00:00+01:00"),
        ("12mo", "2014-04-01T00:00:00+02:00", "2015-04-01T00:00:00+02:00"),
        ("1mo", "2015-03-01T00:00:00+01:00", "2015-04-01T00:00:00+02:00"),
    ],
)
def test_the_time_pickers_named_ranges(name: str, start: str, end: str) -> None:
    query = parse(date_range=name, tz="Europe/Warsaw")
    assert (query.range.start.isoformat(), query.range.end.isoformat()) == (start, end)


def test_the_last_minutes_and_hours_end_with_the_current_one() -> None:
    minutes = parse(date_range="30m")
    assert minutes.range.end - minutes.range.start == timedelta(minutes=30)
    assert minutes.range.start <= NOW < minutes.range.end
    assert minutes.range.end == NOW.replace(second=0, microsecond=0) + timedelta(minutes=1)
    hours = parse(date_range="24h")
    assert hours.range.end - hours.range.start == timedelta(hours=24)
    for too_long in ("1441m", "169h", "121mo", "0m", "30s"):
        with pytest.raises(ApiError) as caught:
            parse(date_range=too_long)
        assert caught.value.status == 422


def test_metrics_dimensions_and_filters_are_typed() -> None:
    query = parse(
        metrics=["count", "sum:price", "p95:price", "visitors"],
        dimensions=["time:week", "referrer.host"],
        filters=[["is", "event", ["download"]], ["contains", "format", "cs"]],
        order_by=[["count", "desc"]],
    )
    assert [m.name for m in query.metrics] == ["count", "sum:price", "p95:price", "visitors"]
    assert [d.name for d in query.dimensions] == ["time:week", "referrer.host"]
    assert query.filters[1] == Filter(op="contains", field="format", values=("cs",))
    assert query.approximate  # visitors and percentiles are estimates


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metrics": ["bounces"]}, "metrics"),
        ({"metrics": ["sum"]}, "metrics"),
        ({"metrics": ["sum:format"]}, "metrics"),
        ({"metrics": ["count:price"]}, "metrics"),
        ({"dimensions": ["nope"]}, "dimensions"),
        ({"dimensions": ["message"]}, "dimensions"),
        ({"dimensions": ["time:fortnight"]}, None),
        ({"dimensions": ["time:day", "time:week"]}, "dimensions"),
        ({"filters": [["like", "event", ["x"]]]}, "filters"),
        ({"filters": [["is", "event"]]}, "filters"),
        ({"filters": [["contains", "price", ["1"]]]}, "filters"),
        ({"filters": [["is", "event; DROP", ["x"]]]}, "filters"),
        ({"date_range": ["2015-02-01", "2015-01-01"]}, "date_range"),
        ({"date_range": "forever"}, None),
        ({"date_range": ["2000-01-01", "2015-01-01"], "dimensions": ["time:minute"]}, "dimensions"),
        ({"order_by": [["price", "desc"]]}, None),
        ({"compare": "decade"}, "compare"),
        ({"tz": "Mars/Base"}, "tz"),
        ({"stream": "../etc"}, "stream"),
        ({"limit": 0}, None),
        ({"surprise": 1}, None),
    ],
)
def test_bad_queries_are_422_naming_what_is_wrong(body: dict[str, Any], field: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        parse(**body)
    assert caught.value.status == 422
    assert caught.value.message
    if field:
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"metrics": ["sum:nope"]}, "unknown_field"),
        ({"metrics": ["sum:event"]}, "unsuitable_field"),
        ({"dimensions": ["message"]}, "unsuitable_field"),
        ({"filters": [["contains", "price", ["1"]]]}, "unsuitable_field"),
        ({"date_range": ["2015-02-01", "2015-01-01"]}, "invalid_range"),
        ({"date_range": ["2015-01-01", "now-999999y"]}, "impossible_date"),
        ({"date_range": ["0001-01-01", "0001-02-01"], "compare": "year"}, "impossible_date"),
        (
            {"date_range": ["2000-01-01", "2015-01-01"], "dimensions": ["time:minute"]},
            "too_many_buckets",
        ),
        ({"dimensions": ["time:day", "time:week"]}, "inconsistent_query"),
        ({"dimensions": ["time", "time:day"]}, "inconsistent_query"),
        ({"order_by": [["price", "desc"]]}, "inconsistent_query"),
        ({"metrics": [""]}, "invalid_query"),
        ({"date_range": "030d"}, "invalid_query"),
    ],
)  # fmt: skip
def test_what_no_schema_can_state_has_its_own_code(body: dict[str, Any], code: str) -> None:
    # /openapi.json states the grammar; these 422s are the rules beyond it, named in its 422
    with pytest.raises(ApiError) as caught:
        parse(**body)
    assert (caught.value.status, caught.value.code) == (422, code)


def test_user_strings_stay_literal_values() -> None:
    clause = filter_clause(Filter(op="contains", field="format", values=("a*b?c\\",)))
    wildcard = clause["bool"]["should"][0]["wildcard"]["format"]
    assert wildcard == {"value": "*a\\*b\\?c\\\\*", "case_insensitive": True}
    assert escape_wildcard("*") == "\\*"
    regexp = filter_clause(Filter(op="matches", field="format", values=("c.v",)))
    assert regexp["bool"]["should"][0]["regexp"]["format"]["flags"] == "NONE"


def test_percentiles_of_one_field_share_one_aggregation() -> None:
    aggs = metric_aggs((Metric("p50", "price"), Metric("p99", "price"), Metric("count")))
    assert aggs == {
        "percentiles:price": {
            "percentiles": {"field": "price", "percents": [50.0, 99.0], "keyed": True}
        }
    }


def test_breakdowns_use_a_pageable_composite_with_the_zone() -> None:
    query = parse(dimensions=["time:day", "format"], tz="Europe/Warsaw")
    body = composite_body(query, query.range, after={"d0": 1, "d1": "csv"})
    composite = body["aggs"]["rows"]["composite"]
    assert composite["after"] == {"d0": 1, "d1": "csv"}
    assert composite["sources"][0]["d0"]["date_histogram"]["time_zone"] == "Europe/Warsaw"
    assert composite["sources"][1]["d1"]["terms"] == {"field": "format", "missing_bucket": True}


UTC_ZONE = ZoneInfo("UTC")


def day(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_previous_of_a_calendar_month_is_the_month_before() -> None:
    march = TimeRange(day("2015-03-01"), day("2015-04-01"))
    assert compare_range(march, "previous", UTC_ZONE) == TimeRange(
        day("2015-02-01"), day("2015-03-01")
    )
    week = TimeRange(day("2015-03-10"), day("2015-03-17"))
    assert compare_range(week, "previous", UTC_ZONE) == TimeRange(
        day("2015-03-03"), day("2015-03-10")
    )


def test_year_over_year_of_a_leap_day_clamps() -> None:
    leap = TimeRange(day("2016-02-29"), day("2016-03-01"))
    assert compare_range(leap, "year", UTC_ZONE).start == day("2015-02-28")


def test_month_over_month_matches_buckets_by_calendar_day() -> None:
    main = [day("2015-03-30"), day("2015-03-31")]
    pairs = bucket_pairs(main, [], "month", "day", UTC_ZONE)
    assert pairs == {day("2015-03-30"): day("2015-02-28"), day("2015-03-31"): day("2015-02-28")}


def test_previous_matches_buckets_by_position() -> None:
    main = [day("2015-03-01"), day("2015-03-02")]
    before = [day("2015-02-27"), day("2015-02-28")]
    assert bucket_pairs(main, before, "previous", "day", UTC_ZONE) == dict(
        zip(main, before, strict=True)
    )


def test_change_percent() -> None:
    assert change_percent(150, 100) == 50.0
    assert change_percent(0, 10) == -100.0
    assert change_percent(5, 0) is None


def test_catalog_flattens_objects_and_sub_fields() -> None:
    kinds = field_kinds(
        {
            "referrer": {"properties": {"host": {"type": "keyword"}}},
            "message": {"type": "text", "fields": {"keyword": {"type": "keyword"}}},
            "price": {"type": "double"},
        }
    )
    assert kinds == {
        "referrer.host": "keyword",
        "message": "text",
        "message.keyword": "keyword",
        "price": "number",
    }
