"""GET /api/v1/events against the real Elasticsearch: every document once, streamed."""

from __future__ import annotations

import csv
import io
import json
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime
from itertools import islice
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.es.naming import stream_pattern
from metronome.query.events import events_query, iter_events
from metronome.web.app import create_app
from metronome.web.views import events as events_views
from metronome.web.views.events import bp
from tests.conftest import READ_KEY, WRITE_KEY, free_port

READ = {"Authorization": f"Bearer {READ_KEY}"}
RANGE = "from=2015-01-20&to=2015-01-25"
DAYS = 5
MANY = 2500


@pytest.fixture
def api(app: Flask) -> FlaskClient:
    # create_app may or may not register the blueprint yet; register it once either way.
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    return app.test_client()


def hit(i: int, **extra: Any) -> dict[str, Any]:
    # Only ten distinct timestamps: hundreds of documents tie on @timestamp, so page edges
    # fall inside ties and a cursor without the _shard_doc tie-breaker would lose documents.
    return {
        "id": "ds-a" if i % 2 else "ds-b",
        "hit_id": f"h-{i:05d}",
        "time": f"2015-01-{20 + i % DAYS}T{10 + i % 2:02d}:00:00Z",
        "event": "download" if i % 5 == 0 else "view",
        "format": "csv" if i % 5 == 0 else None,
        "price": i / 4,
        "product": {"sku": f"sku-{i % 7}"},
        **extra,
    }


def send(api: FlaskClient, hits: list[dict[str, Any]]) -> None:
    for start in range(0, len(hits), 500):
        batch = [{k: v for k, v in h.items() if v is not None} for h in hits[start : start + 500]]
        response = api.post("/tick", json=batch, headers={"X-Metronome-Key": WRITE_KEY})
        assert response.get_json() == {"accepted": len(batch)}


def load(api: FlaskClient, ship: Callable[[], int], n: int = MANY) -> set[str]:
    """``n`` shop hits in the range, plus hits that must never be exported."""
    hits = [{**hit(i), "site": "shop"} for i in range(n)]
    outside = [
        {"id": "ds-a", "site": "shop", "hit_id": "early", "time": "2015-01-19T23:59:59Z"},
        {"id": "ds-a", "site": "shop", "hit_id": "late", "time": "2015-01-25T00:00:00Z"},
    ]
    send(api, hits + outside)
    other_site = api.post("/tick", json={"id": "ds-a", "time": "2015-01-21T10:00:00Z"})
    assert other_site.status_code == 202
    assert ship() == n + len(outside) + 1
    return {h["hit_id"] for h in hits}


def export(api: FlaskClient, params: str) -> Any:
    return api.get(f"/api/v1/events?site=shop&{RANGE}&{params}", headers=READ)


def ndjson(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.get_data(as_text=True).splitlines()]


def csv_rows(response: Any) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data(as_text=True), newline="")))


def open_contexts(es: Elasticsearch) -> int:
    stats = es.nodes.stats(metric="indices", index_metric="search").body
    return sum(node["indices"]["search"]["open_contexts"] for node in stats["nodes"].values())


# --- every document exactly once ----------------------------------------------------------


def test_ndjson_export_streams_every_document_exactly_once_across_pages(
    api: FlaskClient,
    es: Elasticsearch,
    ship: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = load(api, ship)
    monkeypatch.setattr(events_views, "PAGE_SIZE", 100)  # 25 pages, edges inside ties
    contexts = open_contexts(es)

    response = export(api, "format=ndjson")
    assert response.status_code == 200
    assert response.mimetype == "application/x-ndjson"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="shop-hits-20150120-20150125.ndjson"'
    )
    documents = ndjson(response)
    ids = [doc["hit_id"] for doc in documents]
    assert len(ids) == MANY
    assert set(ids) == expected
    stamps = [doc["@timestamp"] for doc in documents]
    assert stamps == sorted(stamps)
    assert {doc["site"] for doc in documents} == {"shop"}
    assert documents[0]["product"]["sku"].startswith("sku-")
    assert open_contexts(es) == contexts  # the point-in-time was closed


