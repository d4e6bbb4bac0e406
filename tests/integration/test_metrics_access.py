"""Who reads ``GET /metrics``: the metrics token or an admin key, as a bearer token, never
anyone else, unless ``metrics.auth: none`` opens it (docs/operations.md, "Monitoring")."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import Elasticsearch

from metronome.web.app import create_app
from tests.conftest import ADMIN_KEY, METRICS_TOKEN, READ_KEY, error_of, make_settings


def test_metrics_need_the_token_or_an_admin_key(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    client = create_app(
        make_settings(es_url, index_prefix, tmp_path / "spool"), es=es
    ).test_client()
    for key in (METRICS_TOKEN, ADMIN_KEY):
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 200 and "metronome_spool_bytes" in answer.text
    refused = [
        ({}, "", 401, "missing_key"),
        ({"Authorization": "Bearer mt_not_the_token_01"}, "", 401, "invalid_key"),
        ({"Authorization": f"Basic {METRICS_TOKEN}"}, "", 401, "missing_key"),
        ({"Authorization": f"Bearer {READ_KEY}"}, "", 403, "admin_key_required"),
        ({}, f"?token={METRICS_TOKEN}", 400, "key_in_url"),
    ]
    for headers, query, status, code in refused:
        answer = client.get(f"/metrics{query}", headers=headers)
        assert (answer.status_code, answer.mimetype) == (status, "application/json"), code
        assert error_of(answer)["code"] == code
        assert "metronome_" not in answer.text and METRICS_TOKEN not in answer.text


def test_the_token_generated_at_first_start_reads_metrics(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(es_url, index_prefix, tmp_path / "spool", admin_keys=[], metrics={})
    client = create_app(settings, es=es).test_client()
    token = (tmp_path / "keys" / "metrics.token").read_text().strip()
    admin = (tmp_path / "keys" / "admin.key").read_text().strip()
    assert client.get("/metrics").status_code == 401
    for key in (token, admin):
        assert client.get("/metrics", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    sources = client.get("/api/v1/sources", headers={"Authorization": f"Bearer {admin}"})
    assert sources.status_code == 200


def test_metrics_auth_none_opens_them(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    settings = make_settings(es_url, index_prefix, tmp_path / "spool", metrics={"auth": "none"})
    answer = create_app(settings, es=es).test_client().get("/metrics")
    assert answer.status_code == 200 and "metronome_spool_bytes" in answer.text
