"""POST /api/v1/query and /tock comparisons against the real Elasticsearch, with answers
computed by hand from the hits each test sends."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from metronome.query import builder
from metronome.query import catalog as catalog_module
from tests.conftest import READ_KEY, WRITE_KEY

AUTH = {"Authorization": f"Bearer {READ_KEY}"}


def send(client: FlaskClient, hits: list[dict[str, Any]]) -> None:
    response = client.post(
        "/tick", json=[{"site": "shop", **h} for h in hits], headers={"X-Metronome-Key": WRITE_KEY}
    )
    assert response.status_code == 202, response.get_json()
    assert response.get_json()["accepted"] == len(hits)


def query(client: FlaskClient, **body: Any) -> dict[str, Any]:
    response = client.post("/api/v1/query", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200, response.get_json()
    result: dict[str, Any] = response.get_json()
    return result


def rows(result: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [(*r["dimensions"], *r["metrics"]) for r in result["results"]]


def test_quarter_and_year_buckets_are_zero_filled_at_both_ends(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, [{"id": "q", "time": t} for t in
                  ["2015-02-10T00:00:00Z", "2015-03-31T23:59:59Z", "2015-04-01T00:00:00Z",
                   "2016-12-31T12:00:00Z"]])  # fmt: skip
    ship()
    quarters = query(client, metrics=["count"], dimensions=["time:quarter"],
                     date_range=["2014-10-01", "2016-01-01"])  # fmt: skip
    assert rows(quarters) == [
        ("2014-Q4", 0), ("2015-Q1", 2), ("2015-Q2", 1), ("2015-Q3", 0), ("2015-Q4", 0)
    ]  # fmt: skip
    years = query(client, metrics=["count"], dimensions=["time:year"],
                  date_range=["2014-01-01", "2018-01-01"])  # fmt: skip
    assert rows(years) == [("2014", 0), ("2015", 3), ("2016", 1), ("2017", 0)]


def test_days_follow_a_zone_across_its_dst_change(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    # Warsaw springs forward on 2015-03-29 (CET +1 -> CEST +2).
    send(client, [
        {"id": "d", "time": "2015-03-28T23:30:00Z"},  # 00:30 on the 29th in Warsaw
        {"id": "d", "time": "2015-03-29T21:59:00Z"},  # 23:59 CEST on the 29th
        {"id": "d", "time": "2015-03-29T22:00:00Z"},  # 00:00 on the 30th
    ])  # fmt: skip
    ship()
    result = query(client, metrics=["count"], dimensions=["time:day"], tz="Europe/Warsaw",
                   date_range=["2015-03-28", "2015-03-31"])  # fmt: skip
    assert rows(result) == [("2015-03-28", 0), ("2015-03-29", 2), ("2015-03-30", 1)]
    hours = query(client, metrics=["count"], dimensions=["time:hour"], tz="Europe/Warsaw",
                  date_range=["2015-03-29T01:00", "2015-03-29T04:00"])  # fmt: skip
    assert [r[0] for r in rows(hours)] == [  # 02:00 never was
        "2015-03-29T01:00+01:00",
        "2015-03-29T03:00+02:00",
    ]


def test_the_hour_new_york_repeats_in_autumn_is_two_rows_with_their_own_counts(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    # New York falls back on 2026-11-01 at 06:00Z: 01:30 EDT, then 01:10 and 01:20 EST.
    times = ["2026-11-01T05:30:00Z", "2026-11-01T06:10:00Z", "2026-11-01T06:20:00Z"]
    send(client, [{"id": "fall", "time": t} for t in times])
    ship()
    span = {"tz": "America/New_York", "date_range": ["2026-11-01T00:00", "2026-11-01T03:00"]}
    alone = query(client, metrics=["count"], dimensions=["time:hour"], **span)
    assert rows(alone) == [
        ("2026-11-01T00:00-04:00", 0),
        ("2026-11-01T01:00-04:00", 1),
        ("2026-11-01T01:00-05:00", 2),
        ("2026-11-01T02:00-05:00", 0),
    ]
    paired = query(client, metrics=["count"], dimensions=["time:hour", "id"], **span)
    assert rows(paired) == [
        ("2026-11-01T01:00-04:00", "fall", 1),
        ("2026-11-01T01:00-05:00", "fall", 2),
    ]
    tock = client.get(
        "/tock/fall.json?site=shop&interval=hour&tz=America/New_York"
        "&from=2026-11-01T00:00&to=2026-11-01T03:00",
        headers=AUTH,
    ).get_json()
    assert tock["views"] == dict(rows(alone))
    assert sum(tock["views"].values()) == tock["totals"]["views"] == 3


def test_sums_averages_and_percentiles_of_numeric_parameters(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    prices = [10, 20, 30, 40, 100]
    send(client, [{"id": "p", "price": p, "time": "2015-05-05T10:00:00Z"} for p in prices])
    send(client, [{"id": "p", "time": "2015-05-05T10:00:00Z"}])  # no price: not in the numbers
    ship()
    result = query(client, metrics=["count", "sum:price", "avg:price", "min:price",
                                    "max:price", "p50:price"],
                   date_range=["2015-05-05", "2015-05-06"])  # fmt: skip
    assert rows(result) == [(6, 200, 40, 10, 100, 30)]
    assert result["meta"]["approximate"] is True
    assert result["meta"]["approximate_metrics"] == ["p50:price"]


def test_filters_combine(client: FlaskClient, ship: Callable[[], int]) -> None:
    send(client, [
        {"id": "f", "event": "download", "format": "csv", "time": "2015-06-01T10:00:00Z"},
        {"id": "f", "event": "download", "format": "CSV.gz", "time": "2015-06-01T10:00:00Z"},
        {"id": "f", "event": "download", "format": "kml", "time": "2015-06-01T10:00:00Z"},
        {"id": "f", "event": "view", "format": "csv", "time": "2015-06-01T10:00:00Z"},
        {"id": "g", "event": "download", "format": "csv", "time": "2015-06-01T10:00:00Z"},
    ])  # fmt: skip
    ship()
    window = ["2015-06-01", "2015-06-02"]
    both = query(client, metrics=["count"], date_range=window, filters=[
        ["is", "event", ["download"]], ["contains", "format", ["csv"]], ["is_not", "id", ["g"]],
    ])  # fmt: skip
    assert rows(both) == [(2,)]
    regex = query(client, metrics=["count"], date_range=window,
                  filters=[["matches", "format", ["k.l|csv"]]])  # fmt: skip
    assert rows(regex) == [(4,)]
    by_format = query(client, metrics=["count"], dimensions=["format"], date_range=window,
                      filters=[["is", "event", ["download"]]])  # fmt: skip
    assert rows(by_format) == [("csv", 2), ("CSV.gz", 1), ("kml", 1)]


def test_month_over_month_and_year_over_year_line_up(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, [
        {"id": "c", "time": "2015-02-28T12:00:00Z"},
        {"id": "c", "time": "2015-03-01T12:00:00Z"},
        {"id": "c", "time": "2015-03-31T12:00:00Z"},
        {"id": "c", "time": "2015-03-31T13:00:00Z"},
        {"id": "c", "time": "2014-03-31T12:00:00Z"},
    ])  # fmt: skip
    ship()
    march = ["2015-03-01", "2015-04-01"]
    monthly = query(client, metrics=["count"], dimensions=["time:month"], date_range=march,
                    compare="previous")  # fmt: skip
    (row,) = monthly["results"]
    assert row["dimensions"] == ["2015-03"]
    assert row["metrics"] == [3]
    assert row["compare"] == {"metrics": [1], "change": [200.0]}
    assert monthly["query"]["compare"]["date_range"][0].startswith("2015-02-01")

    daily = query(client, metrics=["count"], dimensions=["time:day"], date_range=march,
                  compare="month")  # fmt: skip
    by_day = {r["dimensions"][0]: r for r in daily["results"]}
    assert len(by_day) == 31
    assert by_day["2015-03-31"]["compare"]["metrics"] == [1]  # Feb 28, the month's last day
    assert by_day["2015-03-01"]["compare"]["metrics"] == [0]  # Feb 1

    yearly = query(client, metrics=["count"], date_range=["2015-03-31", "2015-04-01"],
                   compare="year")  # fmt: skip
    assert yearly["results"][0]["metrics"] == [2]
    assert yearly["results"][0]["compare"] == {"metrics": [1], "change": [100.0]}

    tock = client.get("/tock/c?from=2015-03-30&to=2015-04-01&compare=month").get_json()
    assert tock["views"] == {"2015-03-30": 0, "2015-03-31": 0}  # the hits are in site shop
    shop = client.get(
        "/tock/c?site=shop&from=2015-03-30&to=2015-04-01&compare=month", headers=AUTH
    ).get_json()
    assert shop["views"] == {"2015-03-30": 0, "2015-03-31": 2}
    assert shop["views_compare"] == {"2015-03-30": 1, "2015-03-31": 1}
    assert shop["totals_compare"]["views"] == 1


def test_paging_through_a_breakdown_larger_than_one_page(
    client: FlaskClient, ship: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    send(client, [{"id": f"item-{n:02d}", "time": "2015-07-01T10:00:00Z"} for n in range(25)]
         + [{"id": "item-07", "time": "2015-07-01T11:00:00Z"}] * 3)  # fmt: skip
    ship()
    monkeypatch.setattr(builder, "COMPOSITE_PAGE", 4)  # Elasticsearch is asked 7+ times
    window = ["2015-07-01", "2015-07-02"]
    # exact: every bucket is read, so the composite aggregation is paged (not the top-N plan)
    first = query(client, metrics=["count"], dimensions=["id"], date_range=window, limit=10,
                  exact=True)  # fmt: skip
    assert first["meta"]["total_rows"] == 25
    assert first["meta"]["has_more"] is True
    assert rows(first)[0] == ("item-07", 4)  # ordered by count, descending
    seen = [r[0] for r in rows(first)]
    for page in (2, 3):
        more = query(client, metrics=["count"], dimensions=["id"], date_range=window,
                     limit=10, page=page, exact=True)  # fmt: skip
        seen += [r[0] for r in rows(more)]
    assert sorted(seen) == [f"item-{n:02d}" for n in range(25)]
    alphabetical = query(client, metrics=["count"], dimensions=["id"], date_range=window,
                         order_by=[["id", "desc"]], limit=2)  # fmt: skip
    assert rows(alphabetical) == [("item-24", 1), ("item-23", 1)]


def test_csv_export_holds_the_same_rows_as_json(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, [{"id": "e", "format": f, "time": "2015-08-01T10:00:00Z"}
                  for f in ["csv", "csv", "=cmd()", "kml"]])  # fmt: skip
    ship()
    body = {
        "metrics": ["count"],
        "dimensions": ["format"],
        "date_range": ["2015-08-01", "2015-08-02"],
    }
    as_json = query(client, **body)
    response = client.post("/api/v1/query?format=csv", json={"site": "shop", **body}, headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert table[0] == ["format", "count"]
    expected = [[str(d).replace("=cmd()", "'=cmd()"), str(c)] for d, c in rows(as_json)]
    assert table[1:] == expected


def test_queries_need_a_read_key_and_name_bad_fields(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, [{"id": "k", "event": "view"}])
    ship()
    body = {"site": "shop", "metrics": ["count"]}
    assert client.post("/api/v1/query", json=body).status_code == 401
    write_key = {"Authorization": f"Bearer {WRITE_KEY}"}
    assert client.post("/api/v1/query", json=body, headers=write_key).status_code == 401
    unknown = client.post(
        "/api/v1/query", json={**body, "dimensions": ["nothing.here"]}, headers=AUTH
    )
    assert unknown.status_code == 422
    assert unknown.get_json()["error"]["field"] == "dimensions"
    assert client.post("/api/v1/query", data="{", headers=AUTH).status_code == 400
    regex = client.post(
        "/api/v1/query",
        json={**body, "filters": [["matches", "event", ["(unclosed"]]]},
        headers=AUTH,
    )
    assert regex.status_code == 422


def test_the_format_in_the_url_wins_but_the_body_is_checked_too(client: FlaskClient) -> None:
    body = {"site": "shop", "metrics": ["count"], "format": "json"}
    as_csv = client.post("/api/v1/query?format=csv", json=body, headers=AUTH)
    assert (as_csv.status_code, as_csv.mimetype) == (200, "text/csv")
    # a body the schema refuses is refused, even when the URL names another format
    bad = client.post("/api/v1/query?format=csv", json={**body, "format": "pdf"}, headers=AUTH)
    assert bad.status_code == 422 and "format" in bad.get_json()["error"]["message"]
    in_url = client.post("/api/v1/query?format=pdf", json=body, headers=AUTH)
    assert (in_url.status_code, in_url.get_json()["error"]["field"]) == (422, "format")


@pytest.mark.parametrize(
    "content_type",
    [None, "application/x-www-form-urlencoded", "application/json; charset=utf-8"],
)
def test_a_json_object_is_the_query_whatever_type_curl_sent_it_with(
    client: FlaskClient, ship: Callable[[], int], content_type: str | None
) -> None:
    # `curl -d '{...}'` sends application/x-www-form-urlencoded unless told otherwise
    send(client, [{"id": "c", "time": "2015-06-01T10:00:00Z"}])
    ship()
    body = b'{"site": "shop", "metrics": ["count"], "date_range": ["2015-06-01", "2015-06-02"]}'
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    answer = client.post("/api/v1/query", data=body, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    assert rows(answer.get_json()) == [(1,)]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "complaint"),
    [
        (b"metrics=count", "application/x-www-form-urlencoded", 400, "not valid JSON"),
        (b'["count"]', "application/x-www-form-urlencoded", 400, "not a JSON object"),
        (b"", None, 400, "empty"),
        (b'{"metrics": ["count"]}', "text/csv", 415, "text/csv is not read here"),
        (b'{"metrics": ', "application/json", 400, "not valid JSON"),
    ],
)
def test_a_body_that_is_not_a_json_query_says_how_to_send_one(
    client: FlaskClient, body: bytes, content_type: str | None, status: int, complaint: str
) -> None:
    headers = {**AUTH, **({"Content-Type": content_type} if content_type else {})}
    answer = client.post("/api/v1/query", data=body, headers=headers)
    assert answer.status_code == status
    error = answer.get_json()["error"]
    assert complaint in error["message"] and "Content-Type: application/json" in error["message"]
    assert error["code"] == ("unsupported_media_type" if status == 415 else "malformed_json")


def test_a_query_elasticsearch_refuses_is_a_422_without_elasticsearch_s_words(
    client: FlaskClient, ship: Callable[[], int], caplog: pytest.LogCaptureFixture
) -> None:
    send(client, [{"id": "a", "event": "view"}])
    ship()
    caplog.set_level(logging.INFO, logger="metronome.query.reads")
    answer = client.post(
        "/api/v1/query",
        json={"site": "shop", "metrics": ["count"], "filters": [["matches", "id", ["a{2,1}"]]]},
        headers=AUTH,
    )
    assert answer.status_code == 422, answer.get_json()
    error = answer.get_json()["error"]
    assert error["code"] == "invalid_query"
    assert "regular expression" in error["message"]
    assert "exception" not in error["message"].lower()
    assert "metronome-" not in error["message"]  # no index name
    assert any("refused a query" in record.getMessage() for record in caplog.records)


def test_a_query_of_a_name_that_is_no_stream_never_reaches_elasticsearch(
    client: FlaskClient, app: Flask
) -> None:
    catalog = app.extensions["metronome"].catalog
    before = catalog.cached_streams()
    answer = client.post(
        "/api/v1/query",
        json={"site": "shop", "stream": "../_all?" + "x" * 300, "metrics": ["count"]},
        headers=AUTH,
    )
    assert answer.status_code == 422
    assert "is not a stream name" in answer.get_json()["error"]["message"]
    assert catalog.cached_streams() == before


def test_the_field_catalog_keeps_a_bounded_number_of_streams(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(catalog_module, "MAX_STREAMS", 4)
    catalog = app.extensions["metronome"].catalog
    for number in range(6):
        catalog.fields(f"never_sent_{number}")
    assert catalog.cached_streams() == 4
    assert "keyword" in catalog.fields("hits").values()  # the newest are kept, and still work


def test_the_fields_of_a_stream_are_listed_with_their_kinds(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    send(client, [{"id": "f", "event": "view", "load_ms": 120}])
    ship()
    response = client.get("/api/v1/fields?site=shop&stream=hits", headers=AUTH)
    assert response.status_code == 200, response.get_json()
    answer = response.get_json()
    assert (answer["site"], answer["stream"]) == ("shop", "hits")
    kinds = {f["name"]: f["kind"] for f in answer["fields"]}
    assert kinds["event"] == "keyword"
    assert kinds["id"] == "keyword"
    assert kinds["bot"] == "boolean"
    assert kinds["load_ms"] == "number"
    assert kinds["@timestamp"] == "date"
    names = [f["name"] for f in answer["fields"]]
    assert names == sorted(names)

    refused = client.get("/api/v1/fields?site=shop&stream=no%20such", headers=AUTH)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["code"] == "invalid_stream"
    assert client.get("/api/v1/fields?site=shop").status_code == 401
