"""POST /tick -> real Elasticsearch -> GET /tock/:id, with hand-computed expected answers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from tests.conftest import READ_KEY, WRITE_KEY


def tick(client: FlaskClient, body: Any, **kwargs: Any) -> Any:
    return client.post("/tick", json=body, **kwargs)


def test_a_hit_sent_comes_back_in_tock(client: FlaskClient, ship: Callable[[], int]) -> None:
    response = tick(client, {"id": "dataset-42", "referrer": "https://example.org/blog"})
    assert response.status_code == 202
    assert response.get_json() == {"accepted": 1}
    ship()

    tock = client.get("/tock/dataset-42")
    assert tock.status_code == 200
    body = tock.get_json()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    assert body["id"] == "dataset-42"
    assert len(body["views"]) == 30
    assert body["views"][today] == 1
    assert sum(body["views"].values()) == 1
    assert body["referers"] == {"example.org/blog": 1}
    assert body["totals"] == {"views": 1, "downloads": 0, "visitors": 1}  # cookieless visitor
    assert (body["interval"], body["tz"]) == ("day", "UTC")


def test_views_downloads_and_referers_are_counted_exactly(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    hits = (
        [{"id": "ds", "time": "2015-01-21T10:00:00Z", "visitor": f"v{i % 3}"} for i in range(4)]
        + [
            {"id": "ds", "time": "2015-01-22T23:59:59Z", "referrer": "https://arcgis.com/x"},
            {"id": "ds", "time": "2015-01-22T08:00:00Z", "referrer": "http://www.arcgis.com/x/"},
            {"id": "ds", "time": "2015-01-22T09:00:00Z", "referrer": "https://wapo.com/a?b=c"},
        ]
        + [{"id": "ds", "event": "download", "format": "csv", "time": "2015-01-22T01:00:00Z"}] * 3
        + [{"id": "ds", "event": "download", "format": "kml", "time": "2015-01-22T02:00:00Z"}]
        + [{"id": "other", "time": "2015-01-22T10:00:00Z"}]  # another item
        + [{"id": "ds", "time": "2015-01-23T00:00:00Z"}]  # just outside [from, to)
    )
    response = tick(client, hits)
    assert response.get_json() == {"accepted": len(hits)}
    ship()

    body = client.get("/tock/ds.json?from=2015-01-20&to=2015-01-23").get_json()
    assert body["views"] == {"2015-01-20": 0, "2015-01-21": 4, "2015-01-22": 3}
    assert body["downloads"] == {"csv": 3, "kml": 1}
    assert body["referers"] == {"arcgis.com/x": 2, "wapo.com/a": 1}
    # v0, v1, v2 sent by the client, plus one cookieless visitor (same IP and user agent)
    assert body["totals"] == {"views": 7, "downloads": 4, "visitors": 4}
    assert body["from"] == "2015-01-20T00:00:00+00:00"
    assert body["to"] == "2015-01-23T00:00:00+00:00"


def test_buckets_follow_the_requested_time_zone(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    # 23:30 UTC on the 21st is 00:30 on the 22nd in Warsaw.
    tick(client, {"id": "tz", "time": "2015-01-21T23:30:00Z"})
    ship()
    body = client.get("/tock/tz?from=2015-01-21&to=2015-01-23&tz=Europe/Warsaw").get_json()
    assert body["views"] == {"2015-01-21": 0, "2015-01-22": 1}
    assert body["from"] == "2015-01-21T00:00:00+01:00"


def test_week_month_and_hour_intervals(client: FlaskClient, ship: Callable[[], int]) -> None:
    tick(
        client,
        [
            {"id": "w", "time": "2015-01-19T00:00:00Z"},  # Monday of W04
            {"id": "w", "time": "2015-01-25T23:00:00Z"},  # Sunday of W04
            {"id": "w", "time": "2015-02-02T12:30:00Z"},  # W06
        ],
    )
    ship()
    weeks = client.get("/tock/w?from=2015-01-12&to=2015-02-09&interval=week").get_json()
    assert weeks["views"] == {"2015-W03": 0, "2015-W04": 2, "2015-W05": 0, "2015-W06": 1}
    months = client.get("/tock/w?from=2015-01-01&to=2015-04-01&interval=month").get_json()
    assert months["views"] == {"2015-01": 2, "2015-02": 1, "2015-03": 0}
    hours = client.get(
        "/tock/w?from=2015-02-02T11:00:00Z&to=2015-02-02T14:00:00Z&interval=hour"
    ).get_json()
    assert hours["views"] == {
        "2015-02-02T11:00+00:00": 0,
        "2015-02-02T12:00+00:00": 1,
        "2015-02-02T13:00+00:00": 0,
    }


def test_a_hit_lands_in_the_index_of_its_own_month(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    last_week = datetime.now(UTC) - timedelta(days=7)
    tick(client, {"id": "late", "time": last_week.isoformat(), "hit_id": "late-1"})
    ship()
    index = f"{settings.elasticsearch.index_prefix}-hits-{last_week:%Y.%m}"  # hits: by month
    document = es.get(index=index, id="default:late-1")  # hit_ids are scoped by site
    source = document["_source"]
    assert source["id"] == "late"
    assert source["@version"] == "1"
    assert source["type"] == "hits"
    assert source["site"] == "default"


def test_the_same_hit_id_sent_twice_is_stored_once(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    batch = [{"id": "dup", "hit_id": f"h-{i}"} for i in range(5)]
    assert tick(client, batch).get_json() == {"accepted": 5}
    assert ship() == 5
    assert tick(client, batch).get_json() == {"accepted": 5}
    assert ship() == 5  # shipped again, and Elasticsearch answers 409: already stored
    count = es.count(index=f"{settings.elasticsearch.index_prefix}-hits-*")["count"]
    assert count == 5
    assert client.get("/tock/dup").get_json()["totals"]["views"] == 5


def test_strings_are_keywords_and_numbers_doubles_in_the_index(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    tick(client, [{"id": "m", "price": 3, "plan": "pro"}, {"id": "m", "price": 3.5}])
    ship()
    mapping = es.indices.get_mapping(index=f"{settings.elasticsearch.index_prefix}-hits-*")
    properties = next(iter(mapping.body.values()))["mappings"]["properties"]
    assert properties["price"]["type"] == "double"
    assert properties["plan"]["type"] == "keyword"
    assert properties["@timestamp"]["type"] == "date"
    assert properties["referrer"]["properties"]["page"]["type"] == "keyword"
    total = es.search(
        index=f"{settings.elasticsearch.index_prefix}-hits-*",
        size=0,
        aggs={"sum": {"sum": {"field": "price"}}},
    )
    assert total["aggregations"]["sum"]["value"] == 6.5


def test_a_keyed_site_needs_its_write_key_and_read_key(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    hit = {"id": "secret", "site": "shop"}
    missing = tick(client, hit)
    assert missing.status_code == 401
    assert missing.get_json()["error"]["code"] == "missing_key"
    wrong = tick(client, hit, headers={"X-Metronome-Key": READ_KEY})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "invalid_key"
    ok = tick(client, hit, headers={"X-Metronome-Key": WRITE_KEY})
    assert ok.status_code == 202
    in_field = tick(client, {**hit, "key": WRITE_KEY})
    assert in_field.status_code == 202
    ship()

    assert client.get("/tock/secret?site=shop").status_code == 401
    assert (
        client.get("/tock/secret?site=shop", headers={"X-Metronome-Key": WRITE_KEY}).status_code
        == 401
    )
    read = client.get("/tock/secret?site=shop", headers={"Authorization": f"Bearer {READ_KEY}"})
    assert read.status_code == 200
    assert read.get_json()["totals"]["views"] == 2
    # The public default site does not see the shop's hits.
    assert client.get("/tock/secret").get_json()["totals"]["views"] == 0


def test_a_page_path_is_an_id_that_tock_answers_for(
    client: FlaskClient, ship: Callable[[], int]
) -> None:
    # The JS snippet names pages by path: "/shop/item-1" is read at /tock//shop/item-1.
    for item in ("/shop/item-1", "/shop/item-1", "shop/item-1", "/"):
        assert tick(client, {"id": item}).status_code == 202
    ship()
    assert client.get("/tock//shop/item-1").get_json()["totals"]["views"] == 2
    assert client.get("/tock/%2Fshop%2Fitem-1").get_json()["totals"]["views"] == 2
    assert client.get("/tock/shop/item-1").get_json()["totals"]["views"] == 1
    home = client.get("/tock//.json").get_json()
    assert (home["id"], home["totals"]["views"]) == ("/", 1)


def test_a_tock_answer_some_shards_failed_is_refused_not_short(
    client: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    # A day whose index maps `id` otherwise (as an index of an older release could): the
    # search fails on that day's shard alone, which would leave the views short by its hits.
    prefix = settings.elasticsearch.index_prefix
    tick(client, [{"id": "mixed-day", "time": "2014-12-01T10:00:00Z"}] * 2)
    ship()
    es.indices.create(
        index=f"{prefix}-hits-2014.12.02",
        mappings={"properties": {"id": {"type": "long"}, "site": {"type": "keyword"}}},
    )
    es.index(
        index=f"{prefix}-hits-2014.12.02",
        document={"id": 7, "site": "default", "@timestamp": "2014-12-02T10:00:00Z"},
        refresh=True,
    )
    response = client.get("/tock/mixed-day?from=2014-12-01&to=2014-12-03")
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "invalid_query"
    whole = client.get("/tock/mixed-day?from=2014-12-01&to=2014-12-02").get_json()
    assert whole["totals"]["views"] == 2
