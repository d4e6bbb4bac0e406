"""config/nginx.conf works as documented: a real nginx (Debian's, `make test-tools`) in front of
`metronome serve`'s processes terminates TLS, passes hits through and reads them back, refuses
a body over Metronome's limit itself, and names the client in X-Forwarded-For, which the rate
limits believe from the trusted proxy only."""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from elasticsearch import Elasticsearch

from metronome.es.templates import install_templates
from tests.conftest import ROOT, free_port
from tests.e2e.processes import Metronome, wait_for_count

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not Path(NGINX).exists(), reason="needs Debian's nginx: make test-tools"),
]

# Around the example (which goes in nginx's http context): paths of a private prefix.
MAIN = """
user root;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {prefix}/metronome.conf;
}}
"""


class Nginx:
    def __init__(self, prefix: Path, upstream_port: int) -> None:
        self.prefix = prefix
        self.https_port = free_port()
        self.http_port = free_port()
        cert, key = prefix / "cert.pem", prefix / "key.pem"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=localhost", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )  # fmt: skip
        example = (ROOT / "config" / "nginx.conf").read_text()
        replacements = {
            "server 127.0.0.1:8080;": f"server 127.0.0.1:{upstream_port};",
            "listen 443 ssl http2;": f"listen 127.0.0.1:{self.https_port} ssl http2;",
            "listen 80;": f"listen 127.0.0.1:{self.http_port};",
            "/etc/letsencrypt/live/metronome.example.org/fullchain.pem": str(cert),
            "/etc/letsencrypt/live/metronome.example.org/privkey.pem": str(key),
        }
        for old, new in replacements.items():
            assert old in example, old
            example = example.replace(old, new)
        (prefix / "metronome.conf").write_text(example)
        self.conf = prefix / "nginx.conf"
        self.conf.write_text(MAIN.format(prefix=prefix))
        self.process: subprocess.Popen[bytes] | None = None

    def command(self, *args: str) -> list[str]:
        return [NGINX, "-p", str(self.prefix), "-c", str(self.conf), *args]

    def start(self) -> None:
        subprocess.run(self.command("-t", "-q"), check=True)
        self.process = subprocess.Popen(self.command("-g", "daemon off;"))
        deadline = time.monotonic() + 10
        while (
            (self.prefix / "nginx.pid").stat().st_size == 0
            if (self.prefix / "nginx.pid").exists()
            else True
        ):
            assert time.monotonic() < deadline, "nginx did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        source: str = "127.0.0.2",
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], bytes]:
        """Over TLS, from ``source`` (any 127.x address is this host's)."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, timeout=10, context=context, source_address=(source, 0)
        )
        try:
            connection.request(method, path, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture
def proxied(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> Iterator[tuple[Metronome, Nginx]]:
    install_templates(es, index_prefix)
    metronome = Metronome(
        es_url, index_prefix, tmp_path / "metronome",
        METRONOME_RATE_LIMITS__TRUSTED_PROXIES="127.0.0.1",
        METRONOME_RATE_LIMITS__EXEMPT="::1",  # the test's clients are 127.0.0.2 and .3
        METRONOME_RATE_LIMITS__INGEST__PER_IP__RATE="0.01",
        METRONOME_RATE_LIMITS__INGEST__PER_IP__BURST="3",
    )  # fmt: skip
    (tmp_path / "nginx").mkdir()
    nginx = Nginx(tmp_path / "nginx", metronome.port)
    try:
        metronome.start_web(workers=1)  # one worker: one set of buckets
        metronome.start_shipper()
        nginx.start()
        yield metronome, nginx
    finally:
        nginx.stop()
        metronome.stop()


HIT = json.dumps({"id": "proxied", "event": "view"}).encode()
JSON = {"Content-Type": "application/json"}


def test_a_hit_goes_through_nginx_and_comes_back(proxied: tuple[Metronome, Nginx]) -> None:
    metronome, nginx = proxied
    prefix = metronome.env["METRONOME_ELASTICSEARCH__INDEX_PREFIX"]
    status, _, _ = nginx.request("POST", "/tick", HIT, headers=JSON)
    assert status == 202
    assert wait_for_count(metronome.env["METRONOME_ES_URL"], f"{prefix}-hits-*", 1) == 1
    status, _, body = nginx.request("GET", "/tock/proxied", source="127.0.0.3")
    assert status == 200
    assert json.loads(body)["totals"]["views"] == 1
    # A body over ingest.max_body_bytes is refused by nginx, never sent on.
    status, _, body = nginx.request("POST", "/tick", b"x" * 1_048_577, headers=JSON)
    assert status == 413


def test_the_rate_limits_see_the_client_named_by_nginx(proxied: tuple[Metronome, Nginx]) -> None:
    _, nginx = proxied
    statuses = [nginx.request("POST", "/tick", HIT, headers=JSON)[0] for _ in range(3)]
    assert statuses == [202, 202, 202]  # the burst of 3
    status, headers, body = nginx.request("POST", "/tick", HIT, headers=JSON)
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert json.loads(body)["error"]["code"] == "rate_limited"
    # A forged X-Forwarded-For is left of what nginx appends: the limits still see 127.0.0.2.
    forged = {**JSON, "X-Forwarded-For": "203.0.113.50"}
    assert nginx.request("POST", "/tick", HIT, headers=forged)[0] == 429
    # Another client behind the same proxy has its own bucket (were nginx's own address the
    # client, it would share the empty one).
    assert nginx.request("POST", "/tick", HIT, source="127.0.0.3", headers=JSON)[0] == 202
