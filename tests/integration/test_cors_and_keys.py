"""Which pages may send hits (CORS), which keys may write or read, and what happens when the
spool is full, visible in ``/metrics`` and ``/readyz`` (docs/api.md sections 2, 3 and 6)."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient
from werkzeug.test import Client, TestResponse

from metronome.config import Settings
from metronome.es.templates import install_templates
from metronome.spool.shipper import Shipper
from metronome.spool.writer import spool_bytes
from metronome.web.app import create_app
from metronome.web.fastpath import FastPath
from tests.conftest import METRICS_AUTH, error_of, flask_calls, make_settings

WEB_WRITE = "pk_web_write_0001"
WEB_READ = "sk_web_read_0001"
OTHER_WRITE = "pk_other_write_0001"
ALLOWED = "https://shop.example"
ALSO_ALLOWED = "https://www.shop.example"  # configured with a trailing slash
FORBIDDEN = "https://evil.example"

SITES: dict[str, Any] = {
    "default": {"write_auth": "none", "public_tock": True},
    "web": {
        "write_auth": "key",
        "write_keys": [WEB_WRITE],
        "read_keys": [WEB_READ],
        "allowed_origins": [ALLOWED, ALSO_ALLOWED + "/"],
    },
    "open": {"write_auth": "none", "allowed_origins": ["*"]},
    "other": {"write_auth": "key", "write_keys": [OTHER_WRITE]},
}


@dataclass
class Stack:
    """One Metronome app over the test's own indices and spool, and its shipper."""

    client: FlaskClient
    es: Elasticsearch
    settings: Settings

    @property
    def prefix(self) -> str:
        return self.settings.elasticsearch.index_prefix

    def ship(self) -> int:
        shipper = Shipper(self.settings.spool.dir, self.es, self.prefix, self.settings.shipper)
        shipped = 0
        while handled := shipper.run_once():
            shipped += handled
        self.es.indices.refresh(index=f"{self.prefix}-*", allow_no_indices=True)
        return shipped

    def stored(self, site: str | None = None) -> list[dict[str, Any]]:
        query = {"term": {"site": site}} if site else {"match_all": {}}
        response = self.es.search(
            index=f"{self.prefix}-hits-*", query=query, size=1000, allow_no_indices=True
        )
        return [hit["_source"] for hit in response["hits"]["hits"]]


def build(es: Elasticsearch, settings: Settings) -> Stack:
    install_templates(es, settings.elasticsearch.index_prefix)
    return Stack(create_app(settings, es=es).test_client(), es, settings)


@pytest.fixture
def stack(es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path) -> Stack:
    return build(es, make_settings(es_url, index_prefix, tmp_path / "spool", sites=SITES))


def preflight(client: FlaskClient, path: str, origin: str) -> TestResponse:
    return client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, x-metronome-key",
        },
    )


def listed(header: str | None) -> set[str]:
    return {item.strip().lower() for item in (header or "").split(",") if item.strip()}


# --- CORS ----------------------------------------------------------------------------------


def test_a_preflight_from_an_allowed_origin_is_204_with_the_cors_headers(stack: Stack) -> None:
    cases = [
        (path, origin)
        for path in ("/tick?site=web", "/tick.gif?site=web", "/tick?site=open")
        for origin in (ALLOWED, ALSO_ALLOWED)
    ]
    for path, origin in cases:
        response = preflight(stack.client, path, origin)
        assert response.status_code == 204, (path, origin)
        assert response.headers["Access-Control-Allow-Origin"] == origin
        methods = listed(response.headers.get("Access-Control-Allow-Methods"))
        assert {"post", "options"} <= methods
        allowed_headers = listed(response.headers.get("Access-Control-Allow-Headers"))
        assert {"content-type", "x-metronome-key", "content-encoding"} <= allowed_headers
        assert "origin" in listed(response.headers.get("Vary"))


def test_a_preflight_from_a_forbidden_origin_is_403_json_without_cors_headers(
    stack: Stack,
) -> None:
    for path in ("/tick?site=web", "/tick.gif?site=web"):
        response = preflight(stack.client, path, FORBIDDEN)
        assert response.status_code == 403
        assert error_of(response)["code"] == "forbidden_origin"
        assert "Access-Control-Allow-Origin" not in response.headers


