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
from metronome.sources.base import SourceError
from metronome.sources.http import RemoteError
from tests.fakes.json_api import FakeJsonApi
from tests.fakes.server import serving
from tests.integration.sources.contract import fetch_pages, run, services, stored_documents
from tests.integration.sources.scenarios.http_json import orders_options

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)


@pytest.fixture
def api() -> Iterator[tuple[FakeJsonApi, str]]:
    fake = FakeJsonApi()
    fake.add(10)
    with serving(fake.app()) as url:
        yield fake, f"{url}/api/orders"


def source(url: str, **options: Any) -> HttpJsonSource:
    raw = {**orders_options(url, "api-token"), **options}
    return HttpJsonSource("orders", "shop", HttpJsonOptions().load(raw))


def test_the_cursor_moves_to_the_highest_value_after_the_last_page(
    api: tuple[FakeJsonApi, str],
) -> None:
    fake, url = api
    pages = fetch_pages(source(url), {}, NOW)
    assert [len(page.documents) for page in pages] == [4, 4, 2]
    assert [page.cursor for page in pages[:2]] == [{}, {}]  # not before the last page
    newest = max(order["updated_at"] for order in fake.orders)
    assert pages[-1].cursor == {"since": newest}
    assert "updated_since" not in fake.log[0]["args"]

    again = fetch_pages(source(url), pages[-1].cursor, NOW)
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
    # a stream of its own is kept by month (storage.default_period)
    assert list(es.indices.get(index=f"{index_prefix}-orders-*")) == [
        f"{index_prefix}-orders-2024.05"
    ]


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
    pages = fetch_pages(source(url, method="POST"), {"since": since}, NOW)
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
        fetch_pages(source(url), {}, NOW)


def test_pages_that_never_end_are_a_source_error(api: tuple[FakeJsonApi, str]) -> None:
    fake, url = api
    fake.garbled = '{"data": {"items": []}, "paging": {"next": "/api/orders?cursor=same"}}'
    with pytest.raises(SourceError, match="the pages do not end"):
        fetch_pages(source(url), {}, NOW)


def test_error_answers_are_remote_errors_with_the_api_message(api: tuple[FakeJsonApi, str]) -> None:
    _, url = api
    with pytest.raises(RemoteError, match=r"401.*valid bearer token"):
        fetch_pages(source(url, headers={}), {}, NOW)
    with pytest.raises(RemoteError, match=r"400.*limit must be"):
        fetch_pages(source(url, params={"limit": 500}), {}, NOW)


def test_a_next_url_on_another_origin_is_not_followed_and_gets_no_header(
    api: tuple[FakeJsonApi, str],
) -> None:
    fake, url = api
    elsewhere = FakeJsonApi()  # a second server: it must never see the source's token
    elsewhere.add(10)
    with serving(elsewhere.app()) as other:
        fake.next_base = other
        with pytest.raises(SourceError) as caught:
            fetch_pages(source(url), {}, NOW)
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
        fetch_pages(source(url), {}, NOW)
    fake.next_base = url.removesuffix("/api/orders")  # the same origin, written out: followed
    assert len(fetch_pages(source(url), {}, NOW)) == 3


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
    assert HttpJsonOptions().load({"url": url, "id": "id"})["max_response_bytes"] == 16 << 20
