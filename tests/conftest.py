"""Shared fixtures: one real Elasticsearch per test run, and a fresh index prefix per test.

The embedded node starts once per session (or ``METRONOME_ES_URL`` names a running cluster).
Every test gets its own index prefix, so tests never see each other's data:
``es_url -> es -> index_prefix -> settings -> app -> client``.
"""

from __future__ import annotations

import copy
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from metronome.config import EmbeddedSettings, Settings, settings_from_mapping
from metronome.es.embedded import EmbeddedElasticsearch
from metronome.es.templates import install_templates, load_templates
from metronome.spool.shipper import Shipper
from metronome.web.app import create_app

ROOT = Path(__file__).resolve().parents[1]
WRITE_KEY = "pk_shop_write_0001"
READ_KEY = "sk_shop_read_0001"
INGEST_KEY = "ik_shop_ingest_secret_0001"  # server-to-server intake (server logs)
ADMIN_KEY = "ak_test_admin_key_0001"  # the admin endpoints (/api/v1/sources)
METRICS_TOKEN = "mt_test_metrics_token_0001"  # GET /metrics
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def error_of(response: TestResponse) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer, checked for its required members."""
    assert response.mimetype == "application/json", response.data
    body = response.get_json()
    assert isinstance(body, dict)
    error = body["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def es_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("METRONOME_ES_URL")
    if configured:
        yield configured.rstrip("/")
        return
    node = EmbeddedElasticsearch(
        EmbeddedSettings(
            home=ROOT / "var" / "es-dist",
            data_dir=tmp_path_factory.mktemp("es"),
            http_port=free_port(),
            heap="768m",
        ),
        say=lambda message: None,
    )
    node.start()
    try:
        yield node.url
    finally:
        node.stop()


@pytest.fixture(scope="session")
def es(es_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(es_url, request_timeout=30)
    yield client
    client.close()


@pytest.fixture
def index_prefix(es: Elasticsearch) -> Iterator[str]:
    prefix = f"t{uuid.uuid4().hex[:12]}"
    yield prefix
    # Elasticsearch refuses wildcard deletes (action.destructive_requires_name): name them.
    names = list(es.indices.get(index=f"{prefix}-*", expand_wildcards="all").body)
    if names:
        es.indices.delete(index=",".join(names))
    remove_prefix_templates(es, prefix)


def remove_prefix_templates(es: Elasticsearch, prefix: str) -> None:
    """Delete every template named ``<prefix>-*``: what ``remove_templates`` does one template
    at a time (~30 requests), in at most four (the index templates first: they use the
    component templates)."""
    pattern = f"{prefix}-*"
    lookup = es.options(ignore_status=404)
    index_templates = lookup.indices.get_index_template(name=pattern).body.get("index_templates")
    names = [entry["name"] for entry in index_templates or []]
    if names:
        es.indices.delete_index_template(name=",".join(names))
    components = lookup.cluster.get_component_template(name=pattern).body
    names = [entry["name"] for entry in components.get("component_templates") or []]
    if names:
        es.cluster.delete_component_template(name=",".join(names))


def quicken_refresh(es: Elasticsearch, prefix: str, interval: str = "100ms") -> None:
    """Make the indices of ``prefix`` created from now on refresh every ``interval`` instead of
    the templates' 2 s; everything else of the shared settings template stays as installed.

    The stores' writes wait for the next refresh (``refresh="wait_for"``: a list read after a
    save shows it), ~1.9 s per save at 2 s. Only for tests that do not check that a read
    right after a write sees it (the conformance run checks the answers' shapes): at 0.1 s
    a store that forgot to wait would pass those checks by luck; the store tests keep 2 s."""
    shared = next(t for t in load_templates(prefix) if t.name == f"{prefix}-settings")
    body = copy.deepcopy(shared.body)
    body["template"]["settings"]["index"]["refresh_interval"] = interval
    es.cluster.put_component_template(name=shared.name, **body)


# The tests' sites: ``default`` open (no keys, public /tock), ``shop`` with every kind of key.
TEST_SITES: dict[str, dict[str, Any]] = {
    "default": {"write_auth": "none", "public_tock": True},
    "shop": {
        "write_auth": "key",
        "write_keys": [WRITE_KEY],
        "read_keys": [READ_KEY],
        "ingest_keys": [INGEST_KEY],
    },
}


def make_settings(
    es_url: str, index_prefix: str, spool_dir: Path | None = None, **overrides: Any
) -> Settings:
    raw: dict[str, Any] = {
        "elasticsearch": {"url": es_url, "index_prefix": index_prefix},
        "spool": {"dir": str(spool_dir or Path("/nonexistent/spool"))},
        "sites": TEST_SITES,
        "admin_keys": [ADMIN_KEY],
        "metrics": {"token": METRICS_TOKEN},
    }
    raw.update(overrides)
    return settings_from_mapping(raw)


@pytest.fixture
def settings(es_url: str, index_prefix: str, tmp_path: Path) -> Settings:
    return make_settings(es_url, index_prefix, tmp_path / "spool")


@pytest.fixture
def app(settings: Settings, es: Elasticsearch) -> Flask:
    install_templates(es, settings.elasticsearch.index_prefix)
    return create_app(settings, es=es)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ship(settings: Settings, es: Elasticsearch) -> Callable[[], int]:
    """Run the real shipper over the test's spool until it is empty; then refresh the indices.

    What `metronome shipper` does continuously, done on demand so tests are deterministic.
    """
    shipper = Shipper(
        settings.spool.dir,
        es,
        settings.elasticsearch.index_prefix,
        settings.shipper,
        storage=settings.storage,
    )

    def drain() -> int:
        shipped = 0
        while handled := shipper.run_once():
            shipped += handled
        es.indices.refresh(index=f"{settings.elasticsearch.index_prefix}-*", allow_no_indices=True)
        return shipped

    return drain


def flask_calls(client: FlaskClient) -> list[str]:
    """The paths of the requests that reach Flask's dispatch from now on: the fast path
    (``metronome/fastpath.py``) answers its requests without Flask's hooks."""
    calls: list[str] = []

    def record() -> None:
        calls.append(request.path)

    client.application.before_request(record)
    return calls


ClientWith = Callable[..., tuple[Settings, FlaskClient]]


@pytest.fixture
def client_with(es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path) -> ClientWith:
    """For a test that needs settings of its own: ``client_with(**overrides)`` makes the app
    from the test settings with ``overrides`` (spool in the test's directory unless they move
    it) and gives those settings and a test client. Templates are not installed."""

    def make(**overrides: Any) -> tuple[Settings, FlaskClient]:
        settings = make_settings(es_url, index_prefix, tmp_path / "spool", **overrides)
        return settings, create_app(settings, es=es).test_client()

    return make