def test_a_post_from_a_forbidden_origin_is_403_and_stores_nothing(stack: Stack) -> None:
    headers = {"Origin": FORBIDDEN, "X-Metronome-Key": WEB_WRITE}
    as_json = stack.client.post("/tick", json={"id": "x", "site": "web"}, headers=headers)
    assert as_json.status_code == 403
    assert error_of(as_json)["code"] == "forbidden_origin"
    assert "Access-Control-Allow-Origin" not in as_json.headers
    # A text/plain beacon skips the browser's preflight: the server itself must refuse it.
    beacon = stack.client.post(
        "/tick?site=web",
        data=f'{{"id": "x", "key": "{WEB_WRITE}"}}',
        content_type="text/plain;charset=UTF-8",
        headers={"Origin": FORBIDDEN},
    )
    assert beacon.status_code == 403
    assert error_of(beacon)["code"] == "forbidden_origin"
    batch = stack.client.post("/tick", json=[{"id": "x", "site": "web"}] * 2, headers=headers)
    assert batch.status_code == 403
    assert [item["error"]["code"] for item in batch.get_json()["rejected"]] == [
        "forbidden_origin"
    ] * 2
    assert stack.ship() == 0
    assert stack.stored() == []


def test_a_post_from_an_allowed_origin_is_202_with_the_allow_origin_header(stack: Stack) -> None:
    for origin in (ALLOWED, ALSO_ALLOWED, ALLOWED + "/"):
        response = stack.client.post(
            "/tick",
            json={"id": "shop-page", "site": "web"},
            headers={"Origin": origin, "X-Metronome-Key": WEB_WRITE},
        )
        assert response.status_code == 202, (origin, response.data)
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert "origin" in listed(response.headers.get("Vary"))
    assert stack.ship() == 3
    assert len(stack.stored("web")) == 3


def test_a_star_site_accepts_every_origin(stack: Stack) -> None:
    origins = ["https://anything.example", "http://localhost:3000", "null"]
    for origin in origins:
        response = stack.client.post(
            "/tick", json={"id": "o", "site": "open"}, headers={"Origin": origin}
        )
        assert response.status_code == 202, (origin, response.data)
        assert response.headers["Access-Control-Allow-Origin"] == origin
        assert preflight(stack.client, "/tick?site=open", origin).status_code == 204
    assert stack.ship() == len(origins)
    assert len(stack.stored("open")) == len(origins)


def test_origins_are_checked_per_hit_against_each_hits_site(stack: Stack) -> None:
    batch = [{"id": "a", "site": "open"}, {"id": "b", "site": "web", "key": WEB_WRITE}]
    response = stack.client.post("/tick", json=batch, headers={"Origin": FORBIDDEN})
    assert response.status_code == 202
    body = response.get_json()
    assert body["accepted"] == 1
    assert [(item["index"], item["error"]["code"]) for item in body["rejected"]] == [
        (1, "forbidden_origin")
    ]
    stack.ship()
    assert [doc["site"] for doc in stack.stored()] == ["open"]


def test_a_request_without_an_origin_is_not_a_cors_request(stack: Stack) -> None:
    response = stack.client.post(
        "/tick", json={"id": "server-side", "site": "web"}, headers={"X-Metronome-Key": WEB_WRITE}
    )
    assert response.status_code == 202
    assert "Access-Control-Allow-Origin" not in response.headers


def test_an_error_answered_to_an_allowed_origin_is_readable_by_the_page(stack: Stack) -> None:
    headers = {"Origin": ALLOWED, "X-Metronome-Key": WEB_WRITE}
    invalid = stack.client.post("/tick", json={"site": "web"}, headers=headers)
    assert invalid.status_code == 422
    assert invalid.headers.get("Access-Control-Allow-Origin") == ALLOWED
    wrong_key = stack.client.post(
        "/tick",
        json={"id": "a", "site": "web"},
        headers={"Origin": ALLOWED, "X-Metronome-Key": "x"},
    )
    assert wrong_key.status_code == 401
    assert wrong_key.headers.get("Access-Control-Allow-Origin") == ALLOWED


# --- keys ----------------------------------------------------------------------------------


