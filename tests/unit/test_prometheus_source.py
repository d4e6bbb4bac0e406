"""The pure parts of the prometheus source: time ranges, chunks, answers, documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from marshmallow import ValidationError

from ingesters.prometheus import (
    PrometheusOptions,
    PrometheusSource,
    Sample,
    align_down,
    align_up,
    cursor_positions,
    day_range,
    parse_answer,
    plan_chunks,
    point_document,
    point_documents,
    progress_label,
    read_range,
    sample_document,
    series_key,
)
from metronome.sources.base import SourceError

T = 1_714_557_600  # 2024-05-01T10:00:00Z


def answer(result: list[dict[str, Any]], **extra: Any) -> str:
    return json.dumps(
        {"status": "success", "data": {"resultType": "matrix", "result": result}, **extra}
    )


def test_alignment_rounds_to_multiples_of_the_step() -> None:
    assert align_down(T + 59, 60) == T and align_up(T + 1, 60) == T + 60
    assert align_down(T, 60) == align_up(T, 60) == T


def test_first_run_reads_from_now_minus_lookback_to_now_minus_delay() -> None:
    assert read_range(None, T + 30, 60, 3600, 60) == (T - 3540, T - 60)


def test_next_run_starts_one_step_after_the_cursor() -> None:
    assert read_range(T, T + 185, 60, 3600, 60) == (T + 60, T + 120)


def test_nothing_to_read_until_a_new_point_is_old_enough() -> None:
    assert read_range(T, T + 100, 60, 3600, 60) is None


def test_a_changed_step_resumes_at_the_next_multiple_of_the_new_step() -> None:
    assert read_range(T + 60, T + 7200, 300, 3600, 0) == (T + 300, T + 7200)


def test_chunks_hold_at_most_max_points_and_never_share_a_boundary() -> None:
    chunks = plan_chunks(T, T + 25 * 60, 60, 10)  # 26 points
    assert chunks == [(T, T + 540), (T + 600, T + 1140), (T + 1200, T + 1500)]
    points = [t for start, end in chunks for t in range(start, end + 1, 60)]
    assert points == list(range(T, T + 25 * 60 + 1, 60))  # every point once


def test_one_point_is_one_chunk() -> None:
    assert plan_chunks(T, T, 60, 10_000) == [(T, T)]
    assert plan_chunks(T, T + 60, 60, 1) == [(T, T), (T + 60, T + 60)]


def test_a_back_fill_covers_whole_utc_days_but_not_the_unsettled_present() -> None:
    day = datetime(2024, 5, 1, tzinfo=UTC)
    assert day_range(day, day, 60, T + 10 * 86400, 60) == (T - 36000, T - 36000 + 86400 - 60)
    assert day_range(day, day, 60, T + 125, 60) == (T - 36000, T + 60)
    assert day_range(day, day, 60, T - 86400, 60) is None


def test_progress_names_the_query_and_its_range() -> None:
    assert progress_label("cpu", T, T + 7200) == "cpu: 2024-05-01T10:00Z .. 12:00Z"
    assert (
        progress_label("cpu", T, T + 86400 + 5)
        == "cpu: 2024-05-01T10:00:00Z .. 2024-05-02T10:00:05Z"
    )


def test_series_key_sorts_labels_and_escapes_values() -> None:
    key = series_key({"job": "a", "__name__": "up", "path": 'x"y\\z'})
    assert key == '{__name__="up",job="a",path="x\\"y\\\\z"}'
    assert series_key({"b": "1", "a": "2"}) == series_key({"a": "2", "b": "1"})


def test_an_answer_becomes_samples_and_warnings() -> None:
    text = answer(
        [{"metric": {"__name__": "up", "job": "n"}, "values": [[T, "1"], [T + 60.5, "0"]]}],
        warnings=["PromQL warning: ignored"],
    )
    samples, warnings = parse_answer(200, text)
    assert samples == [
        Sample({"__name__": "up", "job": "n"}, float(T), "1"),
        Sample({"__name__": "up", "job": "n"}, T + 60.5, "0"),
    ]
    assert warnings == ["PromQL warning: ignored"]


def test_an_error_answer_is_a_source_error_with_prometheus_message() -> None:
    text = json.dumps({"status": "error", "errorType": "bad_data", "error": "parse error"})
    with pytest.raises(SourceError, match=r"400, bad_data\): parse error"):
        parse_answer(400, text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<html>proxy error</html>", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ('{"status": "success", "data": {"resultType": "vector", "result": []}}', "matrix"),
        ('{"status": "success", "data": {"resultType": "matrix", "result": {}}}', "not a list"),
        ('{"status": "success", "data": {"resultType": "matrix", "result": [{}]}}', "metric"),
        (answer([{"metric": {}, "values": [[T, 1]]}]), "pair"),
        (answer([{"metric": {}, "values": [["x", "1"]]}]), "pair"),
        (answer([{"metric": {}}]), "values"),
        (answer([{"metric": {"a": 1}, "values": []}]), "not strings"),
    ],
)
def test_a_malformed_answer_is_a_source_error(text: str, message: str) -> None:
    with pytest.raises(SourceError, match=message):
        parse_answer(200, text)


def test_native_histograms_are_skipped() -> None:
    samples, _ = parse_answer(200, answer([{"metric": {"a": "b"}, "histograms": [[T, {}]]}]))
    assert samples == []


def test_a_sample_document_has_labels_metric_name_and_value() -> None:
    labels = {"__name__": "up", "job": "node", "instance": "h:9100"}
    document = sample_document("up", "up", Sample(labels, float(T), "0.25"))
    assert document.timestamp == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert document.version is None
    assert document.fields == {
        "kind": "sample",
        "query": "up",
        "expr": "up",
        "series": '{__name__="up",instance="h:9100",job="node"}',
        "labels": {"job": "node", "instance": "h:9100"},
        "metric_name": "up",
        "value": 0.25,
    }
    same = sample_document("up", "up", Sample(dict(reversed(labels.items())), float(T), "1"))
    assert same.key == document.key  # label order does not matter; time and query do
    assert sample_document("up2", "up", Sample(labels, float(T), "1")).key != document.key
    assert sample_document("up", "up", Sample(labels, T + 60.0, "1")).key != document.key


@pytest.mark.parametrize("text", ["NaN", "+Inf", "-Inf"])
def test_values_that_are_not_numbers_are_kept_as_text(text: str) -> None:
    fields = sample_document("r", "a / b", Sample({}, float(T), text)).fields
    assert "value" not in fields and fields["value_text"] == text
    assert "metric_name" not in fields and fields["labels"] == {}


def test_an_unreadable_value_is_a_source_error() -> None:
    with pytest.raises(SourceError, match="not a sample value"):
        sample_document("r", "x", Sample({}, float(T), "lots"))


def test_the_cursor_is_read_back_or_refused() -> None:
    assert cursor_positions({}) == {}
    assert cursor_positions({"queries": {"up": T}}) == {"up": T}
    with pytest.raises(SourceError):
        cursor_positions({"queries": {"up": "yesterday"}})


def test_options_have_defaults_and_limits() -> None:
    loaded = PrometheusOptions().load({"url": "http://prom:9090", "queries": {"up": "up"}})
    assert loaded["step"] == 60 and loaded["lookback"] == 3600 and loaded["delay"] == 60
    assert loaded["max_points"] == 10_000 and loaded["headers"] == {}
    wrongs: list[dict[str, Any]] = [
        {"queries": {}},
        {"max_points": 11_001},
        {"step": 0},
        {"queries": {"a b": "up"}},
    ]
    for wrong in wrongs:
        with pytest.raises(ValidationError):
            PrometheusOptions().load({"url": "http://prom:9090", "queries": {"up": "up"}, **wrong})
    assert PrometheusSource.secret_options() == frozenset({"headers"})


def test_with_stream_metrics_a_sample_is_a_metric_point() -> None:
    labels = {"__name__": "up", "job": "node", "instance": "h:9100"}
    document = point_document("up_query", Sample(labels, T + 0.5, "0.25"))
    assert document.timestamp == datetime(2024, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    assert document.fields == {
        "kind": "sample",
        "query": "up_query",
        "metric": "up",
        "value": 0.25,
        "dimensions": {"instance": "h:9100", "job": "node"},
    }
    assert document.key == sample_document("up_query", "up", Sample(labels, T + 0.5, "1")).key
    # no __name__ (an expression's result): the query's name is the metric
    assert point_document("ratio", Sample({}, float(T), "1")).fields["metric"] == "ratio"


def test_samples_that_cannot_be_points_are_left_out_and_named() -> None:
    samples = [
        Sample({"__name__": "up"}, float(T), "1"),
        Sample({}, float(T), "NaN"),
        Sample({"__name__": "up", "path": "x" * 2000}, float(T), "1"),
        Sample({}, float(T), "+Inf"),
    ]
    documents, refused = point_documents("9lives", samples)  # a query name is no metric name
    assert [document.fields["metric"] for document in documents] == ["up"]
    assert len(refused) == 3 and refused[1].startswith('{__name__="up",path=')
    with pytest.raises(SourceError, match="not a sample value"):
        point_documents("r", [Sample({}, float(T), "lots")])


def test_the_stream_option_is_prometheus_or_metrics() -> None:
    base = {"url": "http://prom:9090", "queries": {"up": "up"}}
    assert PrometheusSource("p", "s", PrometheusOptions().load(base)).stream == "prometheus"
    loaded = PrometheusOptions().load({**base, "stream": "metrics"})
    assert PrometheusSource("p", "s", loaded).stream == "metrics"
    with pytest.raises(ValidationError):
        PrometheusOptions().load({**base, "stream": "hits"})
