"""Metric points: what a point may hold, its deterministic id, its document, and the body."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from metronome.config import IngestSettings
from metronome.errors import ApiError
from metronome.points.body import decode_points_body, points_budget
from metronome.points.point import (
    MAX_DIMENSION_VALUE_CHARS,
    MAX_DIMENSIONS,
    Point,
    PointError,
    load_point,
    load_points,
    point_document,
    point_entries,
    point_id,
)

NOW = datetime(2026, 12, 7, 12, 0, 0, 123456, tzinfo=UTC)
GOOD = {
    "metric": "orders",
    "value": 3.5,
    "time": "2026-12-07T10:00:00Z",
    "dimensions": {"region": "eu"},
    "unit": "EUR",
}


def refusal(raw: Any) -> tuple[str, str | None]:
    with pytest.raises(PointError) as caught:
        load_point(raw, NOW)
    return caught.value.code, caught.value.field


def test_a_point_is_read_with_its_time_in_utc_and_its_dimensions_sorted() -> None:
    point = load_point(
        {**GOOD, "time": "2026-12-07T11:00:00.0004+01:00", "dimensions": {"z": 1.0, "a": True}},
        NOW,
    )
    assert point == Point(
        metric="orders",
        value=3.5,
        time=datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
        dimensions=(("a", "true"), ("z", "1")),
        unit="EUR",
    )
    bare = load_point({"metric": "up", "value": 1}, NOW)  # time: when it was received (ms)
    assert (bare.time, bare.dimensions, bare.unit) == (NOW.replace(microsecond=123000), (), None)
    epoch = load_point({"metric": "up", "value": 0, "time": 1_796_637_600}, NOW)
    assert epoch.time == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert load_point({"metric": "node_cpu:rate5m", "value": 2**70}, NOW).value == float(2**70)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"value": 1}, "metric"),
        ({"metric": "", "value": 1}, "metric"),
        ({"metric": "9lives", "value": 1}, "metric"),
        ({"metric": "a b", "value": 1}, "metric"),
        ({"metric": "a" * 201, "value": 1}, "metric"),
        ({"metric": 5, "value": 1}, "metric"),
        ({"metric": "m"}, "value"),
        ({"metric": "m", "value": "1"}, "value"),
        ({"metric": "m", "value": True}, "value"),
        ({"metric": "m", "value": float("nan")}, "value"),
        ({"metric": "m", "value": float("inf")}, "value"),
        ({"metric": "m", "value": 10**400}, "value"),
        ({"metric": "m", "value": 1, "time": "yesterday"}, "time"),
        ({"metric": "m", "value": 1, "time": "2026-12-09T12:00:00Z"}, "time"),  # 2 days ahead
        ({"metric": "m", "value": 1, "time": 5e12}, "time"),  # neither seconds nor millis
        ({"metric": "m", "value": 1, "dimensions": ["a"]}, "dimensions"),
        ({"metric": "m", "value": 1, "dimensions": {"a.b": "x"}}, "dimensions"),
        ({"metric": "m", "value": 1, "dimensions": {"": "x"}}, "dimensions"),
        ({"metric": "m", "value": 1, "dimensions": {"a" * 65: "x"}}, "dimensions"),
        ({"metric": "m", "value": 1, "dimensions": {"a": ""}}, "dimensions.a"),
        ({"metric": "m", "value": 1, "dimensions": {"a": 1.5}}, "dimensions.a"),
        ({"metric": "m", "value": 1, "dimensions": {"a": None}}, "dimensions.a"),
        ({"metric": "m", "value": 1, "dimensions": {"a": {"b": "c"}}}, "dimensions.a"),
        (
            {"metric": "m", "value": 1, "dimensions": {"a": "x" * (MAX_DIMENSION_VALUE_CHARS + 1)}},
            "dimensions.a",
        ),
        (
            {"metric": "m", "value": 1, "dimensions": {f"d{i}": "x" for i in range(33)}},
            "dimensions",
        ),
        ({"metric": "m", "value": 1, "unit": ""}, "unit"),
        ({"metric": "m", "value": 1, "unit": 3}, "unit"),
        ({"metric": "m", "value": 1, "site": "other"}, "site"),
        ({"metric": "m", "value": 1, "time": None}, "time"),
        ({"metric": "m", "value": 1, "dimensions": None}, "dimensions"),
        ({"metric": "m", "value": 1, "unit": None}, "unit"),
    ],
)
def test_a_point_outside_the_rules_is_refused_naming_its_field(raw: Any, field: str) -> None:
    assert refusal(raw) == ("invalid_point", field)


def test_the_limits_hold_at_their_edges() -> None:
    dims = {f"d{i}": "x" * MAX_DIMENSION_VALUE_CHARS for i in range(MAX_DIMENSIONS)}
    point = load_point({"metric": "a" * 200, "value": -1e300, "dimensions": dims}, NOW)
    assert len(point.dimensions) == MAX_DIMENSIONS
    assert refusal([GOOD]) == ("invalid_point", None)


def test_a_batch_keeps_the_good_points_and_lists_the_others_by_position() -> None:
    points, rejected = load_points([GOOD, {"metric": "m"}, "x", {**GOOD, "value": 1}], NOW)
    assert [point.value for point in points] == [3.5]
    assert [(item["index"], item["error"]["code"]) for item in rejected] == [
        (1, "invalid_point"),
        (2, "invalid_point"),
        (3, "duplicate_point"),
    ]
    assert rejected[2]["error"]["message"] == ("Point 0 has the same metric, dimensions and time.")


def test_the_id_is_the_site_metric_dimensions_and_time_to_the_millisecond() -> None:
    point = load_point(GOOD, NOW)
    same = load_point(
        {**GOOD, "value": 99, "unit": "USD", "time": "2026-12-07T11:00:00.0001+01:00"}, NOW
    )
    assert point_id("shop", point) == point_id("shop", same)  # the value and unit are not in it
    others = [
        ("blog", point),
        ("shop", load_point({**GOOD, "metric": "orders2"}, NOW)),
        ("shop", load_point({**GOOD, "dimensions": {"region": "us"}}, NOW)),
        ("shop", load_point({**GOOD, "dimensions": {"region": "eu", "x": "1"}}, NOW)),
        ("shop", load_point({**GOOD, "dimensions": {}}, NOW)),
        ("shop", load_point({**GOOD, "time": "2026-12-07T10:00:00.001Z"}, NOW)),
    ]
    ids = {point_id(site, other) for site, other in others} | {point_id("shop", point)}
    assert len(ids) == len(others) + 1
    # a name and value that run together differently are still told apart
    joined = load_point({"metric": "m", "value": 1, "dimensions": {"a": "b,c"}}, NOW)
    split = load_point({"metric": "m", "value": 1, "dimensions": {"a": "b", "c": "x"}}, NOW)
    assert point_id("s", joined) != point_id("s", split)


def test_the_document_and_its_spool_entry() -> None:
    point = load_point(GOOD, NOW)
    assert point_document("shop", point, NOW) == {
        "@timestamp": "2026-12-07T10:00:00.000Z",
        "@version": "1",
        "type": "metrics",
        "site": "shop",
        "metric": "orders",
        "value": 3.5,
        "dimensions": {"region": "eu"},
        "unit": "EUR",
        "received_at": "2026-12-07T12:00:00.123Z",
    }
    (entry,) = point_entries("shop", [point], NOW)
    assert (entry.stream, entry.id) == ("metrics", point_id("shop", point))


def body(value: Any) -> bytes:
    return json.dumps(value).encode()


def test_the_body_is_an_object_of_points_within_the_budget() -> None:
    budget = points_budget(IngestSettings(max_metric_points=3))
    assert decode_points_body("application/json", body({"points": [1, 2]}), None, budget) == [1, 2]
    gzipped = gzip.compress(body({"points": [GOOD]}))
    assert decode_points_body("application/json; charset=utf-8", gzipped, "gzip", budget) == [GOOD]
    cases: list[tuple[str | None, bytes, int, str]] = [
        ("application/x-www-form-urlencoded", b"a=b", 415, "unsupported_media_type"),
        (None, body({"points": [GOOD]}), 415, "unsupported_media_type"),
        ("application/json", b"{", 400, "malformed_json"),
        ("application/json", b"\xff", 400, "invalid_encoding"),
        ("application/json", body([GOOD]), 400, "invalid_body"),
        ("application/json", body({"points": GOOD}), 400, "invalid_body"),
        ("application/json", body({"points": [GOOD], "site": "x"}), 400, "invalid_body"),
        ("application/json", body({"points": []}), 422, "empty_batch"),
        ("application/json", body({"points": [GOOD] * 4}), 413, "batch_too_large"),
        ("application/json", body({"points": [{}] * 200}), 413, "too_many_values"),
        ("application/json", b'{"points": [{"metric": "m", "value": Infinity}]}', 400,
         "malformed_json"),
    ]  # fmt: skip
    for content_type, data, status, code in cases:
        with pytest.raises(ApiError) as caught:
            decode_points_body(content_type, data, None, budget)
        assert (caught.value.status, caught.value.code) == (status, code), data[:40]
