"""Every body of docs/api.md section 3.1 reaches Elasticsearch, enriched, after the shipper ran.

Each test posts through the Flask test client, runs ``ship()`` (spool -> ``_bulk`` -> refresh)
and reads the stored documents back from the test's own ``<prefix>-hits-*`` indices.
"""

from __future__ import annotations

import gzip
import re
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metronome.config import Settings
from tests.conftest import WRITE_KEY, error_of

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"
HEX_ID = re.compile(r"^[0-9a-f]{32}$")
VISITOR_HASH = re.compile(r"^[0-9a-f]{16}$")

Ship = Callable[[], int]


# --- helpers -------------------------------------------------------------------------------


class Store:
    """Reads back what the shipper stored in this test's own hit indices."""

    def __init__(self, es: Elasticsearch, settings: Settings) -> None:
        self.es = es
        self.prefix = settings.elasticsearch.index_prefix
        self.pattern = f"{self.prefix}-hits-*"

    def hits(self) -> list[dict[str, Any]]:
        """Every stored hit, each ``_source`` with its ``_id`` and ``_index`` added."""
        response = self.es.search(index=self.pattern, size=1000, sort=[{"@timestamp": "asc"}])
        return [
            {**hit["_source"], "_id": hit["_id"], "_index": hit["_index"]}
            for hit in response["hits"]["hits"]
        ]

    def only(self) -> dict[str, Any]:
        hits = self.hits()
        assert len(hits) == 1, hits
        return hits[0]

    def properties(self) -> dict[str, Any]:
        mapping = self.es.indices.get_mapping(index=self.pattern)
        return dict(next(iter(mapping.body.values()))["mappings"]["properties"])


@pytest.fixture
def store(es: Elasticsearch, settings: Settings) -> Store:
    return Store(es, settings)


def accepted(response: TestResponse, count: int) -> dict[str, Any]:
    assert response.status_code == 202, response.data
    body = response.get_json()
    assert isinstance(body, dict)
    assert body["accepted"] == count
    return body


