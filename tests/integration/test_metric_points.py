"""POST /api/v1/metrics into the metrics stream of the real Elasticsearch, read back through
POST /api/v1/query, GET /api/v1/fields and POST /api/v1/sql and rolled up by the default
group: answers equal counts made by hand, a batch keeps its good points, a retried request
stores nothing twice."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.query.rollup_schema import Watermark, write_watermark
from metronome.rollups.compute import rollup_range
from tests.conftest import INGEST_KEY, READ_KEY, WRITE_KEY, error_of
from tests.rollup_data import stored_rollups

AUTH = {"Authorization": f"Bearer {READ_KEY}"}
RANGE = ["2026-11-02", "2026-11-03"]
PARTS = ("sum", "min", "max", "count")
POINTS: list[dict[str, Any]] = [
    {"metric": "orders", "value": 3, "time": "2026-11-02T10:05:00Z",
     "dimensions": {"region": "eu", "plan": "pro"}, "unit": "count"},
    {"metric": "orders", "value": 5.5, "time": "2026-11-02T10:45:00Z",
     "dimensions": {"region": "eu", "plan": "free"}},
    {"metric": "orders", "value": 1, "time": "2026-11-02T11:10:00Z",
     "dimensions": {"region": "us", "plan": "pro"}},
    {"metric": "orders", "value": -2, "time": "2026-11-02T11:20:00+01:00",  # 10:20Z
     "dimensions": {"region": "us"}},
    {"metric": "latency_ms", "value": 120, "time": "2026-11-02T10:00:00Z",
     "dimensions": {"region": "eu", "code": 200}},
    {"metric": "orders", "value": 100, "time": "2026-11-03T00:00:00Z",  # outside the range
     "dimensions": {"region": "eu"}},
]  # fmt: skip


def send(client: FlaskClient, points: list[Any], **headers: str) -> Any:
    return client.post(
        "/api/v1/metrics?site=shop",
        json={"points": points},
        headers={"X-Metronome-Key": INGEST_KEY, **headers},
    )


def query_answer(client: FlaskClient, **body: Any) -> dict[str, Any]:
    response = client.post(
        "/api/v1/query",
        json={"site": "shop", "stream": "metrics", "date_range": RANGE, **body},
        headers=AUTH,
    )
    assert response.status_code == 200, response.get_json()
    answer: dict[str, Any] = response.get_json()
    return answer


def query(client: FlaskClient, **body: Any) -> list[list[Any]]:
    results = query_answer(client, **body)["results"]
    return [[*row["dimensions"], *row["metrics"]] for row in results]


def test_points_are_answered_as_counted_by_hand_by_query_fields_and_sql(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, settings: Settings
) -> None:
    answer = send(client, POINTS)
    assert (answer.status_code, answer.get_json()) == (202, {"accepted": 6})
    assert ship() == 6
    orders = [["is", "metric", ["orders"]]]
    measures = ["sum:value", "avg:value", "min:value", "max:value", "count"]
    # orders on 2026-11-02: 3 + 5.5 + 1 - 2 = 7.5 over 4 points
    assert query(client, metrics=measures, filters=orders) == [[7.5, 1.875, -2.0, 5.5, 4]]
    by_region = query(
        client,
        metrics=["sum:value", "count"],
        dimensions=["dimensions.region"],
        filters=orders,
        order_by=[["dimensions.region", "asc"]],
    )
    assert by_region == [["eu", 8.5, 2], ["us", -1.0, 2]]
    by_hour = query(
        client,
        metrics=["sum:value"],
        dimensions=["time:hour", "dimensions.plan"],
        filters=orders,
        order_by=[["time:hour", "asc"], ["dimensions.plan", "asc"]],
    )
    # 10:00 free, pro and a point without the dimension (null), 11:00 pro
    assert [row[1:] for row in by_hour] == [["free", 5.5], ["pro", 3], [None, -2], ["pro", 1]]
    # the dimensions are fields like any other, keywords whatever the sent value's type
    fields = client.get("/api/v1/fields?site=shop&stream=metrics", headers=AUTH).get_json()
    kinds = {field["name"]: field["kind"] for field in fields["fields"]}
    assert {name: kinds[name] for name in ("metric", "value", "unit")} == {
        "metric": "keyword",
        "value": "number",
        "unit": "keyword",
    }
    assert kinds["dimensions.region"] == kinds["dimensions.code"] == "keyword"
    assert query(client, metrics=["max:value"], filters=[["is", "dimensions.code", ["200"]]]) == [
        [120.0]
    ]
    statement = (
        "SELECT metric, sum(value), count(*) FROM metrics WHERE @timestamp >= '2026-11-02' "
        "AND @timestamp < '2026-11-03' GROUP BY metric ORDER BY metric"
    )
    response = client.post("/api/v1/sql", json={"sql": statement, "site": "shop"}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["rows"] == [["latency_ms", 120.0, 1], ["orders", 7.5, 4]]
    statement = (
        "SELECT dimensions.region, sum(value) AS total FROM metrics WHERE metric = 'orders' "
        "AND @timestamp BETWEEN '2026-11-02' AND '2026-11-02T23:59:59' "
        "GROUP BY dimensions.region ORDER BY total DESC"
    )
    response = client.post("/api/v1/sql", json={"sql": statement, "site": "shop"}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["rows"] == [["eu", 8.5], ["us", -1.0]]
    index = f"{settings.elasticsearch.index_prefix}-metrics-2026"  # the stream's yearly index
    assert es.count(index=index)["count"] == 6


def test_a_batch_keeps_its_good_points_and_a_retry_stores_nothing_twice(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    batch: list[Any] = [
        POINTS[0],
        {"metric": "orders", "value": "3"},
        {"metric": "bad name!", "value": 1},
        {"metric": "orders", "value": 1, "dimensions": {"a.b": "x"}},
        {"metric": "orders", "value": 1, "extra": True},
        POINTS[1],
        {**POINTS[0], "value": 9},  # the same metric, dimensions and time as point 0
        "not a point",
    ]
    answer = send(client, batch)
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert body["accepted"] == 2
    assert [(item["index"], item["error"].get("field")) for item in body["rejected"]] == [
        (1, "value"),
        (2, "metric"),
        (3, "dimensions"),
        (4, "extra"),
        (6, "time"),
        (7, None),
    ]
    assert body["rejected"][4]["error"]["code"] == "duplicate_point"
    assert send(client, batch).status_code == 202  # a retry of the same request
    assert send(client, [{**POINTS[0], "value": 42}]).status_code == 202  # the same key again
    ship()
    measures = ["sum:value", "count"]
    assert query(client, metrics=measures) == [[8.5, 2]]  # the first value stored stays
    refused = send(client, [{"metric": "x"}, {"value": 1}])
    assert refused.status_code == 422
    assert error_of(refused)["code"] == "no_point_accepted"
    assert [item["error"]["field"] for item in refused.get_json()["rejected"]] == [
        "value",
        "metric",
    ]


def test_points_need_the_sites_ingest_key_and_a_well_formed_body(client: FlaskClient) -> None:
    assert error_of(send(client, POINTS[:1], **{"X-Metronome-Key": WRITE_KEY}))["code"] == (
        "invalid_key"
    )
    no_key = client.post("/api/v1/metrics?site=shop", json={"points": POINTS[:1]})
    assert (no_key.status_code, error_of(no_key)["code"]) == (401, "missing_key")
    in_url = client.post(f"/api/v1/metrics?site=shop&key={INGEST_KEY}", json={"points": []})
    assert (in_url.status_code, error_of(in_url)["code"]) == (400, "key_in_url")
    for body, status, code in (
        (b'{"points": [', 400, "malformed_json"),
        (b'[{"metric": "a", "value": 1}]', 400, "invalid_body"),
        (b'{"points": []}', 422, "empty_batch"),
        (b'{"points": [{"metric": "a", "value": NaN}]}', 400, "malformed_json"),
    ):
        response = client.post(
            "/api/v1/metrics?site=shop",
            data=body,
            headers={"X-Metronome-Key": INGEST_KEY, "Content-Type": "application/json"},
        )
        assert (response.status_code, error_of(response)["code"]) == (status, code), body
    form = client.post(
        "/api/v1/metrics?site=shop", data={"a": "b"}, headers={"X-Metronome-Key": INGEST_KEY}
    )
    assert form.status_code == 415


def test_points_are_rolled_up_by_metric_with_the_default_group(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, settings: Settings
) -> None:
    assert send(client, POINTS).status_code == 202
    ship()
    prefix = settings.elasticsearch.index_prefix
    (group,) = settings.rollups.groups_of("metrics")
    start, end = datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    assert rollup_range(es, prefix, "metrics", group, "hour", start, end).written == 4
    found = {}
    for stored in stored_rollups(es, prefix).values():
        source = stored["_source"]
        parts = source["rollup"]
        key = (source["@timestamp"][:13], source["site"], source["metric"])
        found[key] = [source["_doc_count"], *(parts[part]["value"] for part in PARTS)]
    # count, sum, min, max and the number of values of each metric's hour, counted by hand
    assert found == {
        ("2026-11-02T10", "shop", "orders"): [3, 6.5, -2.0, 5.5, 3],
        ("2026-11-02T11", "shop", "orders"): [1, 1.0, 1.0, 1.0, 1],
        ("2026-11-02T10", "shop", "latency_ms"): [1, 120.0, 120.0, 120.0, 1],
        ("2026-11-03T00", "shop", "orders"): [1, 100.0, 100.0, 100.0, 1],
    }
    assert rollup_range(es, prefix, "metrics", group, "hour", start, end).written == 0
    # the question by metric and hour, asked of raw points, then of the rollups once they are
    # marked complete: the same rows
    question: dict[str, Any] = {
        "metrics": ["sum:value", "avg:value", "min:value", "max:value", "count"],
        "dimensions": ["time:hour", "metric"],
        "order_by": [["time:hour", "asc"], ["metric", "asc"]],
    }
    raw = query_answer(client, **question)
    write_watermark(es, prefix, Watermark.of_groups("metrics", "hour", end, [group]))
    rolled = query_answer(client, **question)
    assert (raw["meta"]["source"], rolled["meta"]["source"]) == ("raw", "rollup")
    assert rolled["results"] == raw["results"] and len(raw["results"]) == 3