def test_a_write_key_is_taken_from_the_header_the_query_and_the_key_field(stack: Stack) -> None:
    hit = {"id": "keyed", "site": "web"}
    header = stack.client.post("/tick", json=hit, headers={"X-Metronome-Key": WEB_WRITE})
    query = stack.client.post(f"/tick?key={WEB_WRITE}", json=hit)
    in_field = stack.client.post("/tick", json={**hit, "key": WEB_WRITE})
    pixel = stack.client.get(f"/tick.gif?id=keyed&site=web&key={WEB_WRITE}")
    assert [r.status_code for r in (header, query, in_field, pixel)] == [202, 202, 202, 200]
    assert stack.ship() == 4
    docs = stack.stored("web")
    assert len(docs) == 4
    assert all("key" not in doc for doc in docs)


def test_a_write_without_the_sites_write_key_is_401_and_stores_nothing(stack: Stack) -> None:
    hit = {"id": "locked", "site": "web"}
    missing = stack.client.post("/tick", json=hit)
    assert missing.status_code == 401
    assert (error_of(missing)["code"], error_of(missing)["field"]) == ("missing_key", "key")
    wrong_keys = [
        "pk_unknown_0000",
        WEB_READ,  # a read key cannot write
        OTHER_WRITE,  # another site's write key
        WEB_WRITE.upper(),
        WEB_WRITE + " ",
    ]
    for key in wrong_keys:
        attempts = [
            stack.client.post("/tick", json={**hit, "key": key}),
            stack.client.post("/tick", json=hit, headers={"X-Metronome-Key": key}),
            stack.client.post("/tick", json=hit, query_string={"key": key}),
            stack.client.get("/tick.gif", query_string={"id": "locked", "site": "web", "key": key}),
        ]
        for response in attempts:
            assert response.status_code == 401, (key, response.data)
            error = error_of(response)
            assert (error["code"], error["field"]) == ("invalid_key", "key"), key
    assert stack.ship() == 0


def test_a_write_key_cannot_read_and_a_read_key_can(stack: Stack) -> None:
    path = "/tock/keyed?site=web"
    refused = [
        ({}, "", "missing_key"),
        ({"Authorization": f"Bearer {WEB_WRITE}"}, "", "invalid_key"),
        ({"Authorization": "Bearer sk_unknown_0000"}, "", "invalid_key"),
        ({"Authorization": f"Basic {WEB_READ}"}, "", "missing_key"),
        ({"X-Metronome-Key": WEB_READ}, "", "missing_key"),  # the write header does not read
    ]
    for headers, query, code in refused:
        response = stack.client.get(path + query, headers=headers)
        assert response.status_code == 401, (headers, query)
        assert error_of(response)["code"] == code, (headers, query)
    by_header = stack.client.get(path, headers={"Authorization": f"Bearer {WEB_READ}"})
    assert by_header.status_code == 200
    assert by_header.get_json()["id"] == "keyed"


def test_a_wrong_key_on_a_public_site_is_refused_and_no_key_is_answered(stack: Stack) -> None:
    path = "/tock/public-item"  # the default site: public_tock
    for key in ("sk_unknown_0000", WEB_READ, WEB_WRITE):  # none of them reads this site
        response = stack.client.get(path, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 401, key
        error = error_of(response)
        assert (error["code"], error["field"]) == ("invalid_key", "key"), key
        assert key not in error["message"]
    anonymous = stack.client.get(path)
    assert anonymous.status_code == 200 and anonymous.get_json()["id"] == "public-item"
    generated = stack.settings.spool.dir.parent / "keys" / "default.read-key"
    own = {"Authorization": f"Bearer {generated.read_text().strip()}"}  # the site's own key
    assert stack.client.get(path, headers=own).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/tock/keyed?site=web"),
        ("GET", "/tock/keyed.csv?site=web"),
        ("POST", "/api/v1/query?site=web"),
        ("GET", "/api/v1/events?site=web"),
        ("GET", "/api/v1/sources"),
        ("GET", "/api/v1/sources/nope"),
    ],
)
def test_a_read_key_in_the_url_is_refused_with_a_pointer_to_the_header(
    stack: Stack, method: str, path: str
) -> None:
    for key in (WEB_READ, ""):  # a right key too: it has leaked into logs either way
        response = stack.client.open(
            f"{path}&key={key}" if "?" in path else f"{path}?key={key}",
            method=method,
            json={"site": "web", "metrics": ["count"]} if method == "POST" else None,
        )
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        error = error_of(response)
        assert (error["code"], error["field"]) == ("key_in_url", "key")
        assert "Authorization" in error["message"] and WEB_READ not in error["message"]


