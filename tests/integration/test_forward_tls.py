"""The forward listener over TLS (Fluentd's ``transport tls``), with certificates of a test CA.

A real TLS client (Python's ssl module) sends real forward frames; a plain-TCP client gets
nothing stored; with a ``ca_file`` only clients with a certificate it signed get in.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.x509.oid import ExtendedKeyUsageOID

from metronome.config import ForwardSettings, ForwardTlsSettings
from metronome.logs.forward import ForwardServer, ForwardServerThread, server_options
from metronome.logs.forward.tls import server_context
from tests.forward_frames import array, pk, str32
from tests.integration.test_forward_server import (
    FLUENTD_CHUNK,
    KEY,
    SERVER_HOST,
    T0,
    RecordingSink,
    ack_of,
    closed_by_server,
    handshake,
    read_exactly,
)
from tests.pki import certificate, new_key, write_pem


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, both CA-signed."""
    folder = tmp_path_factory.mktemp("pki")
    ca_key, server_key, client_key = new_key(), new_key(), new_key()
    ca = certificate("test CA", ca_key, ca=True)
    issuer = (ca.subject, ca_key)
    server = certificate("127.0.0.1", server_key, issuer, usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client = certificate("web-1", client_key, issuer, usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    return Pki(
        ca=write_pem(folder / "ca.pem", ca),
        server_cert=write_pem(folder / "server.pem", server, server_key),
        server_key=folder / "server.key",
        client_cert=write_pem(folder / "client.pem", client, client_key),
        client_key=folder / "client.key",
    )


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


def running(sink: RecordingSink, context: ssl.SSLContext, **options: Any) -> ForwardServerThread:
    forward = ForwardServer(sink, "127.0.0.1", 0, tls=context, server_host=SERVER_HOST, **options)
    return ForwardServerThread(forward, grace=2).start()


@pytest.fixture
def tls_server(sink: RecordingSink, pki: Pki) -> Iterator[ForwardServerThread]:
    server = running(sink, server_context(pki.server_cert, pki.server_key))
    yield server
    server.stop()


def tls_connect(
    server: ForwardServerThread, pki: Pki, *, with_client_cert: bool = False
) -> ssl.SSLSocket:
    """A verifying TLS client: it trusts only the test CA and checks the name 127.0.0.1."""
    context = ssl.create_default_context(cafile=str(pki.ca))
    if with_client_cert:
        context.load_cert_chain(pki.client_cert, pki.client_key)
    raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def packed_forward(chunk: str = FLUENTD_CHUNK) -> bytes:
    entries = b"".join(pk([T0, {"n": n, "via": "tls"}]) for n in range(3))
    return array(pk("app.tls"), str32(entries), pk({"chunk": chunk, "compressed": "text"}))


def test_records_sent_over_tls_are_stored_and_acked(
    tls_server: ForwardServerThread, sink: RecordingSink, pki: Pki
) -> None:
    with tls_connect(tls_server, pki) as sock:
        assert sock.version() in ("TLSv1.2", "TLSv1.3")
        sock.sendall(packed_forward())
        assert read_exactly(sock, len(ack_of(FLUENTD_CHUNK))) == ack_of(FLUENTD_CHUNK)
    assert [event.record for event in sink.events] == [{"n": n, "via": "tls"} for n in range(3)]


def test_a_plain_tcp_client_gets_nothing_stored(
    tls_server: ForwardServerThread, sink: RecordingSink
) -> None:
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=5) as sock:
        sock.sendall(packed_forward())
        assert closed_by_server(sock)
    assert sink.events == []
    assert (tls_server.counters.connections, tls_server.counters.acks) == (0, 0)


def test_the_shared_key_handshake_over_tls(sink: RecordingSink, pki: Pki) -> None:
    server = running(sink, server_context(pki.server_cert, pki.server_key), shared_key=KEY)
    try:
        with tls_connect(server, pki) as sock:
            assert handshake(sock, KEY, "web-1")[1] is True
            sock.sendall(packed_forward())
            assert read_exactly(sock, len(ack_of(FLUENTD_CHUNK))) == ack_of(FLUENTD_CHUNK)
    finally:
        server.stop()
    assert len(sink.events) == 3


def test_with_a_ca_file_only_clients_with_a_signed_certificate_get_in(
    sink: RecordingSink, pki: Pki
) -> None:
    # From the settings, as `metronome forward` builds it.
    settings = ForwardSettings(
        tls=ForwardTlsSettings(pki.server_cert, pki.server_key, ca_file=pki.ca)
    )
    options = server_options(settings)
    server = running(sink, options["tls"], max_connections=options["max_connections"])
    try:
        with tls_connect(server, pki) as sock:  # no client certificate
            try:
                sock.sendall(packed_forward())
                refused = closed_by_server(sock)
            except ssl.SSLError:  # TLS 1.3: the alert arrives on the first read or write
                refused = True
            assert refused
        with tls_connect(server, pki, with_client_cert=True) as sock:
            sock.sendall(packed_forward())
            assert read_exactly(sock, len(ack_of(FLUENTD_CHUNK))) == ack_of(FLUENTD_CHUNK)
    finally:
        server.stop()
    assert len(sink.events) == 3


def test_a_tls_handshake_that_never_comes_is_given_up(sink: RecordingSink, pki: Pki) -> None:
    context = server_context(pki.server_cert, pki.server_key)
    server = running(sink, context, handshake_timeout=0.3)
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            started = time.monotonic()
            assert closed_by_server(sock)  # no ClientHello: closed after the handshake timeout
            assert 0.2 < time.monotonic() - started < 4
    finally:
        server.stop()


def test_tls_files_that_cannot_be_used_are_an_error_before_listening(
    pki: Pki, tmp_path: Path
) -> None:
    missing = ForwardTlsSettings(tmp_path / "missing.pem", tmp_path / "missing.key")
    with pytest.raises(FileNotFoundError):
        server_options(ForwardSettings(tls=missing))
    swapped = ForwardTlsSettings(pki.server_key, pki.server_cert)  # key and certificate swapped
    with pytest.raises(ssl.SSLError):
        server_options(ForwardSettings(tls=swapped))
