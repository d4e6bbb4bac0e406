"""Metronome against a secured cluster: TLS with its own CA, and credentials on every request.

The embedded node has no security module, so the secured cluster is a TLS-terminating proxy in
front of it, written here: a certificate signed by a CA generated for the test, and the 401 that
Elasticsearch answers (with ``WWW-Authenticate``) to a request without valid credentials. The
app and the shipper go through it: a hit is posted, shipped and read back with the query API.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID

from metronome.config import Settings
from metronome.es.client import build_client
from metronome.es.templates import install_templates
from metronome.spool.shipper import Shipper
from metronome.web.app import create_app
from tests.conftest import READ_KEY, free_port, make_settings
from tests.pki import certificate, new_key, write_pem

USER, PASSWORD = "metronome_writer", "pa55-w0rd-in-test"
API_KEY_ID, API_KEY = "k3y-id", "k3y-s3cret"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "trailer"}


@dataclass(frozen=True)
class Tls:
    ca_file: Path
    cert_file: Path
    key_file: Path
    fingerprint: str  # SHA-256 of the server certificate, hex


def make_tls(directory: Path) -> Tls:
    """A CA, and a certificate for 127.0.0.1 signed by it (the CA alone is trusted)."""
    ca_key, key = new_key(), new_key()
    ca = certificate("Metronome test CA", ca_key, ca=True)
    cert = certificate(
        "127.0.0.1", key, (ca.subject, ca_key), usage=ExtendedKeyUsageOID.SERVER_AUTH
    )
    return Tls(
        write_pem(directory / "ca.pem", ca),
        write_pem(directory / "server.pem", cert, key),
        directory / "server.key",
        cert.fingerprint(hashes.SHA256()).hex(),
    )


ACCEPTED = {
    "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),
    "ApiKey " + base64.b64encode(f"{API_KEY_ID}:{API_KEY}".encode()).decode(),
}


def unauthorised_body(path: str) -> bytes:
    reason = f"missing authentication credentials for REST request [{path}]"
    cause = {"type": "security_exception", "reason": reason}
    return json.dumps({"error": {"root_cause": [cause], **cause}, "status": 401}).encode()


class SecuredProxy(BaseHTTPRequestHandler):
    """Elasticsearch's security in front of the embedded node: credentials or a 401."""

    protocol_version = "HTTP/1.1"  # keep-alive, as the client expects
    upstream: tuple[str, int] = ("127.0.0.1", 9200)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def relay(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Authorization") not in ACCEPTED:
            self.answer(
                401,
                [
                    ("WWW-Authenticate", 'Basic realm="security" charset="UTF-8"'),
                    ("WWW-Authenticate", "ApiKey"),
                    ("Content-Type", "application/json"),
                ],
                unauthorised_body(self.path),
            )
            return
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP | {"authorization", "host"}
        }
        connection = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            content = response.read()
            kept = [(n, v) for n, v in response.getheaders() if n.lower() not in HOP_BY_HOP]
        finally:
            connection.close()
        self.answer(response.status, kept, content)

    def answer(self, status: int, headers: list[tuple[str, str]], content: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    # http.server calls do_<METHOD>
    def do_GET(self) -> None:
        self.relay()

    def do_HEAD(self) -> None:
        self.relay()

    def do_POST(self) -> None:
        self.relay()

    def do_PUT(self) -> None:
        self.relay()

    def do_DELETE(self) -> None:
        self.relay()


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Tls:
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def secured_url(es_url: str, tls: Tls) -> Iterator[str]:
    upstream = urlsplit(es_url)
    handler = type("Proxy", (SecuredProxy,), {"upstream": (upstream.hostname, upstream.port)})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls.cert_file, tls.key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def secured_settings(url: str, index_prefix: str, spool: Path, **elasticsearch: Any) -> Settings:
    return make_settings(
        url,
        index_prefix,
        spool,
        elasticsearch={"url": url, "index_prefix": index_prefix, **elasticsearch},
    )


def hit_round_trip(settings: Settings) -> int:
    """Post a hit to the app, ship it and count it with the query API, all through the proxy."""
    client = build_client(settings.elasticsearch)
    install_templates(client, settings.elasticsearch.index_prefix)
    web = create_app(settings).test_client()  # builds its own client from the settings
    posted = web.post("/tick", json={"id": "secured", "site": "shop", "key": "pk_shop_write_0001"})
    assert posted.status_code == 202, posted.get_data(as_text=True)
    shipper = Shipper(
        settings.spool.dir, client, settings.elasticsearch.index_prefix, settings.shipper
    )
    assert shipper.run_once() == 1
    client.indices.refresh(index=f"{settings.elasticsearch.index_prefix}-*")
    answer = web.post(
        "/api/v1/query",
        json={"site": "shop", "metrics": ["count"], "date_range": "7d"},
        headers={"Authorization": f"Bearer {READ_KEY}"},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return int(answer.get_json()["results"][0]["metrics"][0])


@pytest.mark.parametrize(
    "credentials",
    [
        pytest.param({"username": USER, "password": PASSWORD}, id="basic-auth"),
        pytest.param({"api_key": f"{API_KEY_ID}:{API_KEY}"}, id="api-key-pair"),
        pytest.param(
            {"api_key": base64.b64encode(f"{API_KEY_ID}:{API_KEY}".encode()).decode()},
            id="api-key-encoded",
        ),
    ],
)
def test_the_app_and_the_shipper_work_through_tls_with_credentials(
    secured_url: str, tls: Tls, index_prefix: str, tmp_path: Path, credentials: dict[str, str]
) -> None:
    settings = secured_settings(
        secured_url, index_prefix, tmp_path / "spool", ca_certs=str(tls.ca_file), **credentials
    )
    assert hit_round_trip(settings) == 1


def test_a_certificate_fingerprint_replaces_the_ca(
    secured_url: str, tls: Tls, index_prefix: str, tmp_path: Path
) -> None:
    fingerprint = ":".join(tls.fingerprint[i : i + 2] for i in range(0, 64, 2)).upper()
    settings = secured_settings(
        secured_url,
        index_prefix,
        tmp_path / "spool",
        username=USER,
        password=PASSWORD,
        ssl_assert_fingerprint=fingerprint,
    )
    assert hit_round_trip(settings) == 1


def serve(url: str, workdir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **{k: v for k, v in os.environ.items() if not k.startswith("METRONOME_")},
        "METRONOME_ES_URL": url,
        "METRONOME_SERVER__PORT": str(free_port()),
        "METRONOME_LOGS__FORWARD__ENABLED": "false",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "metronome.cli", "serve"],
        check=False,
        cwd=workdir,  # no config/metronome.yml there: the defaults and the environment
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_wrong_password_stops_serve_with_a_sentence_and_prints_no_password(
    secured_url: str, tls: Tls, tmp_path: Path
) -> None:
    wrong = "not-the-pa55word"
    host = secured_url.removeprefix("https://")
    result = serve(
        f"https://{USER}:{wrong}@{host}",
        tmp_path,
        METRONOME_ELASTICSEARCH__CA_CERTS=str(tls.ca_file),
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"Using Elasticsearch at https://{USER}:***@{host}" in result.stdout
    assert "refused the credentials (401 Unauthorized)" in result.stderr
    assert "elasticsearch.password" in result.stderr
    assert "Traceback" not in output
    assert wrong not in output


def test_an_untrusted_certificate_stops_serve_naming_the_tls_settings(
    secured_url: str, tmp_path: Path
) -> None:
    result = serve(
        secured_url,
        tmp_path,
        METRONOME_ELASTICSEARCH__USERNAME=USER,
        METRONOME_ELASTICSEARCH__PASSWORD=PASSWORD,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "elasticsearch.ca_certs" in result.stderr
    assert "Traceback" not in output
    assert PASSWORD not in output