def test_the_same_hit_id_on_two_sites_stores_both_hits(stack: Stack) -> None:
    first = stack.client.post("/tick", json={"id": "a", "hit_id": "order-1", "site": "open"})
    second = stack.client.post(
        "/tick", json={"id": "b", "hit_id": "order-1", "site": "web", "key": WEB_WRITE}
    )
    assert (first.status_code, second.status_code) == (202, 202)
    stack.ship()
    assert sorted(doc["site"] for doc in stack.stored()) == ["open", "web"]


# --- the spool limit, /metrics and /readyz -------------------------------------------------


def tiny_spool(es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path) -> Stack:
    spool = {"dir": str(tmp_path / "spool"), "max_bytes": 65_536}
    return build(es, make_settings(es_url, index_prefix, spool=spool, sites=SITES))


def fill(stack: Stack) -> tuple[int, TestResponse]:
    """Send hits until even the smallest is refused: batches of 10 first, then single hits.

    Returns how many hits were accepted and the last refusal.
    """
    accepted = 0
    refusal: TestResponse | None = None
    for body in ([{"id": "fill", "pad": "p" * 100}] * 10, {"id": "fill"}):
        for _ in range(1000):
            response = stack.client.post("/tick", json=body)
            if response.status_code != 202:
                refusal = response
                break
            accepted += response.get_json()["accepted"]
    assert refusal is not None, "the spool never filled"
    return accepted, refusal


