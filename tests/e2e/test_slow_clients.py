"""Slow clients (slowloris) cannot take the web workers' threads: with 64 connections dripping
their headers or bodies a byte at a time, other clients still get their 202 within a second,
and a request that does not arrive in time is dropped (metronome.web.slowclients)."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.e2e.processes import Metronome

SLOW_CONNECTIONS = 64
HIT = b'{"id": "slow-test", "event": "view"}'


class Drippers:
    """Connections that send a request one byte at a time, a byte every ``interval`` seconds
    (each byte resets a per-read timeout, so only a bound on the whole request stops them)."""

    def __init__(self, port: int, count: int, interval: float = 0.2) -> None:
        head = b"POST /tick HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        body_head = head + b"Content-Length: %d\r\n\r\n" % len(HIT)
        # Half drip their headers, half send headers and drip the body.
        self.requests = [
            head + b"X-Pad: " + b"a" * 200 if n % 2 else body_head for n in range(count)
        ]
        self.sockets = [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]
        self.interval = interval
        self.stop = threading.Event()
        self.closed_after: dict[int, float] = {}  # connection -> seconds until the server closed it
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        for sock, request in zip(self.sockets, self.requests, strict=True):
            prefix = request if request.endswith(b"\r\n\r\n") else request[:1]
            sock.sendall(prefix)  # the first bytes wake the worker for this connection
        self.started = time.monotonic()
        self.thread.start()

    def _run(self) -> None:
        sent = [len(r) if r.endswith(b"\r\n\r\n") else 1 for r in self.requests]
        while not self.stop.wait(self.interval):
            for n, sock in enumerate(self.sockets):
                if n in self.closed_after:
                    continue
                request = self.requests[n] if n % 2 else self.requests[n] + HIT
                byte = request[sent[n] : sent[n] + 1] or b"a"  # past the end: more padding
                try:
                    sock.sendall(byte)
                    sent[n] += 1
                except OSError:
                    self.closed_after[n] = time.monotonic() - self.started

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for sock in self.sockets:
            sock.close()


@pytest.fixture(scope="module")
def metronome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Metronome]:
    # POST /tick only needs the spool: no Elasticsearch is asked.
    workdir = tmp_path_factory.mktemp("slow")
    web = Metronome("http://127.0.0.1:9", "slow", workdir, METRONOME_SERVER__REQUEST_TIMEOUT="3")
    try:
        web.start_web()
        yield web
    finally:
        web.stop()


def post_hit(metronome: Metronome, timeout: float) -> requests.Response:
    return requests.post(
        f"{metronome.base}/tick", data=HIT, timeout=timeout,
        headers={"Content-Type": "application/json", "Connection": "close"},
    )  # fmt: skip


@pytest.mark.e2e
def test_normal_clients_get_their_202_within_a_second_beside_64_slow_connections(
    metronome: Metronome,
) -> None:
    for _ in range(10):  # both workers are up (each has its own socket), unhurried
        assert post_hit(metronome, timeout=30).status_code == 202
    drippers = Drippers(metronome.port, SLOW_CONNECTIONS)
    try:
        drippers.start()
        time.sleep(0.5)  # every slow connection has sent its first bytes and waits
        latencies = []
        for _ in range(10):  # new connections: each goes to either worker
            started = time.monotonic()
            response = post_hit(metronome, timeout=1)
            latencies.append(time.monotonic() - started)
            assert response.status_code == 202
        assert max(latencies) < 1.0
        assert not drippers.closed_after  # the slow ones are still connected, not yet cut
    finally:
        drippers.close()


@pytest.mark.e2e
def test_a_request_that_takes_longer_than_request_timeout_is_dropped(
    metronome: Metronome,
) -> None:
    drippers = Drippers(metronome.port, 4)
    try:
        drippers.start()
        deadline = time.monotonic() + 10
        while len(drippers.closed_after) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        # server.request_timeout is 3 s here; the dripping never made the request complete.
        assert sorted(drippers.closed_after) == [0, 1, 2, 3]
        assert all(2.5 < after < 6 for after in drippers.closed_after.values())
    finally:
        drippers.close()


# What the worker reads in its poller still reaches the app as gunicorn would hand it over.


def test_a_kept_alive_connection_serves_request_after_request(metronome: Metronome) -> None:
    with requests.Session() as session:
        for _ in range(5):
            response = session.post(f"{metronome.base}/tick", data=HIT, headers=JSON, timeout=10)
            assert response.status_code == 202


def test_a_chunked_body_arrives_whole(metronome: Metronome) -> None:
    chunks = iter([HIT[:10], HIT[10:]])
    response = requests.post(f"{metronome.base}/tick", data=chunks, headers=JSON, timeout=10)
    assert response.status_code == 202


def test_a_body_after_expect_continue_is_read_by_the_thread(metronome: Metronome) -> None:
    with socket.create_connection(("127.0.0.1", metronome.port), timeout=10) as sock:
        sock.sendall(
            b"POST /tick HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(HIT)
        )
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(HIT)
        assert sock.recv(1000).startswith(b"HTTP/1.1 202")


def test_headers_over_64_kib_get_a_json_431(metronome: Metronome) -> None:
    with socket.create_connection(("127.0.0.1", metronome.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 70_000)
        answer = read_answer(sock)
    assert answer.status == 431
    assert json.loads(answer.read())["error"]["code"] == "request_header_fields_too_large"


def test_after_a_refused_large_body_the_connection_serves_the_next_request(
    metronome: Metronome,
) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", metronome.port, timeout=10)
    try:
        too_large = b"x" * 1_048_577  # ingest.max_body_bytes + 1, sent whole
        connection.request("POST", "/tick", body=too_large, headers=JSON)
        response = connection.getresponse()
        assert response.status == 413
        response.read()
        connection.request("POST", "/tick", body=HIT, headers=JSON)
        assert connection.getresponse().status == 202
    finally:
        connection.close()


JSON = {"Content-Type": "application/json"}


def read_answer(sock: socket.socket) -> http.client.HTTPResponse:
    answer = http.client.HTTPResponse(sock)
    answer.begin()
    return answer
