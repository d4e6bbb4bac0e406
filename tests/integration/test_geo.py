"""Locations end to end: a hit, a server-log line and an S3 access-log request from a known
public address are stored with its country in the real Elasticsearch, the client behind a
trusted proxy is the one located, a city database adds region and city, and the query API
breaks traffic down by them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from ingesters.s3_access_logs import S3AccessLogsOptions, S3AccessLogsSource
from metronome.config import GeoSettings
from metronome.enrich.geo import geo_lookup
from metronome.es.templates import install_templates
from tests.conftest import INGEST_KEY, READ_KEY, WRITE_KEY, ClientWith
from tests.fakes.s3 import access_log_line, moto_s3
from tests.geo_db import write_city_db
from tests.integration.sources.contract import CONTRACT_SITE, run, services, stored_documents
from tests.integration.sources.scenarios.s3_access_logs import (
    new_bucket,
    options,
    put_lines,
    s3_client,
)

US = {"country": "US", "country_name": "United States"}
NL = {"country": "NL", "country_name": "Netherlands"}
JP = {"country": "JP", "country_name": "Japan"}
WRITE = {"X-Metronome-Key": WRITE_KEY}
READ = {"Authorization": f"Bearer {READ_KEY}"}


@pytest.fixture(autouse=True)
def templates(es: Elasticsearch, index_prefix: str) -> None:
    install_templates(es, index_prefix)


def stored(es: Elasticsearch, index_prefix: str, stream: str) -> list[dict[str, Any]]:
    found = es.search(index=f"{index_prefix}-{stream}-*", size=100, sort=["@timestamp"])
    return [hit["_source"] for hit in found["hits"]["hits"]]


def tick(client: FlaskClient, hit: Any, peer: str, **headers: str) -> None:
    response = client.post(
        "/tick?site=shop",
        json=hit,
        headers={**WRITE, **headers},
        environ_base={"REMOTE_ADDR": peer},
    )
    assert response.status_code == 202, response.get_json()


def query(client: FlaskClient, stream: str, dimensions: list[str]) -> dict[tuple[Any, ...], int]:
    response = client.post(
        "/api/v1/query",
        json={
            "site": "shop",
            "stream": stream,
            "metrics": ["count"],
            "dimensions": dimensions,
            "date_range": "today",
        },
        headers=READ,
    )
    assert response.status_code == 200, response.get_json()
    return {tuple(row["dimensions"]): row["metrics"][0] for row in response.get_json()["results"]}


def test_hits_store_the_country_of_their_client_and_the_query_api_breaks_them_down(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    tick(client, {"id": "/pricing"}, "8.8.8.8")
    tick(client, [{"id": "/pricing"}, {"id": "/docs"}], "193.0.14.129")  # one lookup, two hits
    tick(client, {"id": "/pricing"}, "192.168.1.20")  # a private address: no location
    ship()
    docs = stored(es, index_prefix, "hits")
    assert sorted((d["client_ip"], d.get("geo")) for d in docs) == sorted(
        [("8.8.8.0", US), ("193.0.14.0", NL), ("193.0.14.0", NL), ("192.168.1.0", None)]
    )
    assert query(client, "hits", ["geo.country_name"]) == {
        ("Netherlands",): 2,
        ("United States",): 1,
        (None,): 1,  # the private address: documents without the field
    }
    assert query(client, "hits", ["geo.country", "id"]) == {
        ("NL", "/docs"): 1,
        ("NL", "/pricing"): 1,
        ("US", "/pricing"): 1,
        (None, "/pricing"): 1,
    }


def test_behind_a_trusted_proxy_the_forwarded_client_is_located_and_stored(
    client_with: ClientWith, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    _, proxied = client_with(rate_limits={"trusted_proxies": ["127.0.0.1"]})
    forged_then_real = {"X-Forwarded-For": "203.0.113.50, 203.178.141.194"}
    tick(proxied, {"id": "/a"}, "127.0.0.1", **forged_then_real)
    # From a peer that is not a trusted proxy the header proves nothing.
    tick(proxied, {"id": "/b"}, "8.8.4.4", **{"X-Forwarded-For": "203.178.141.194"})
    pixel = proxied.get(
        "/tick.gif?site=shop&id=/c&key=" + WRITE_KEY,
        headers={"X-Forwarded-For": "193.0.14.129"},
        environ_base={"REMOTE_ADDR": "127.0.0.1"},
    )
    assert pixel.status_code == 200
    ship()
    by_id = {d["id"]: d for d in stored(es, index_prefix, "hits")}
    assert (by_id["/a"]["client_ip"], by_id["/a"]["geo"]) == ("203.178.141.0", JP)
    assert (by_id["/b"]["client_ip"], by_id["/b"]["geo"]) == ("8.8.4.0", US)
    assert (by_id["/c"]["client_ip"], by_id["/c"]["geo"]) == ("193.0.14.0", NL)


def test_with_geo_off_nothing_is_located(
    client_with: ClientWith, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    _, off = client_with(enrich={"geo": {"enabled": False}})
    tick(off, {"id": "/pricing"}, "8.8.8.8")
    ship()
    [doc] = stored(es, index_prefix, "hits")
    assert doc["client_ip"] == "8.8.8.0" and "geo" not in doc


def test_a_city_database_adds_region_and_city_to_hits(
    client_with: ClientWith,
    ship: Callable[[], int],
    es: Elasticsearch,
    index_prefix: str,
    tmp_path: Path,
) -> None:
    mmdb = write_city_db(tmp_path / "city.mmdb")
    _, city = client_with(enrich={"geo": {"mmdb": str(mmdb)}}, privacy={"ip": "drop"})
    tick(city, {"id": "/a"}, "8.8.8.8")
    tick(city, {"id": "/b"}, "2001:4860:4860::8888")
    tick(city, {"id": "/c"}, "9.9.9.9")
    ship()
    docs = {d["id"]: d for d in stored(es, index_prefix, "hits")}
    assert all("client_ip" not in doc for doc in docs.values())  # located, yet not stored
    assert docs["/a"]["geo"] == {
        "country": "DE",
        "country_name": "Germany",
        "region": "Land Berlin",
        "city": "Berlin",
    }
    assert docs["/b"]["geo"]["city"] == "Mountain View"
    assert docs["/c"]["geo"] == US  # not in the city database: the registry's country
    assert query(city, "hits", ["geo.region", "geo.city"]) == {
        ("California", "Mountain View"): 1,
        ("Land Berlin", "Berlin"): 1,
        (None, None): 1,  # 9.9.9.9: a country only
    }


def test_a_server_log_line_stores_the_country_of_its_client(
    client_with: ClientWith, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> None:
    _, logs = client_with(logs={"site": "shop"})
    moment = datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    lines = [
        f'{address} - - [{moment}] "GET /datasets/42.csv HTTP/1.1" 200 512 "-" "curl/8"'
        for address in ("203.178.141.194", "10.0.0.8")
    ]
    response = logs.post(
        "/ingest/logs/nginx.access",
        data="\n".join(json.dumps({"message": line}) for line in lines),
        headers={"Content-Type": "application/x-ndjson", "X-Metronome-Key": INGEST_KEY},
    )
    assert response.status_code == 202, response.get_json()
    ship()
    docs = stored(es, index_prefix, "logs")
    assert sorted((d["client_ip"], d.get("geo")) for d in docs) == [
        ("10.0.0.0", None),
        ("203.178.141.0", JP),
    ]
    assert query(logs, "logs", ["geo.country"]) == {("JP",): 1, (None,): 1}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_s3() as url:
        yield url


def test_an_s3_access_log_request_stores_the_country_of_its_requester(
    endpoint: str, es: Elasticsearch, index_prefix: str
) -> None:
    s3 = s3_client(endpoint)
    bucket = str(new_bucket(s3))
    day = datetime(2024, 5, 1, 9, tzinfo=UTC)
    put_lines(
        s3,
        bucket,
        "logs/2024-05-01-10-00-00-AAAA",
        [
            access_log_line("assets", day, "datasets/42.csv", remote_ip="193.0.14.129"),
            access_log_line("assets", day, "datasets/43.csv", remote_ip="172.16.0.9"),
        ],
    )
    loaded = S3AccessLogsOptions().load(options(bucket, endpoint, ip_mode="drop"))
    reader = S3AccessLogsSource("s3-geo", CONTRACT_SITE, loaded)
    report = run(reader, services(es, index_prefix, geo=geo_lookup(GeoSettings())))
    assert report.ok, report.error
    documents = {d["key"]: d for d in stored_documents(es, index_prefix, reader)}
    assert documents["datasets/42.csv"]["geo"] == NL
    assert "remote_ip" not in documents["datasets/42.csv"]  # ip_mode: drop, located all the same
    assert "geo" not in documents["datasets/43.csv"]
