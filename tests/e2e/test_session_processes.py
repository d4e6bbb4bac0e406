"""Sessions as deployed: `metronome serve`'s workers behind the real nginx of config/nginx.conf.

The browser reaches nginx over https, nginx reaches Metronome over plain http and says so in
X-Forwarded-Proto, believed from the proxies of ``rate_limits.trusted_proxies``: the cookie
must still be Secure. Every worker reads the same secret, so a
cookie signed by one is good on every other (connections are spread over the workers)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from elasticsearch import Elasticsearch

from metronome.es.templates import install_templates
from tests.e2e.processes import Metronome, running
from tests.e2e.test_reverse_proxy import NGINX, Nginx

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx: make test-tools"),
]

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def served(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> Iterator[tuple[Metronome, Nginx, Path]]:
    install_templates(es, index_prefix)
    workdir = tmp_path / "metronome"
    metronome = Metronome(
        es_url,
        index_prefix,
        workdir,
        METRONOME_RATE_LIMITS__TRUSTED_PROXIES="127.0.0.1",
    )
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(tmp_path / "nginx", metronome.port)
    try:
        metronome.start_web(workers=2)
        nginx.start()
        yield metronome, nginx, workdir
    finally:
        nginx.stop()
        metronome.stop()


def test_a_session_signed_in_through_nginx_is_secure_and_good_on_every_worker(
    served: tuple[Metronome, Nginx, Path],
) -> None:
    _, nginx, workdir = served
    key = (workdir / "keys" / "default.read-key").read_text().strip()  # generated at start
    body = json.dumps({"key": key}).encode()
    status, headers, answer = nginx.request("POST", "/api/v1/session", body, headers=JSON)
    assert status == 200, answer
    cookie = headers["Set-Cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= attributes
    session = json.loads(answer)
    assert session["sites"] == ["default"]
    sent = {
        **JSON,
        "Cookie": cookie.split(";")[0],
        "X-CSRF-Token": session["csrf_token"],
    }
    query = json.dumps({"metrics": ["count"], "date_range": ["2026-01-01", "2026-01-02"]}).encode()
    # A new connection each time: the kernel spreads them over both workers.
    statuses = {nginx.request("POST", "/api/v1/query", query, headers=sent)[0] for _ in range(16)}
    assert statuses == {200}
    without_token = {k: v for k, v in sent.items() if k != "X-CSRF-Token"}
    status, _, answer = nginx.request("POST", "/api/v1/query", query, headers=without_token)
    assert status == 403
    assert json.loads(answer)["error"]["code"] == "csrf"


def test_x_forwarded_proto_from_a_proxy_not_trusted_is_ignored(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> None:
    # gunicorn alone would believe any local process (its forwarded_allow_ips is loopback by
    # default) and call a plain-http request https; the scheme is Metronome's decision.
    install_templates(es, index_prefix)
    with running(es_url, index_prefix, tmp_path / "metronome") as metronome:
        key = (tmp_path / "metronome" / "keys" / "default.read-key").read_text().strip()
        response = requests.post(
            f"{metronome.base}/api/v1/session",
            json={"key": key},
            headers={"X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        attributes = {p.strip().lower() for p in response.headers["Set-Cookie"].split(";")[1:]}
        assert "httponly" in attributes
        assert "secure" not in attributes
