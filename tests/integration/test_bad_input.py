"""Bad requests get a JSON 4xx that says what is wrong, and valid hits beside them are kept."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask.testing import FlaskClient

from tests.conftest import error_of


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        (b'{"id": "a",', "application/json", 400, "malformed_json"),
        (b"[1, 2", "text/plain", 400, "malformed_json"),
        (b'"just a string"', "application/json", 422, "invalid_hit"),
        (b"[]", "application/json", 422, "empty_batch"),
        (b'{"event": "view"}', "application/json", 422, "invalid_hit"),
        (b'{"id": {"nested": 1}}', "application/json", 422, "invalid_hit"),
        (b'{"id": "a", "time": "tomorrow-ish"}', "application/json", 422, "invalid_hit"),
        (b"id=a", "application/xml", 415, "unsupported_media_type"),
        (b"\x00\x01\x02binary", "application/json", 400, "malformed_json"),
    ],
)
def test_malformed_and_wrongly_typed_bodies(
    client: FlaskClient, data: bytes, content_type: str, status: int, code: str
) -> None:
    response = client.post("/tick", data=data, content_type=content_type)
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_missing_id_names_the_field(client: FlaskClient) -> None:
    response = client.post("/tick", json={"event": "view"})
    assert response.status_code == 422
    assert error_of(response)["field"] == "id"


def test_a_batch_keeps_valid_hits_and_reports_invalid_ones(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    batch = [
        {"id": "keep"},
        {"no_id": 1},
        "text",
        {"id": "keep", "@timestamp": "x"},
        {"id": "keep"},
    ]
    response = client.post("/tick", json=batch)
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] == 2
    assert [item["index"] for item in body["rejected"]] == [1, 2, 3]
    assert body["rejected"][0]["error"]["field"] == "id"
    ship()
    assert client.get("/tock/keep").get_json()["totals"]["views"] == 2


def test_an_all_invalid_batch_is_422_with_the_list(client: FlaskClient) -> None:
    response = client.post("/tick", json=[{"x": 1}, 5])
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == "no_hit_accepted"
    assert [item["index"] for item in body["rejected"]] == [0, 1]


def test_oversized_body_and_batch(client: FlaskClient) -> None:
    huge = b'{"id": "a", "pad": "' + b"x" * 2_000_000 + b'"}'
    response = client.post("/tick", data=huge, content_type="application/json")
    assert response.status_code == 413
    assert error_of(response)["code"] == "request_entity_too_large"
    too_many = client.post("/tick", json=[{"id": "a"}] * 501)
    assert too_many.status_code == 413
    assert error_of(too_many)["code"] == "batch_too_large"


def test_unknown_site_is_reported(client: FlaskClient) -> None:
    response = client.post("/tick", json={"id": "a", "site": "nope"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "unknown_site"
    assert client.get("/tock/a?site=nope").status_code == 404


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("interval=fortnight", 400, "invalid_interval"),
        ("from=yesterday", 400, "invalid_date"),
        ("to=2015-02-30", 400, "invalid_date"),
        ("from=2015-02-01&to=2015-01-01", 422, "invalid_range"),
        ("from=1990-01-01&to=2015-01-01&interval=minute", 422, "too_many_buckets"),
        ("tz=Not/AZone", 400, "invalid_tz"),
        ("top=-1", 400, "invalid_top"),
    ],
)
def test_bad_tock_parameters(client: FlaskClient, query: str, status: int, code: str) -> None:
    response = client.get(f"/tock/x?{query}")
    assert response.status_code == status
    assert error_of(response)["code"] == code


def test_hostile_ids_are_answered_not_crashed_on(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    items = ['"; DROP TABLE hits; --', "*", "a\\b", "<script>", "id with spaces", "ünïcødé"]
    for item in items:
        assert client.post("/tick", json={"id": item}).status_code == 202
    ship()
    for item in items:
        body = client.get("/tock/" + item.replace("?", "%3F")).get_json()
        assert body["totals"]["views"] == 1, item
    assert client.get("/tock/" + "x" * 2000).status_code == 400


def test_unknown_routes_and_methods_answer_json(client: FlaskClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert error_of(missing)["code"] == "not_found"
    wrong_method = client.get("/tick")
    assert wrong_method.status_code == 405
    assert error_of(wrong_method)["code"] == "method_not_allowed"
    assert "POST" in wrong_method.headers["Allow"]
