from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from metronome.config import HitLimits
from metronome.hits.definition import HitError, load_hit


def test_a_minimal_hit_defaults_to_a_view() -> None:
    assert load_hit({"id": "dataset-42"}) == {"id": "dataset-42", "event": "view"}


def test_free_parameters_are_kept_as_sent() -> None:
    hit = load_hit({"id": "p", "price": 12.5, "ok": True, "product_info": {"brand": "x"}})
    assert hit["price"] == 12.5
    assert hit["ok"] is True
    assert hit["product_info"] == {"brand": "x"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2015-01-22T13:05:00Z", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        ("2015-01-22T14:05:00+01:00", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        ("2015-01-22T13:05:00", datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        (1421931900000, datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
        (1421931900, datetime(2015, 1, 22, 13, 5, tzinfo=UTC)),
    ],
)
def test_time_accepts_iso_and_epoch_seconds_or_millis(value: Any, expected: datetime) -> None:
    assert load_hit({"id": "x", "time": value})["time"] == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "id"),
        ({"id": ""}, "id"),
        ({"id": 42}, "id"),
        ({"id": "x", "event": ["view"]}, "event"),
        ({"id": "x", "event": "no spaces allowed"}, "event"),
        ({"id": "x", "time": "last tuesday"}, "time"),
        ({"id": "x", "time": True}, "time"),
        ({"id": "x", "time": "2999-01-01T00:00:00Z"}, "time"),
        ({"id": "x", "format": 3}, "format"),
        ({"id": "x", "hit_id": "has space"}, "hit_id"),
        ({"id": "x", "bad name": 1}, "bad name"),
        ({"id": "x", "@timestamp": "2015-01-01"}, "@timestamp"),
        ({"id": "x", "received_at": "2015-01-01"}, "received_at"),
        ({"id": "x", "list": [1, 2]}, "list"),
        ({"id": "x", "deep": {"a": {"b": 1}}}, "deep.a"),
        ({"id": "x", "big": 2**60}, "big"),
        ({"id": "x", "long": "y" * 2000}, "long"),
    ],
)
def test_invalid_hits_name_the_field(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(HitError) as caught:
        load_hit(raw)
    assert caught.value.field == field
    assert caught.value.message


@pytest.mark.parametrize("raw", [[1], "text", 3, None, True])
def test_a_hit_must_be_an_object(raw: Any) -> None:
    with pytest.raises(HitError, match="must be a JSON object"):
        load_hit(raw)


def test_too_many_parameters_are_refused() -> None:
    raw = {"id": "x", **{f"p{i}": i for i in range(200)}}
    with pytest.raises(HitError, match="at most 100 parameters"):
        load_hit(raw)


NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_a_nested_object_counts_its_keys_towards_the_parameter_limit() -> None:
    limits = HitLimits(max_params=5)
    assert load_hit({"id": "x", "a": {"b": 1, "c": 2, "d": 3}}, limits)["a"]["d"] == 3
    with pytest.raises(HitError, match="at most 5 parameters") as caught:
        load_hit({"id": "x", "a": {"b": 1, "c": 2, "d": 3, "e": 4}}, limits)
    assert "has 6" in caught.value.message


def test_the_site_limit_replaces_the_default_parameter_limit() -> None:
    raw = {"id": "x", **{f"p{i}": i for i in range(150)}}
    assert len(load_hit(raw, HitLimits(max_params=200))) == 152  # with the default event


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"id": "x", "label": "y" * 11}, "label"),
        ({"id": "x", "product_info": {"brand": "y" * 11}}, "product_info.brand"),
    ],
)
def test_free_text_longer_than_max_value_chars_is_refused(raw: dict[str, Any], field: str) -> None:
    with pytest.raises(HitError, match="at most 10 characters") as caught:
        load_hit(raw, HitLimits(max_value_chars=10))
    assert caught.value.field == field


def test_free_text_of_exactly_max_value_chars_is_accepted() -> None:
    assert load_hit({"id": "x", "label": "y" * 10}, HitLimits(max_value_chars=10))["label"]


def test_url_and_referrer_keep_their_own_4096_bound_whatever_the_site_limit() -> None:
    limits = HitLimits(max_value_chars=10)
    url = "https://example.org/" + "p" * 4000
    assert load_hit({"id": "x", "url": url, "referrer": url}, limits)["url"] == url
    with pytest.raises(HitError) as caught:
        load_hit({"id": "x", "referrer": "r" * 4097}, limits)
    assert caught.value.field == "referrer"


@pytest.mark.parametrize(
    ("time", "limits"),
    [
        ("2026-11-23T10:00:00Z", HitLimits()),  # exactly the default day of clock skew
        ("2026-11-22T10:01:00Z", HitLimits(max_future_seconds=60)),
        ("2026-11-15T10:00:00Z", HitLimits(max_age_days=7)),  # exactly the oldest allowed
        ("1970-01-01T00:00:00Z", HitLimits()),  # back-fill: no age limit by default
        (946684800, HitLimits()),  # the first epoch second read: 2000-01-01
    ],
)
def test_times_within_the_site_bounds_are_accepted(time: Any, limits: HitLimits) -> None:
    assert load_hit({"id": "x", "time": time}, limits, now=NOW)["time"] <= NOW + timedelta(days=1)


@pytest.mark.parametrize(
    ("time", "limits", "message"),
    [
        ("2026-11-23T10:00:01Z", HitLimits(), "more than 86400 seconds ahead"),
        ("2026-11-22T10:01:01Z", HitLimits(max_future_seconds=60), "more than 60 seconds ahead"),
        ("2026-11-15T09:59:59Z", HitLimits(max_age_days=7), "more than 7 days in the past"),
        (-1, HitLimits(), "Not an epoch time"),
        ("1969-12-31T23:59:59Z", HitLimits(), "before 1970"),
        (10**20, HitLimits(), "Not an epoch time"),
        (1_795_341_600_000_000, HitLimits(), "Not an epoch time"),  # microseconds
    ],
)
def test_times_outside_the_site_bounds_are_refused_on_the_time_field(
    time: Any, limits: HitLimits, message: str
) -> None:
    with pytest.raises(HitError, match=message) as caught:
        load_hit({"id": "x", "time": time}, limits, now=NOW)
    assert caught.value.field == "time"


def test_time_bounds_are_measured_from_the_given_now_not_the_clock() -> None:
    past_now = datetime(2015, 1, 22, tzinfo=UTC)
    with pytest.raises(HitError, match="ahead of the server clock"):
        load_hit({"id": "x", "time": "2015-01-24T00:00:00Z"}, now=past_now)
    recent = {"id": "x", "time": "2026-11-20T00:00:00Z"}
    assert load_hit(recent, HitLimits(max_age_days=7), now=NOW)["time"].day == 20
    with pytest.raises(HitError, match="days in the past"):
        load_hit(recent, HitLimits(max_age_days=7), now=NOW + timedelta(days=30))