def ndjson(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def recent(text: str, seconds: float = 120) -> bool:
    moment = datetime.fromisoformat(text)
    return abs(datetime.now(UTC) - moment) < timedelta(seconds=seconds)


# --- one body per format -------------------------------------------------------------------


def test_a_json_object_is_stored_with_every_enrichment_field(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    hit = {
        "id": "dataset-42",
        "event": "download",
        "format": "csv",
        "time": "2015-01-22T13:05:00+01:00",
        "url": "https://www.Example.org/data/set-1/?q=1#top",
        "referrer": "https://news.example.com/articles/dc-news/",
        "session": "s-1",
        "key": "not-a-real-key-but-never-stored",
        "price": 12.5,
        "plan": "pro",
        "product_info": {"price": 3, "name": "widget"},
    }
    accepted(client.post("/tick", json=hit, headers={"User-Agent": CHROME}), 1)
    assert ship() == 1

    doc = store.only()
    assert doc["_index"] == f"{store.prefix}-hits-2015.01"  # the month of the event's time
    assert doc["@timestamp"] == "2015-01-22T12:05:00.000Z"  # the event's time, in UTC
    assert recent(doc["received_at"])
    assert doc["@version"] == "1"
    assert doc["type"] == "hits"
    assert doc["site"] == "default"
    assert (doc["id"], doc["event"], doc["format"], doc["session"]) == (
        "dataset-42",
        "download",
        "csv",
        "s-1",
    )
    assert doc["price"] == 12.5
    assert doc["plan"] == "pro"
    assert doc["product_info"] == {"price": 3, "name": "widget"}
    assert doc["user_agent"] == {
        "original": CHROME,
        "name": "Chrome",
        "version": "120.0.0.0",
        "os": "Windows",
        "os_version": "10",
        "device": "desktop",
    }
    assert doc["bot"] is False
    assert doc["client_ip"] == "127.0.0.0"  # 127.0.0.1 truncated to its /24
    assert VISITOR_HASH.match(doc["visitor"])
    assert HEX_ID.match(doc["hit_id"])
    assert doc["_id"] == f"{doc['site']}:{doc['hit_id']}"  # hit_ids are scoped by site
    assert "key" not in doc
    assert "time" not in doc
    assert doc["url"] == {
        "full": "https://www.Example.org/data/set-1/",  # no query or fragment (enrich.urls)
        "host": "example.org",
        "path": "/data/set-1/",
        "page": "example.org/data/set-1",
    }
    assert doc["referrer"] == {
        "full": "https://news.example.com/articles/dc-news/",
        "host": "news.example.com",
        "path": "/articles/dc-news/",
        "page": "news.example.com/articles/dc-news",
    }


def test_a_hit_without_time_is_stamped_with_the_receive_time(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    accepted(client.post("/tick", json={"id": "now"}), 1)
    ship()
    doc = store.only()
    assert doc["@timestamp"] == doc["received_at"]
    assert recent(doc["@timestamp"])
    assert doc["event"] == "view"  # the default event


def test_epoch_millisecond_time_sets_the_timestamp(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    accepted(client.post("/tick", json={"id": "epoch", "time": 1421931900123}), 1)
    ship()
    doc = store.only()
    assert doc["@timestamp"] == "2015-01-22T13:05:00.123Z"
    assert doc["_index"].endswith("-hits-2015.01")


def test_a_json_array_stores_every_hit_of_the_batch(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    batch = [{"id": "arr", "n": n, "hit_id": f"arr-{n}"} for n in range(3)]
    assert accepted(client.post("/tick", json=batch), 3) == {"accepted": 3}
    assert ship() == 3
    docs = store.hits()
    assert sorted(doc["_id"] for doc in docs) == ["default:arr-0", "default:arr-1", "default:arr-2"]
    assert sorted(doc["n"] for doc in docs) == [0, 1, 2]


def test_text_plain_json_from_send_beacon_is_stored(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    # navigator.sendBeacon(url, string) sends exactly this content type: no CORS preflight.
    beacon = "text/plain;charset=UTF-8"
    one = b'{"id": "beacon", "event": "leave", "n": 0}'
    two = b'[{"id": "beacon", "event": "leave", "n": 1}, {"id": "beacon", "n": 2}]'
    accepted(client.post("/tick", data=one, content_type=beacon), 1)
    accepted(client.post("/tick", data=two, content_type=beacon), 2)
    assert ship() == 3
    docs = sorted(store.hits(), key=lambda doc: int(doc["n"]))
    assert [(doc["id"], doc["event"], doc["n"]) for doc in docs] == [
        ("beacon", "leave", 0),
        ("beacon", "leave", 1),
        ("beacon", "view", 2),
    ]


def test_ndjson_keeps_good_lines_and_rejects_the_bad_line_by_index(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    for number, content_type in enumerate(["application/x-ndjson", "application/jsonlines"]):
        body = ndjson(
            f'{{"id": "nd", "n": 1, "round": {number}}}',
            '{"id": "nd", oops}',
            "",  # blank lines are skipped, not hits
            f'{{"id": "nd", "n": 3, "round": {number}}}',
        )
        answer = accepted(client.post("/tick", data=body, content_type=content_type), 2)
        assert len(answer["rejected"]) == 1, content_type
        rejected = answer["rejected"][0]
        assert rejected["index"] == 1
        assert rejected["error"]["code"] == "invalid_hit"
        assert "Line 2" in rejected["error"]["message"]
    assert ship() == 4
    stored = sorted((doc["round"], doc["n"]) for doc in store.hits())
    assert stored == [(0, 1), (0, 3), (1, 1), (1, 3)]


def test_a_form_body_types_numbers_nests_dotted_keys_and_keeps_reserved_fields_text(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    form = (
        "id=0042&event=download&format=csv&visitor=v-7&time=1421931900000"
        "&price=12.50&qty=3&neg=-4&big=12345678901234567890&zip=007"
        "&product_info.price=9.99&product_info.sku=A-1&note=hello+w%C3%B6rld"
    )
    response = client.post(
        "/tick", data=form, content_type="application/x-www-form-urlencoded; charset=utf-8"
    )
    accepted(response, 1)
    ship()
    doc = store.only()
    assert doc["id"] == "0042"  # reserved: stays text
    assert doc["visitor"] == "v-7"
    assert doc["@timestamp"] == "2015-01-22T13:05:00.000Z"
    assert doc["price"] == 12.5
    assert doc["qty"] == 3
    assert doc["neg"] == -4
    assert doc["big"] == "12345678901234567890"  # beyond 2^53: kept exact as text
    assert doc["zip"] == "007"  # a leading zero is not a number
    assert doc["product_info"] == {"price": 9.99, "sku": "A-1"}
    assert doc["note"] == "hello wörld"
    properties = store.properties()
    assert properties["price"]["type"] == "double"
    assert properties["product_info"]["properties"]["price"]["type"] == "double"
    assert properties["product_info"]["properties"]["sku"]["type"] == "keyword"


def test_gzip_json_and_ndjson_bodies_are_inflated_and_stored(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    bodies = {
        "application/json": b'[{"id": "gz-json", "n": 1}, {"id": "gz-json", "n": 2}]',
        "application/x-ndjson": ndjson('{"id": "gz-nd", "n": 1}', '{"id": "gz-nd", "n": 2}'),
    }
    for content_type, body in bodies.items():
        response = client.post(
            "/tick",
            data=gzip.compress(body),
            content_type=content_type,
            headers={"Content-Encoding": "gzip"},
        )
        accepted(response, 2)
    assert ship() == 4
    stored = sorted((doc["id"], doc["n"]) for doc in store.hits())
    assert stored == [("gz-json", 1), ("gz-json", 2), ("gz-nd", 1), ("gz-nd", 2)]


# --- the pixel -----------------------------------------------------------------------------


def test_the_pixel_answers_a_transparent_1x1_gif_and_stores_the_hit(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    response = client.get(
        "/tick.gif?id=mail-7&event=open&campaign=spring&opens=2&_=1700000000123",
        headers={"User-Agent": CHROME},
    )
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    assert response.data[:6] in (b"GIF87a", b"GIF89a")
    assert struct.unpack("<HH", response.data[6:10]) == (1, 1)
    assert "no-store" in response.headers["Cache-Control"]
    assert ship() == 1
    doc = store.only()
    assert (doc["id"], doc["event"], doc["campaign"], doc["opens"]) == (
        "mail-7",
        "open",
        "spring",
        2,
    )
    assert "_" not in doc  # the cache-buster is not data
    assert doc["user_agent"]["name"] == "Chrome"
    assert doc["client_ip"] == "127.0.0.0"


def test_the_pixel_writes_to_a_keyed_site_with_the_key_parameter_and_does_not_store_it(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    response = client.get(f"/tick.gif?id=px&site=shop&key={WRITE_KEY}")
    assert response.status_code == 200
    assert response.mimetype == "image/gif"
    ship()
    doc = store.only()
    assert doc["site"] == "shop"
    assert "key" not in doc
    assert WRITE_KEY not in repr(doc)


def test_an_invalid_pixel_hit_is_a_json_error_and_stores_nothing(
    client: FlaskClient, ship: Ship
) -> None:
    refused = [
        ("event=open", 422, "invalid_hit"),  # no id
        ("id=a&id=b", 400, "duplicate_parameter"),
        ("id=a&p.x=1&p=2", 400, "conflicting_parameter"),
        ("id=a&event=has%20space", 422, "invalid_hit"),
        ("id=a&site=shop", 401, "missing_key"),
    ]
    for query, status, code in refused:
        response = client.get(f"/tick.gif?{query}")
        assert response.status_code == status, query
        assert error_of(response)["code"] == code, query
    assert ship() == 0


def test_an_empty_referrer_parameter_in_a_pixel_is_treated_as_absent(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    response = client.get("/tick.gif?id=direct-visit&referrer=&url=")
    assert response.status_code == 200
    ship()
    doc = store.only()
    assert "referrer" not in doc or not doc["referrer"].get("host")


# --- enrichment ----------------------------------------------------------------------------


def test_googlebot_is_flagged_as_a_bot_and_chrome_is_not(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    accepted(client.post("/tick", json={"id": "crawl"}, headers={"User-Agent": GOOGLEBOT}), 1)
    accepted(client.post("/tick", json={"id": "human"}, headers={"User-Agent": CHROME}), 1)
    ship()
    docs = {doc["id"]: doc for doc in store.hits()}
    assert docs["crawl"]["bot"] is True
    assert docs["crawl"]["user_agent"]["device"] == "bot"
    assert docs["crawl"]["user_agent"]["name"] == "Googlebot"
    assert docs["human"]["bot"] is False
    assert docs["human"]["user_agent"]["device"] == "desktop"


def test_a_long_user_agent_is_stored_cut_to_512_characters(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    agent = CHROME + " " + "x" * 5000
    accepted(client.post("/tick", json={"id": "ua"}, headers={"User-Agent": agent}), 1)
    ship()
    assert store.only()["user_agent"]["original"] == agent[:512]


def test_visitor_is_derived_when_absent_and_kept_when_sent(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    chrome = {"User-Agent": CHROME}
    batch = [{"id": "v", "hit_id": "anon-1"}, {"id": "v", "hit_id": "anon-2"}]
    accepted(client.post("/tick", json=batch, headers=chrome), 2)
    accepted(
        client.post(
            "/tick", json={"id": "v", "hit_id": "bot-1"}, headers={"User-Agent": GOOGLEBOT}
        ),
        1,
    )
    accepted(
        client.post("/tick", json={"id": "v", "hit_id": "own", "visitor": "me-1"}, headers=chrome),
        1,
    )
    ship()
    visitors = {doc["hit_id"]: doc["visitor"] for doc in store.hits()}
    assert VISITOR_HASH.match(visitors["anon-1"])
    assert visitors["anon-1"] == visitors["anon-2"]  # same browser, same day, same site
    assert VISITOR_HASH.match(visitors["bot-1"])
    assert visitors["bot-1"] != visitors["anon-1"]  # another user agent
    assert visitors["own"] == "me-1"


def test_hit_id_is_kept_as_the_document_id_and_generated_when_absent(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    batch = [{"id": "h", "hit_id": "client-chosen:1"}, {"id": "h"}, {"id": "h"}]
    accepted(client.post("/tick", json=batch), 3)
    assert ship() == 3
    docs = store.hits()
    assert len(docs) == 3
    ids = {doc["_id"] for doc in docs}
    assert "default:client-chosen:1" in ids
    generated = [doc for doc in docs if doc["hit_id"] != "client-chosen:1"]
    assert all(
        HEX_ID.match(doc["hit_id"]) and doc["_id"] == f"default:{doc['hit_id']}"
        for doc in generated
    )
    assert generated[0]["hit_id"] != generated[1]["hit_id"]


def test_the_write_key_is_never_stored_however_it_is_sent(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    hit = {"id": "k", "site": "shop"}
    accepted(client.post("/tick", json={**hit, "key": WRITE_KEY}), 1)
    accepted(client.post("/tick", json=hit, headers={"X-Metronome-Key": WRITE_KEY}), 1)
    accepted(client.post(f"/tick?key={WRITE_KEY}", json=hit), 1)
    form = f"id=k&site=shop&key={WRITE_KEY}"
    response = client.post("/tick", data=form, content_type="application/x-www-form-urlencoded")
    accepted(response, 1)
    assert ship() == 4
    docs = store.hits()
    assert len(docs) == 4
    for doc in docs:
        assert doc["site"] == "shop"
        assert "key" not in doc
        assert WRITE_KEY not in repr(doc)


URL_CASES: dict[str, tuple[str, dict[str, str]]] = {
    "scheme-www-query": (
        "https://www.Example.ORG/blog/post-1/?utm_source=x&token=t#c",
        {
            "full": "https://www.Example.ORG/blog/post-1/?utm_source=x",  # kept: utm_*, no #
            "host": "example.org",
            "path": "/blog/post-1/",
            "page": "example.org/blog/post-1",
        },
    ),
    "host-only": ("http://example.org", {"host": "example.org", "page": "example.org"}),
    "root": ("http://example.org/", {"host": "example.org", "path": "/", "page": "example.org"}),
    "no-scheme": (
        "example.org/blog",
        {"host": "example.org", "path": "/blog", "page": "example.org/blog"},
    ),
    "relative": ("/relative/only", {"path": "/relative/only"}),
    "app-referrer": (
        "android-app://com.google.android.gm/",
        {"host": "com.google.android.gm", "path": "/", "page": "com.google.android.gm"},
    ),
}


def test_referrer_and_url_are_split_into_host_path_and_page(
    client: FlaskClient, ship: Ship, store: Store
) -> None:
    batch = [
        {"id": "u", "hit_id": name, "url": raw, "referrer": raw}
        for name, (raw, _) in URL_CASES.items()
    ]
    accepted(client.post("/tick", json=batch), len(batch))
    ship()
    docs = {doc["hit_id"]: doc for doc in store.hits()}
    for name, (raw, expected) in URL_CASES.items():
        assert docs[name]["url"] == {"full": raw, **expected}, name
        assert docs[name]["referrer"] == {"full": raw, **expected}, name