def test_a_full_spool_is_503_with_retry_after_and_every_202_before_it_is_stored(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    stack = tiny_spool(es, es_url, index_prefix, tmp_path)
    accepted, refusal = fill(stack)
    assert accepted > 0
    assert refusal.status_code == 503
    assert error_of(refusal)["code"] == "spool_full"
    assert int(refusal.headers["Retry-After"]) > 0
    pixel = stack.client.get("/tick.gif?id=fill")
    assert pixel.status_code == 503
    assert error_of(pixel)["code"] == "spool_full"
    assert stack.ship() == accepted
    stored = stack.stored()
    assert len(stored) == accepted
    assert len({doc["hit_id"] for doc in stored}) == accepted  # each exactly once


def test_a_full_spool_accepts_hits_again_once_it_is_shipped(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    stack = tiny_spool(es, es_url, index_prefix, tmp_path)
    accepted, refusal = fill(stack)
    assert refusal.status_code == 503
    assert stack.ship() == accepted
    time.sleep(0.6)  # the writer caches the spool size for 0.5 s, then looks at the disk
    response = stack.client.post("/tick", json={"id": "after-drain"})
    assert response.status_code == 202, response.data


METRIC_LINE = re.compile(r"^(?P<name>[a-z_]+)(?:\{(?P<labels>[^}]*)\})? (?P<value>\S+)$")


def scrape(client: FlaskClient) -> dict[str, float]:
    """``/metrics`` as ``{'name{labels}': value}``."""
    response = client.get("/metrics", headers=METRICS_AUTH)
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    samples: dict[str, float] = {}
    for line in response.get_data(as_text=True).splitlines():
        match = METRIC_LINE.match(line)
        if match:
            labels = match["labels"]
            samples[f"{match['name']}{{{labels}}}" if labels else match["name"]] = float(
                match["value"]
            )
    return samples


def test_metrics_count_accepted_and_rejected_hits_and_show_the_spool(stack: Stack) -> None:
    accepted_web = 'metronome_hits_accepted_total{site="web"}'
    invalid = 'metronome_hits_rejected_total{reason="invalid_hit"}'
    bad_key = 'metronome_hits_rejected_total{reason="invalid_key"}'
    before = scrape(stack.client)
    batch = [
        {"id": "m", "site": "web"},
        {"site": "web"},  # no id
        {"id": "m", "site": "web"},
        {"id": "m", "site": "web", "event": "not valid"},
        {"id": "m", "site": "web"},
    ]
    response = stack.client.post("/tick", json=batch, headers={"X-Metronome-Key": WEB_WRITE})
    assert response.get_json()["accepted"] == 3
    refused = stack.client.post("/tick", json={"id": "m", "site": "web", "key": "pk_bad_00000"})
    assert refused.status_code == 401
    after = scrape(stack.client)
    assert after[accepted_web] - before.get(accepted_web, 0) == 3
    assert after[invalid] - before.get(invalid, 0) == 2
    assert after[bad_key] - before.get(bad_key, 0) == 1
    spooled = spool_bytes(stack.settings.spool.dir)
    assert spooled > 0
    assert after["metronome_spool_bytes"] == spooled
    assert after["metronome_spool_max_bytes"] == stack.settings.spool.max_bytes


def test_readyz_reports_the_spool_bytes_and_its_limit(stack: Stack) -> None:
    empty = stack.client.get("/readyz")
    assert empty.status_code == 200
    assert empty.get_json()["status"] == "ready"
    assert empty.get_json()["spool"] == {"bytes": 0, "max_bytes": stack.settings.spool.max_bytes}
    assert stack.client.post("/tick", json=[{"id": "r"}] * 5).status_code == 202
    ready = stack.client.get("/readyz").get_json()
    assert ready["spool"]["bytes"] == spool_bytes(stack.settings.spool.dir) > 0
    assert ready["spool"]["max_bytes"] == stack.settings.spool.max_bytes


def test_readyz_is_503_when_the_spool_is_full(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    stack = tiny_spool(es, es_url, index_prefix, tmp_path)
    fill(stack)
    response = stack.client.get("/readyz")
    body = response.get_json()
    assert body["spool"]["max_bytes"] == 65_536
    assert body["spool"]["bytes"] == spool_bytes(stack.settings.spool.dir)
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert body["error"]["code"] == "not_ready"


# --- the fast path of POST /tick (metronome/fastpath.py) ----------------------------------

FAST_CASES: list[tuple[str, dict[str, Any]]] = [
    ("/tick", {"json": {"id": "a"}}),
    ("/tick", {"json": [{"id": "a"}, {"id": "b", "site": "open"}], "headers": {"Origin": ALLOWED}}),
    (
        "/tick?site=web",
        {"json": {"id": "c"}, "headers": {"Origin": ALLOWED, "X-Metronome-Key": WEB_WRITE}},
    ),
    (
        f"/tick?site=web&key={WEB_WRITE}",
        {"data": "id=d&x=1", "content_type": "application/x-www-form-urlencoded"},
    ),
    (
        "/tick",
        {
            "data": '{"id": "e", "site": "open"}',
            "content_type": "text/plain",
            "headers": {"Origin": FORBIDDEN},
        },
    ),
    (  # accepted in part: the refused hit is listed, for both adapters alike
        "/tick",
        {"json": [{"id": "f"}, {"id": "g", "site": "web"}], "headers": {"Origin": ALLOWED}},
    ),
]


@pytest.mark.parametrize(("url", "request_kwargs"), FAST_CASES)
def test_an_accepted_tick_skips_flask_and_gets_the_views_answer(
    stack: Stack, url: str, request_kwargs: dict[str, Any]
) -> None:
    calls = flask_calls(stack.client)
    fast = stack.client.post(url, **request_kwargs)
    assert calls == []  # Flask's hooks never ran
    view = Client(behind_fast_path(stack.client.application.wsgi_app)).post(url, **request_kwargs)
    assert calls == ["/tick"]
    assert fast.status_code == view.status_code == 202
    assert fast.data == view.data
    assert sorted(fast.headers.items()) == sorted(view.headers.items())
    assert stack.ship() == 2 * fast.get_json()["accepted"]


def test_a_tick_with_a_refused_hit_is_answered_by_the_fast_path_and_stored_once(
    stack: Stack,
) -> None:
    calls = flask_calls(stack.client)
    response = stack.client.post(
        "/tick", json=[{"id": "kept"}, {"id": "x" * 5000}], headers={"Origin": ALLOWED}
    )
    assert calls == []  # accepted in part: an accepted outcome, the fast path answers it
    assert response.status_code == 202
    assert response.get_json()["accepted"] == 1
    assert [item["index"] for item in response.get_json()["rejected"]] == [1]
    assert stack.ship() == 1
    assert [hit["id"] for hit in stack.stored()] == ["kept"]


def behind_fast_path(app: Any) -> Any:
    """The WSGI app the fast path wraps (the rate limits wrap the fast path in turn)."""
    while not isinstance(app, FastPath):
        app = app.app
    return app.app
