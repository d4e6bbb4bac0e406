"""The http_json source against the fake orders API: incremental requests, the cursor moving
after the last page, changed records replacing stored ones, POST, bad answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask

from ingesters.http_json import HttpJsonOptions, HttpJsonSource
from metronome.sources.base import FetchContext, Page, SourceError
from metronome.sources.http import HttpClient, RemoteError, RetryPolicy
from tests.fakes.json_api import FakeJsonApi
from tests.fakes.server import serving
from tests.integration.sources.contract import run, services, stored_documents

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
FAST = RetryPolicy(timeout=5, attempts=2, backoff=0.01, max_backoff=0.01, max_wait=1)


@pytest.fixture
def api() -> Iterator[tuple[FakeJsonApi, str]]:
    fake = FakeJsonApi()
    fake.add(10)
    with serving(fake.app()) as url:
        yield fake, f"{url}/api/orders"


def source(url: str, **options: Any) -> HttpJsonSource:
    raw = {
        "url": url,
        "headers": {"Authorization": "Bearer api-token"},
        "params": {"limit": 4},
        "records": "data.items",
        "id": "id",
        "time": "created_at",
        "next": "paging.next",
        "incremental": {"param": "updated_since", "field": "updated_at"},
        "stream": "orders",
        **options,
    }
    return HttpJsonSource("orders", "shop", HttpJsonOptions().load(raw))


def fetch(orders: HttpJsonSource, cursor: dict[str, Any]) -> list[Page]:
    http = HttpClient(FAST, headers=orders.http_headers(), sleep=lambda seconds: None)
    try:
        return list(orders.fetch(FetchContext(cursor=cursor, http=http, now=NOW)))
    finally:
        http.close()


def test_the_cursor_moves_to_the_highest_value_after_the_last_page(
    api: tuple[FakeJsonApi, str],
) -> None:
    fake, url = api
    pages = fetch(source(url), {})
    assert [len(page.documents) for page in pages] == [4, 4, 2]
    assert [page.cursor for page in pages[:2]] == [{}, {}]  # not before the last page
    newest = max(order["updated_at"] for order in fake.orders)
    assert pages[-1].cursor == {"since": newest}
    assert "updated_since" not in fake.log[0]["args"]

    again = fetch(source(url), pages[-1].cursor)
    assert fake.log[-1]["args"]["updated_since"] == newest
    assert [len(page.documents) for page in again] == [1]  # inclusive: the newest comes back
    assert again[-1].cursor == {"since": newest}


def test_a_changed_record_replaces_the_stored_document(
    api: tuple[FakeJsonApi, str], app: Flask, es: Elasticsearch, index_prefix: str
) -> None:
    fake, url = api
    orders = source(url)
    assert run(orders, services(es, index_prefix)).created == 10
    fake.update("ord-0002", status="refunded", updated_at="2024-06-01T09:00:00Z")
    report = run(orders, services(es, index_prefix))
    assert report.ok, report.error
    assert report.updated == 1 and report.duplicates == 1  # the replaced one; the newest again
    assert report.created == 0
    documents = {doc["id"]: doc for doc in stored_documents(es, index_prefix, orders)}
    assert len(documents) == 10 and documents["ord-0002"]["status"] == "refunded"
    assert all(
        name.startswith(f"{index_prefix}-orders-2024.05.")
        for name in es.indices.get(index=f"{index_prefix}-orders-*")
    )


def test_without_incremental_records_are_create_once(
    api: tuple[FakeJsonApi, str], app: Flask, es: Elasticsearch, index_prefix: str
) -> None:
    fake, url = api
    orders = source(
        url,
        incremental=None,
        fields={"order": "id", "status": "status", "country": "customer.country"},
    )
    assert run(orders, services(es, index_prefix)).created == 10
    fake.update("ord-0002", status="refunded", updated_at="2024-06-01T09:00:00Z")
    report = run(orders, services(es, index_prefix))
    assert report.created == 0 and report.duplicates == 10
    documents = {doc["order"]: doc for doc in stored_documents(es, index_prefix, orders)}
    assert documents["ord-0002"]["status"] == "shipped"
    assert documents["ord-0001"]["country"] == "FR" and "total" not in documents["ord-0001"]


def test_post_sends_the_parameters_as_the_body_of_every_page(api: tuple[FakeJsonApi, str]) -> None:
    fake, url = api
    since = fake.orders[3]["updated_at"]
    pages = fetch(source(url, method="POST"), {"since": since})
    assert sum(len(page.documents) for page in pages) == 7
    assert [entry["method"] for entry in fake.log] == ["POST", "POST"]
    assert all(
        entry["args"]["updated_since"] == since and entry["args"]["limit"] == 4
        for entry in fake.log
    )


@pytest.mark.parametrize(
    ("garbled", "message"),
    [
        ("<html>Bad gateway</html>", "not JSON"),
        (
            '{"data": {"items": {"id": 1}}}',
            "expected a list of records at 'data.items', found dict",
        ),
        (
            '{"data": {"items": [{"id": 1, "created_at": "later"}]}}',
            "record 1: 'created_at' is not a time",
        ),
        ('{"data": {"items": [{"id": 1, "created_at": 0}]}, "paging": {"next": 5}}', "not a URL"),
    ],
)
def test_a_malformed_answer_is_a_source_error(
    api: tuple[FakeJsonApi, str], garbled: str, message: str
) -> None:
    fake, url = api
    fake.garbled = garbled
    with pytest.raises(SourceError, match=message):
        fetch(source(url), {})


def test_pages_that_never_end_are_a_source_error(api: tuple[FakeJsonApi, str]) -> None:
    fake, url = api
    fake.garbled = '{"data": {"items": []}, "paging": {"next": "/api/orders?cursor=same"}}'
    with pytest.raises(SourceError, match="the pages do not end"):
        fetch(source(url), {})


def test_error_answers_are_remote_errors_with_the_api_message(api: tuple[FakeJsonApi, str]) -> None:
    _, url = api
    with pytest.raises(RemoteError, match=r"401.*valid bearer token"):
        fetch(source(url, headers={}), {})
    with pytest.raises(RemoteError, match=r"400.*limit must be"):
        fetch(source(url, params={"limit": 500}), {})


def test_a_next_url_on_another_origin_is_not_followed_and_gets_no_header(
    api: tuple[FakeJsonApi, str],
) -> None:
    fake, url = api
    elsewhere = FakeJsonApi()  # a second server: it must never see the source's token
    elsewhere.add(10)
    with serving(elsewhere.app()) as other:
        fake.next_base = other
        with pytest.raises(SourceError) as caught:
            fetch(source(url), {})
    assert "not on http://127.0.0.1:" in str(caught.value)
    assert "not followed" in str(caught.value) and other in str(caught.value)
    assert elsewhere.log == []
    assert len(fake.log) == 1  # the first page only


def test_a_next_url_on_another_port_of_the_same_host_is_another_origin(
    api: tuple[FakeJsonApi, str],
) -> None:
    fake, url = api
    fake.next_base = url.rsplit(":", 1)[0] + ":1"  # same scheme and host, another port
    with pytest.raises(SourceError, match="not followed"):
        fetch(source(url), {})
    fake.next_base = url.removesuffix("/api/orders")  # the same origin, written out: followed
    assert len(fetch(source(url), {})) == 3


def test_an_answer_over_the_size_limit_is_refused_with_a_clear_error(
    api: tuple[FakeJsonApi, str], es: Elasticsearch, index_prefix: str, app: Flask
) -> None:
    fake, url = api
    fake.padding = 5000
    orders = source(url, max_response_bytes=4096)
    report = run(orders, services(es, index_prefix))
    assert report.outcome == "failed" and report.error is not None
    assert "larger than max_response_bytes (4096 bytes)" in report.error
    assert stored_documents(es, index_prefix, orders) == []
    assert HttpJsonOptions().load({"url": url, "id": "id"})["max_response_bytes"] == 32 << 20
