"""``GET /api/v1/sources`` and the source gauges in ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from flask.testing import FlaskClient

from metronome.es.templates import install_templates
from metronome.sources.lease import LeaseStore
from metronome.sources.registry import build_source, register
from metronome.web.app import create_app
from tests.conftest import ADMIN_KEY, METRICS_AUTH, READ_KEY, error_of, make_settings
from tests.integration.sources.contract import StaticSource, run, services
from tests.integration.sources.scenarios.paged_example import scenario

register(StaticSource)
AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Any]:
    with scenario(tmp_path) as built:
        yield built


@pytest.fixture
def admin_app(
    es_url: str, index_prefix: str, tmp_path: Path, es: Elasticsearch, remote: Any
) -> Flask:
    settings = make_settings(
        es_url,
        index_prefix,
        tmp_path / "spool",
        sites={
            "default": {"write_auth": "none"},
            "shop": {"write_auth": "none", "read_keys": [READ_KEY]},
            "ops": {"write_auth": "none", "read_keys": ["sk_admin_read_0001"]},
        },
        sources={
            "static": {"type": StaticSource.type_name, "interval": 60, "site": "shop"},
            "remote": {"type": "paged_example", "url": remote.options["url"], "cron": "0 3 * * *"},
        },
    )
    install_templates(es, index_prefix)
    return create_app(settings, es=es)


def _run(app: Flask, es: Elasticsearch, index_prefix: str, name: str) -> None:
    settings = app.extensions["metronome"].settings
    run(build_source(settings.sources[name], "default"), services(es, index_prefix))


def test_the_sources_need_an_admin_key_which_no_read_key_is(admin_app: Flask) -> None:
    client = admin_app.test_client()
    missing = client.get("/api/v1/sources")
    assert missing.status_code == 401 and error_of(missing)["code"] == "missing_key"
    assert "admin key" in error_of(missing)["message"]
    for key in (READ_KEY, "sk_admin_read_0001"):  # a read key, even of the site named ops
        answer = client.get("/api/v1/sources/static", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 403, key
        assert error_of(answer)["code"] == "admin_key_required"
        assert "admin_keys" in error_of(answer)["message"] and key not in answer.text
    wrong = client.get("/api/v1/sources", headers={"Authorization": "Bearer ak_not_the_one_0000"})
    assert wrong.status_code == 401 and error_of(wrong)["code"] == "invalid_key"
    in_url = client.get(f"/api/v1/sources?key={ADMIN_KEY}")
    assert in_url.status_code == 400 and error_of(in_url)["code"] == "key_in_url"
    assert client.get("/api/v1/sources", headers=AUTH).status_code == 200
    unknown = client.get("/api/v1/sources/nope", headers=AUTH)
    assert unknown.status_code == 404 and error_of(unknown)["code"] == "unknown_source"


def test_the_sources_report_runs_lag_and_failures(
    admin_app: Flask, es: Elasticsearch, index_prefix: str, remote: Any
) -> None:
    client: FlaskClient = admin_app.test_client()
    before = client.get("/api/v1/sources", headers=AUTH).get_json()
    assert before["scheduler"] is None
    assert [row["name"] for row in before["sources"]] == ["static", "remote"]
    assert all(row["last_success_at"] is None and row["stale"] for row in before["sources"])

    _run(admin_app, es, index_prefix, "static")
    remote.fail()
    _run(admin_app, es, index_prefix, "remote")
    rows = {
        row["name"]: row
        for row in client.get("/api/v1/sources", headers=AUTH).get_json()["sources"]
    }
    static, failing = rows["static"], rows["remote"]
    assert static["last_success_at"] and static["lag_seconds"] < 60 and not static["stale"]
    assert static["documents_total"] == 6 and static["stream"] == "contract"
    assert static["site"] == "shop" and static["schedule"] == {"interval_seconds": 60}
    assert static["last_run"]["outcome"] == "ok" and static["cursor"] == {"done": 2}
    assert failing["failing"] and failing["consecutive_failures"] == 1
    assert (
        failing["last_error"]["kind"] == "RemoteError" and "503" in failing["last_error"]["message"]
    )
    assert failing["site"] == "default" and failing["schedule"] == {"cron": "0 3 * * *"}
    one = client.get("/api/v1/sources/remote", headers=AUTH).get_json()
    assert one["name"] == "remote" and one["failing"]

    metrics = client.get("/metrics", headers=METRICS_AUTH).get_data(as_text=True)
    assert (
        'metronome_source_consecutive_failures{source="remote",type="paged_example"} 1.0' in metrics
    )
    assert 'metronome_source_stale{source="static",type="contract_static"} 0.0' in metrics
    assert 'metronome_source_lag_seconds{source="static"' in metrics
    assert 'metronome_source_runs_total{outcome="failed",source="remote"}' in metrics


def test_the_scheduler_holding_the_lease_is_shown(
    admin_app: Flask, es: Elasticsearch, index_prefix: str
) -> None:
    LeaseStore(es, index_prefix).acquire("scheduler", "host-1:42:abc", ttl=30)
    body = admin_app.test_client().get("/api/v1/sources", headers=AUTH).get_json()
    assert body["scheduler"]["holder"] == "host-1:42:abc"
