"""Public /tock answers are cached briefly (metronome/query/public_cache.py): a flood of one
anonymous query runs one Elasticsearch search, counted on the real node; keyed reads always
search."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import PublicCacheSettings
from metronome.es.templates import install_templates
from metronome.query.public_cache import Answer, PublicCache
from metronome.web.app import create_app
from metronome.web.services import EXTENSION_KEY
from tests.conftest import READ_KEY, WRITE_KEY, make_settings


def searches(es: Elasticsearch, prefix: str) -> int:
    stats = es.indices.stats(index=f"{prefix}-*", metric="search")
    return int(stats["_all"]["total"]["search"]["query_total"])


@pytest.fixture
def counted(
    client: FlaskClient, ship: Callable[[], int], es: Elasticsearch, index_prefix: str
) -> Callable[[Callable[[], object]], int]:
    """Runs a step, gives the Elasticsearch searches (shard queries) it caused."""
    for site, key in (("default", None), ("shop", WRITE_KEY)):
        headers = {"X-Metronome-Key": key} if key else {}
        response = client.post(f"/tick?site={site}", json={"id": "ds"}, headers=headers)
        assert response.status_code == 202
    ship()

    def count(step: Callable[[], object]) -> int:
        before = searches(es, index_prefix)
        step()
        return searches(es, index_prefix) - before

    return count


def test_identical_anonymous_reads_run_one_search(
    client: FlaskClient, counted: Callable[[Callable[[], object]], int]
) -> None:
    bodies: list[bytes] = []

    def read(times: int) -> None:
        bodies.extend(client.get("/tock/ds?from=2026-01-01").data for _ in range(times))

    one = counted(lambda: read(1))
    assert one > 0
    assert counted(lambda: read(20)) == 0  # twenty more, no search

    assert len(set(bodies)) == 1
    # Parameters in another order are the same query.
    assert counted(lambda: client.get("/tock/ds?to=2026-12-31&from=2026-01-01")) == one
    assert counted(lambda: client.get("/tock/ds?from=2026-01-01&to=2026-12-31")) == 0
    assert counted(lambda: client.get("/tock/ds.csv?from=2026-01-01")) == one  # another format


def test_concurrent_identical_reads_wait_for_one_search(
    client: FlaskClient, counted: Callable[[Callable[[], object]], int]
) -> None:
    one = counted(lambda: client.get("/tock/ds?interval=week"))
    statuses: list[int] = []

    def flood() -> None:
        threads = [
            threading.Thread(
                target=lambda: statuses.append(client.get("/tock/ds?interval=month").status_code)
            )
            for _ in range(16)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert counted(flood) == one
    assert statuses == [200] * 16


def test_keyed_reads_are_not_served_from_the_public_cache(
    client: FlaskClient, counted: Callable[[Callable[[], object]], int]
) -> None:
    auth = {"Authorization": f"Bearer {READ_KEY}"}
    one = counted(lambda: client.get("/tock/ds?site=shop", headers=auth))
    assert counted(lambda: client.get("/tock/ds?site=shop", headers=auth)) == one
    # The public site's own read key: not anonymous either.
    services = client.application.extensions[EXTENSION_KEY]
    own = {"Authorization": f"Bearer {services.settings.sites['default'].read_keys[0]}"}
    assert counted(lambda: client.get("/tock/ds", headers=own)) == one
    assert counted(lambda: client.get("/tock/ds", headers=own)) == one
    # A wrong key there is refused before any search (nor is it answered from the cache).
    wrong = {"Authorization": "Bearer anything"}
    assert counted(lambda: client.get("/tock/ds", headers=wrong)) == 0
    assert client.get("/tock/ds", headers=wrong).status_code == 401


def test_an_answer_expires_after_the_ttl(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path, ship: Callable[[], int]
) -> None:
    settings = make_settings(
        es_url, index_prefix, tmp_path / "spool", public_tock_cache={"ttl": 0.5}
    )
    install_templates(es, index_prefix)
    client = create_app(settings, es=es).test_client()
    assert client.post("/tick", json={"id": "ds"}).status_code == 202
    ship()
    before = searches(es, index_prefix)
    first = client.get("/tock/ds")
    assert first.status_code == 200, first.data
    one = searches(es, index_prefix) - before
    assert one > 0, one
    client.get("/tock/ds")
    assert searches(es, index_prefix) - before == one
    time.sleep(0.6)
    client.get("/tock/ds")
    assert searches(es, index_prefix) - before == 2 * one


def test_errors_are_not_cached(
    client: FlaskClient, counted: Callable[[Callable[[], object]], int]
) -> None:
    for _ in range(2):
        assert client.get("/tock/ds?interval=fortnight").status_code == 400
    first = client.get("/tock/ds")
    assert first.status_code == 200, first.data
    cache = client.application.extensions[EXTENSION_KEY].public_cache
    assert [key[1:3] for key in cache.entries] == [("ds", "json")]  # the 200 alone


def test_the_cache_stays_within_its_entries_and_bytes() -> None:
    now = [0.0]
    cache = PublicCache(PublicCacheSettings(ttl=10, max_entries=3, max_bytes=2048), lambda: now[0])
    for n in range(5):
        cache.get_or_compute(n, lambda: Answer(b"x" * 100, "application/json"))
    assert list(cache.entries) == [2, 3, 4]
    cache.get_or_compute("big", lambda: Answer(b"x" * 1900, "application/json"))
    assert list(cache.entries) == [4, "big"] and cache.bytes == 2000
    cache.get_or_compute("huge", lambda: Answer(b"x" * 4096, "application/json"))  # never kept
    assert "huge" not in cache.entries
    now[0] = 11.0
    answer, cached = cache.get_or_compute("big", lambda: Answer(b"new", "application/json"))
    assert (answer.body, cached) == (b"new", False)
