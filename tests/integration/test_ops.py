from __future__ import annotations

from pathlib import Path

from elasticsearch import Elasticsearch
from flask.testing import FlaskClient

from metronome.config import Settings
from metronome.web.app import create_app
from tests.conftest import free_port, make_settings


def test_healthz_and_readyz(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["elasticsearch"] in ("green", "yellow")


def test_ingest_keeps_accepting_while_elasticsearch_is_unreachable(
    index_prefix: str, tmp_path: Path
) -> None:
    dead_url = f"http://127.0.0.1:{free_port()}"
    settings: Settings = make_settings(dead_url, index_prefix, tmp_path / "spool")
    app = create_app(settings, es=Elasticsearch(dead_url, request_timeout=1, max_retries=0))
    client = app.test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.headers["Retry-After"]
    assert ready.get_json()["elasticsearch"] == "unreachable"
    tick = client.post("/tick", json={"id": "a"})
    assert tick.status_code == 202  # spooled durably; shipped once Elasticsearch is back
    tock = client.get("/tock/a")
    assert tock.status_code == 503
