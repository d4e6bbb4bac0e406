from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from metronome.es.naming import index_for, indices_for_range, stream_pattern
from metronome.es.templates import load_templates


def test_index_is_named_from_the_documents_own_utc_day_zero_padded() -> None:
    moment = datetime(2021, 1, 5, 23, 30, tzinfo=UTC)
    assert index_for("metronome", "hits", moment) == "metronome-hits-2021.01.05"


def test_an_offset_timestamp_goes_to_its_utc_day() -> None:
    warsaw_morning = datetime(2026, 11, 22, 0, 30, tzinfo=timezone(timedelta(hours=1)))
    assert index_for("m", "hits", warsaw_morning) == "m-hits-2026.11.21"


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        index_for("m", "hits", datetime(2026, 1, 1))


def test_stream_pattern_covers_every_day() -> None:
    assert stream_pattern("m", "hits") == "m-hits-*"


def test_templates_are_prefixed_and_components_come_first() -> None:
    templates = load_templates("acme")
    kinds = [t.kind for t in templates]
    assert kinds == sorted(kinds)  # "component" < "index"
    hits = next(t for t in templates if t.name == "acme-hits")
    assert hits.body["index_patterns"] == ["acme-hits-*"]
    component_names = {t.name for t in templates if t.kind == "component"}
    assert set(hits.body["composed_of"]) <= component_names
    assert "{{prefix}}" not in repr([t.body for t in templates])


def test_mappings_make_strings_keywords_and_numbers_doubles() -> None:
    mappings = next(t for t in load_templates("m") if t.name == "m-logstash-mappings")
    body = mappings.body["template"]["mappings"]
    dynamic = {next(iter(rule)): rule[next(iter(rule))] for rule in body["dynamic_templates"]}
    assert dynamic["strings_as_keywords"]["mapping"]["type"] == "keyword"
    assert dynamic["integers_as_doubles"]["mapping"]["type"] == "double"
    assert dynamic["message_as_text"]["mapping"]["type"] == "text"
    assert body["properties"]["@timestamp"]["type"] == "date"
    assert body["date_detection"] is False


def test_a_short_range_names_its_days_and_the_month_and_year_indices_holding_them() -> None:
    start = datetime(2015, 1, 30, 23, 0, tzinfo=timezone(timedelta(hours=-2)))  # Jan 31 UTC
    end = datetime(2015, 2, 2, tzinfo=UTC)  # exclusive: Feb 2 itself is not needed
    assert indices_for_range("m", "hits", start, end).split(",") == [
        "m-hits-2015",
        "m-hits-2015.01",
        "m-hits-2015.01.31",
        "m-hits-2015.02",
        "m-hits-2015.02.01",
    ]


def test_whole_months_and_years_are_one_wildcard_each() -> None:
    start = datetime(2015, 1, 31, tzinfo=UTC)
    names = indices_for_range("m", "hits", start, datetime(2017, 1, 1, tzinfo=UTC)).split(",")
    assert names[:3] == ["m-hits-2015", "m-hits-2015.01", "m-hits-2015.01.31"]
    assert names[3:] == [f"m-hits-2015.{month:02d}*" for month in range(2, 13)] + ["m-hits-2016*"]


def test_too_many_single_days_read_the_streams_wildcard() -> None:
    start, end = datetime(2015, 1, 2, tzinfo=UTC), datetime(2015, 3, 30, tzinfo=UTC)
    assert indices_for_range("m", "hits", start, end, max_named=31) == "m-hits-*"
    assert indices_for_range("m", "hits", end, start) == "m-hits-*"  # empty
