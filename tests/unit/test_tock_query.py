from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.errors import ApiError
from metronome.query.tock import build_tock_body, parse_tock, tock_result

NOW = datetime(2015, 1, 22, 13, 5, tzinfo=UTC)


def test_default_range_is_the_last_30_days_including_today() -> None:
    query = parse_tock("d", "default", {}, NOW)
    assert len(query.buckets) == 30
    assert query.end == datetime(2015, 1, 23, tzinfo=UTC)
    assert query.start == datetime(2014, 12, 24, tzinfo=UTC)


def test_body_filters_site_item_and_range_and_uses_calendar_buckets() -> None:
    query = parse_tock(
        "d", "shop", {"from": "2015-01-01", "to": "2015-02-01", "tz": "Europe/Warsaw"}, NOW
    )
    body = build_tock_body(query)
    filters = body["query"]["bool"]["filter"]
    assert {"term": {"site": "shop"}} in filters
    assert {"term": {"id": "d"}} in filters
    assert filters[2]["range"]["@timestamp"] == {
        "gte": "2015-01-01T00:00:00+01:00",
        "lt": "2015-02-01T00:00:00+01:00",
    }
    histogram = body["aggs"]["views"]["aggs"]["per_bucket"]["date_histogram"]
    assert histogram["calendar_interval"] == "day"
    assert histogram["time_zone"] == "Europe/Warsaw"


def test_result_zero_fills_and_keeps_the_original_shape() -> None:
    query = parse_tock("d", "default", {"from": "2015-01-20", "to": "2015-01-23"}, NOW)
    response: dict[str, Any] = {
        "aggregations": {
            "views": {
                "doc_count": 5,
                "per_bucket": {"buckets": [{"key": 1421884800000, "doc_count": 5}]},
                "referers": {"buckets": [{"key": "arcgis.com", "doc_count": 4}]},
            },
            "downloads": {"doc_count": 3, "formats": {"buckets": [{"key": "csv", "doc_count": 3}]}},
            "visitors": {"value": 2},
        }
    }
    result = tock_result(query, response)
    assert list(result) == [
        "id",
        "views",
        "downloads",
        "referers",
        "totals",
        "from",
        "to",
        "interval",
        "tz",
        "meta",
    ]
    assert result["meta"] == {"source": "raw"}  # unique visitors: never from rollups
    assert result["views"] == {"2015-01-20": 0, "2015-01-21": 0, "2015-01-22": 5}
    assert result["downloads"] == {"csv": 3}
    assert result["referers"] == {"arcgis.com": 4}
    assert result["totals"] == {"views": 5, "downloads": 3, "visitors": 2}


@pytest.mark.parametrize(
    ("args", "status", "code"),
    [
        ({"interval": "fortnight"}, 400, "invalid_interval"),
        ({"from": "2015-02-01", "to": "2015-01-01"}, 422, "invalid_range"),
        ({"from": "2015-01-01", "to": "2015-01-01"}, 422, "invalid_range"),
        ({"from": "2000-01-01", "to": "2015-01-01", "interval": "minute"}, 422, "too_many_buckets"),
        ({"from": "soon"}, 400, "invalid_date"),
        ({"tz": "Nowhere/City"}, 400, "invalid_tz"),
        ({"top": "0"}, 400, "invalid_top"),
        ({"top": "ten"}, 400, "invalid_top"),
        ({"from": "now-999999y"}, 422, "impossible_date"),
        ({"from": "0001-01-01", "to": "0001-02-01", "compare": "year"}, 422, "impossible_date"),
        ({"tz": ""}, 400, "invalid_tz"),
    ],
)
def test_bad_parameters_are_refused(args: dict[str, str], status: int, code: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_tock("d", "default", args, NOW)
    assert (caught.value.status, caught.value.code) == (status, code)