def test_csv_export_has_one_row_per_document_and_the_mapped_columns(
    api: FlaskClient, ship: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = load(api, ship)
    monkeypatch.setattr(events_views, "PAGE_SIZE", 333)

    response = export(api, "format=csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].endswith('.csv"')
    header, *rows = csv_rows(response)
    assert header[0] == "@timestamp"
    assert header[1:] == sorted(header[1:])
    assert {"hit_id", "url.host", "user_agent.name", "product.sku", "price", "bot"} <= set(header)
    assert len(rows) == MANY
    column = {name: i for i, name in enumerate(header)}
    assert {row[column["hit_id"]] for row in rows} == expected
    first = next(row for row in rows if row[column["hit_id"]] == "h-00006")
    assert first[column["@timestamp"]] == "2015-01-21T10:00:00.000Z"
    assert (first[column["price"]], first[column["format"]]) == ("1.5", "")
    assert (first[column["bot"]], first[column["product.sku"]]) == ("false", "sku-6")


def test_export_rate_with_the_default_page_size(api: FlaskClient, ship: Callable[[], int]) -> None:
    load(api, ship)
    export(api, "format=csv&fields=hit_id").get_data()  # the first search of a new index is cold
    rates = {}
    for fmt in ("ndjson", "csv"):
        started = time.perf_counter()
        body = export(api, f"format={fmt}").get_data()
        rates[fmt] = MANY / (time.perf_counter() - started)
        assert body.count(b"\n") == MANY + (fmt == "csv")
    print(f"\nexport rate: ndjson {rates['ndjson']:,.0f} docs/s, csv {rates['csv']:,.0f} docs/s")


# --- selection ----------------------------------------------------------------------------


def test_fields_choose_the_csv_columns_and_the_ndjson_keys(
    api: FlaskClient, ship: Callable[[], int]
) -> None:
    load(api, ship, n=20)
    header, *rows = csv_rows(export(api, "format=csv&fields=hit_id,product.sku,product,nope"))
    assert header == ["hit_id", "product.sku", "product", "nope"]
    assert len(rows) == 20
    assert ["h-00003", "sku-3", '{"sku":"sku-3"}', ""] in rows

    documents = ndjson(export(api, "fields=hit_id, event ,hit_id"))
    assert len(documents) == 20
    assert all(set(doc) <= {"hit_id", "event"} for doc in documents)
    assert {"hit_id": "h-00005", "event": "download"} in documents


def test_id_and_event_are_exact_filters(api: FlaskClient, ship: Callable[[], int]) -> None:
    load(api, ship, n=40)
    downloads = ndjson(export(api, "id=ds-b&event=download"))
    # even i -> ds-b; i % 5 == 0 -> download: i in 0, 10, 20, 30
    assert sorted(doc["hit_id"] for doc in downloads) == [f"h-{i:05d}" for i in (0, 10, 20, 30)]
    assert ndjson(export(api, "id=ds")) == []


def test_an_empty_range_is_a_header_or_nothing(api: FlaskClient) -> None:
    empty = export(api, "format=ndjson")
    assert (empty.status_code, empty.get_data()) == (200, b"")
    assert csv_rows(export(api, "format=csv&fields=hit_id,id")) == [["hit_id", "id"]]
    assert csv_rows(export(api, "format=csv")) == [["@timestamp"]]  # no index, no mapping


def test_default_range_is_the_last_30_days_up_to_now(
    api: FlaskClient, ship: Callable[[], int]
) -> None:
    send(api, [{"id": "recent", "site": "shop", "hit_id": "now"}])
    ship()
    response = api.get("/api/v1/events?site=shop", headers=READ)
    assert [doc["hit_id"] for doc in ndjson(response)] == ["now"]


# --- errors -------------------------------------------------------------------------------


def test_a_read_key_is_always_required(api: FlaskClient) -> None:
    public = api.get("/api/v1/events")  # the default site has a public /tock, not public events
    assert (public.status_code, public.get_json()["error"]["code"]) == (401, "missing_key")
    missing = api.get("/api/v1/events?site=shop")
    assert (missing.status_code, missing.get_json()["error"]["code"]) == (401, "missing_key")
    wrong = api.get("/api/v1/events?site=shop", headers={"Authorization": f"Bearer {WRITE_KEY}"})
    assert (wrong.status_code, wrong.get_json()["error"]["code"]) == (401, "invalid_key")
    unknown = api.get("/api/v1/events?site=nope", headers=READ)
    assert (unknown.status_code, unknown.get_json()["error"]["code"]) == (404, "unknown_site")
    assert api.get("/api/v1/events?site=shop", headers=READ).status_code == 200
    in_url = api.get(f"/api/v1/events?site=shop&key={READ_KEY}")
    assert (in_url.status_code, in_url.get_json()["error"]["code"]) == (400, "key_in_url")


@pytest.mark.parametrize(
    ("params", "status", "code", "field"),
    [
        ("format=xlsx", 400, "invalid_format", "format"),
        ("stream=Hits!", 400, "invalid_stream", "stream"),
        ("stream=" + "a" * 33, 400, "invalid_stream", "stream"),
        ("fields=*", 400, "invalid_fields", "fields"),
        ("fields=,", 400, "invalid_fields", "fields"),
        ("fields=hit_id,,event", 400, "invalid_fields", "fields"),
        ("tz=", 400, "invalid_tz", "tz"),
        ("from=%20now", 400, "invalid_date", "from"),
        ("to=now-999999y", 422, "impossible_date", "to"),
        ("fields=" + ",".join(f"f{i}" for i in range(501)), 400, "invalid_fields", "fields"),
        ("from=yesterday", 400, "invalid_date", "from"),
        ("tz=Mars/Olympus", 400, "invalid_tz", "tz"),
        ("from=2015-02-01&to=2015-01-01", 422, "invalid_range", "from"),
        ("id=", 400, "invalid_id", "id"),
        ("event=" + "e" * 1025, 400, "invalid_event", "event"),
    ],
)
def test_bad_parameters_are_refused_before_streaming(
    api: FlaskClient, params: str, status: int, code: str, field: str
) -> None:
    response = api.get(f"/api/v1/events?site=shop&{params}", headers=READ)
    assert response.status_code == status
    assert response.get_json()["error"] == {
        "code": code,
        "message": response.get_json()["error"]["message"],
        "field": field,
    }


@pytest.mark.parametrize("fmt", ["ndjson", "csv"])
def test_unreachable_elasticsearch_is_503_with_retry_after(settings: Settings, fmt: str) -> None:
    dead = Elasticsearch(f"http://127.0.0.1:{free_port()}", max_retries=0, request_timeout=2)
    app = create_app(settings, es=dead)
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
    response = app.test_client().get(f"/api/v1/events?site=shop&format={fmt}", headers=READ)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.get_json()["error"]["code"] == "store_unavailable"


# --- resources ----------------------------------------------------------------------------


def test_the_point_in_time_is_closed_when_the_client_stops_reading(
    api: FlaskClient, es: Elasticsearch, ship: Callable[[], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    load(api, ship, n=300)
    monkeypatch.setattr(events_views, "PAGE_SIZE", 10)
    monkeypatch.setattr(events_views, "CHUNK_CHARS", 1)
    before = open_contexts(es)
    streamed = api.get(f"/api/v1/events?site=shop&{RANGE}", headers=READ, buffered=False)
    first_chunk = next(streamed.iter_encoded())
    assert json.loads(first_chunk)["site"] == "shop"
    assert open_contexts(es) > before
    streamed.close()
    assert open_contexts(es) == before


def test_iter_events_memory_stays_at_one_page(
    api: FlaskClient, es: Elasticsearch, settings: Settings, ship: Callable[[], int]
) -> None:
    load(api, ship)
    index = stream_pattern(settings.elasticsearch.index_prefix, "hits")
    query = events_query(
        "shop", datetime(2015, 1, 20, tzinfo=UTC), datetime(2015, 1, 25, tzinfo=UTC)
    )
    list(islice(iter_events(es, index, query, page_size=100), 150))  # warm the client up

    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        seen = sum(1 for _ in iter_events(es, index, query, page_size=100))
        streaming_peak = tracemalloc.get_traced_memory()[1] - baseline

        tracemalloc.reset_peak()
        baseline = tracemalloc.get_traced_memory()[0]
        held = list(iter_events(es, index, query, page_size=100))
        holding_all = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    assert seen == len(held) == MANY
    print(f"\nstreaming peak {streaming_peak:,} B; all documents held {holding_all:,} B")
    assert streaming_peak < holding_all / 4
