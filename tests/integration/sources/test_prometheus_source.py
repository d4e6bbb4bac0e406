"""The prometheus source against the fake Prometheus, with a fixed clock: catch-up in chunks,
error answers, authentication headers, values that are not numbers, samples as metric points."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient

from ingesters.prometheus import PrometheusOptions, PrometheusSource
from metronome.sources.base import SourceError, Window
from metronome.sources.http import RemoteError
from metronome.sources.store import StateStore
from tests.conftest import READ_KEY
from tests.fakes.prometheus import FakePrometheus
from tests.fakes.server import serving
from tests.integration.sources.contract import fetch_pages, run, services, stored_documents

NOW = datetime(2024, 5, 1, 12, 0, 30, tzinfo=UTC)
T = int(NOW.timestamp())
HOUR = 3600


@pytest.fixture
def fake() -> Iterator[tuple[FakePrometheus, str]]:
    server = FakePrometheus(first=T - 48 * HOUR, last=T + 48 * HOUR)
    server.required_headers = {"Authorization": "Bearer secret"}
    with serving(server.app()) as url:
        yield server, url


def source(url: str, **options: Any) -> PrometheusSource:
    loaded = PrometheusOptions().load(
        {
            "url": url,
            "queries": {
                "up": "up",
                "requests": 'sum by (code) (rate(http_requests_total{job="shop"}[5m]))',
            },
            "headers": {"Authorization": "Bearer secret"},
            **options,
        }
    )
    return PrometheusSource("prom", "shop", loaded)


def test_a_run_after_downtime_catches_up_in_chunks_of_max_points(
    fake: tuple[FakePrometheus, str],
) -> None:
    server, url = fake
    prom = source(url, step=60, max_points=50, delay=60)
    first = fetch_pages(prom, {}, NOW)
    # 11:01 .. 11:59: 59 points a series, 2 series a query, chunks of 50 points
    assert [len(page.documents) for page in first] == [100, 18, 100, 18]
    cursor = first[-1].cursor
    assert cursor == {"queries": {"up": T - 90, "requests": T - 90}}

    later = fetch_pages(prom, cursor, NOW + timedelta(hours=5))  # 300 new points per series
    per_query = [page for page in later if page.progress and page.progress.startswith("up:")]
    assert (
        len(per_query) == 6 and per_query[0].progress == "up: 2024-05-01T12:00Z .. 12:49Z (1 of 6)"
    )
    points = [int(entry["args"]["end"]) - int(entry["args"]["start"]) for entry in server.log]
    assert max(points) // 60 + 1 <= 50
    keys = [document.key for page in first + later for document in page.documents]
    assert len(keys) == len(set(keys)) == 2 * 2 * (59 + 300)  # no boundary sample read twice
    assert later[-1].cursor == {"queries": {"up": T - 90 + 5 * HOUR, "requests": T - 90 + 5 * HOUR}}


def test_nothing_is_read_until_a_new_point_is_older_than_the_delay(
    fake: tuple[FakePrometheus, str],
) -> None:
    server, url = fake
    prom = source(url, step=60, delay=60)
    cursor = fetch_pages(prom, {}, NOW)[-1].cursor
    requests = len(server.log)
    assert fetch_pages(prom, cursor, NOW + timedelta(seconds=29)) == []
    assert len(server.log) == requests


def test_the_headers_are_sent_and_missing_ones_are_a_remote_error(
    fake: tuple[FakePrometheus, str],
) -> None:
    server, url = fake
    fetch_pages(source(url), {}, NOW)
    assert server.log[0]["headers"]["Authorization"] == "Bearer secret"
    with pytest.raises(RemoteError, match="401"):
        fetch_pages(source(url, headers={}), {}, NOW)


@pytest.mark.parametrize(
    ("expr", "message"),
    [("sum(rate(x[5m])", "400, bad_data.*unclosed"), ("scalar(up)", "422, execution")],
)
def test_an_error_answer_is_a_source_error_naming_the_query(
    fake: tuple[FakePrometheus, str], expr: str, message: str
) -> None:
    _, url = fake
    with pytest.raises(SourceError, match=f"query 'broken'.*{message}"):
        fetch_pages(source(url, queries={"broken": expr}), {}, NOW)


def test_a_malformed_answer_is_a_source_error(fake: tuple[FakePrometheus, str]) -> None:
    server, url = fake
    server.garbled = (
        '{"status": "success", "data": {"resultType": "matrix", "result": [{"values": []}]}}'
    )
    with pytest.raises(SourceError, match="without a 'metric' object"):
        fetch_pages(source(url), {}, NOW)


def test_a_back_fill_reads_whole_days_in_chunks(fake: tuple[FakePrometheus, str]) -> None:
    _, url = fake
    prom = source(url, queries={"up": "up"}, step=300, delay=60)
    pages = fetch_pages(
        prom, {"queries": {"up": T}}, NOW, Window(date(2024, 4, 30), date(2024, 4, 30))
    )
    assert sum(len(page.documents) for page in pages) == 2 * 288  # a day at 5 minutes, 2 series
    assert all(page.cursor == {"queries": {"up": T}} for page in pages)
    times = {document.timestamp for page in pages for document in page.documents}
    assert min(times) == datetime(2024, 4, 30, tzinfo=UTC)
    assert max(times) == datetime(2024, 4, 30, 23, 55, tzinfo=UTC)


def test_values_that_are_not_numbers_are_stored_as_text(
    fake: tuple[FakePrometheus, str], app: Flask, es: Elasticsearch, index_prefix: str
) -> None:
    _, url = fake
    prom = source(url, queries={"ratio": "errors / requests"}, step=1, lookback=20, delay=0)
    report = run(prom, services(es, index_prefix, clock=lambda: NOW))
    assert report.ok and report.created == 21 and report.dead_lettered == 0, report
    documents = stored_documents(es, index_prefix, prom)
    texts = sorted(doc["value_text"] for doc in documents if "value_text" in doc)
    # 12:00:10 .. 12:00:30: NaN at :10 :20 :30, +Inf at :15 :25, -Inf at :17 :27
    assert texts == ["+Inf", "+Inf", "-Inf", "-Inf", "NaN", "NaN", "NaN"]
    assert sum(1 for doc in documents if "value" in doc) == 14
    mapping = es.indices.get_mapping(index=f"{index_prefix}-prometheus-*").body
    properties = next(iter(mapping.values()))["mappings"]["properties"]
    assert properties["value"]["type"] == "double"
    assert properties["labels"].get("type", "object") == "object"
    assert StateStore(es, index_prefix).load("prom").state.cursor == {"queries": {"ratio": T}}


def test_with_stream_metrics_samples_are_metric_points_queried_like_any(
    fake: tuple[FakePrometheus, str], client: FlaskClient, es: Elasticsearch, index_prefix: str
) -> None:
    _, url = fake
    queries = {"up": "up", "ratio": "errors / requests"}
    prom = source(url, queries=queries, step=1, lookback=20, delay=0, stream="metrics")
    report = run(prom, services(es, index_prefix, clock=lambda: NOW))
    # 12:00:10 .. 12:00:30: 21 points of 2 up series; the ratio's NaN and infinities left out
    assert report.ok and report.created == 42 + 14 and report.dead_lettered == 0, report
    up = next(doc for doc in stored_documents(es, index_prefix, prom) if doc["metric"] == "up")
    assert up["dimensions"] == {"job": "node", "instance": up["dimensions"]["instance"]}
    assert (up["type"], up["site"], up["source"], up["value"]) == ("metrics", "shop", "prom", 1.0)

    def rows(**body: Any) -> list[list[Any]]:
        answer = client.post(
            "/api/v1/query",
            json={"site": "shop", "stream": "metrics", "date_range": ["2024-05-01", "2024-05-02"],
                  **body},
            headers={"Authorization": f"Bearer {READ_KEY}"},
        )  # fmt: skip
        assert answer.status_code == 200, answer.get_json()
        return [[*row["dimensions"], *row["metrics"]] for row in answer.get_json()["results"]]

    by_metric = rows(metrics=["count", "sum:value"], dimensions=["metric"])
    # the ratio's finite values: twice 0.1 + 0.2 + 0.3 + 0.4 + 0.6 + 0.8 + 0.9
    assert sorted(by_metric) == [["ratio", 14, pytest.approx(6.6)], ["up", 42, 42.0]]
    up_only = [["is", "metric", ["up"]]]
    by_instance = rows(metrics=["count"], dimensions=["dimensions.instance"], filters=up_only)
    assert sorted(by_instance) == [["host-1:9100", 21], ["host-2:9100", 21]]
