"""gunicorn as `metronome serve` runs it spreads keep-alive connections over its workers, and a
worker killed with -9 hands its listening socket to its replacement (metronome.web.sockets)."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from metronome.serve.supervisor import ServeError, check_port_free
from metronome.web import sockets as listeners
from tests.conftest import ROOT, free_port
from tests.e2e.processes import web_command

pytestmark = pytest.mark.skipif(not listeners.supported(), reason="SO_REUSEPORT balances on Linux")

CONNECTIONS = 40


class Web:
    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port

    def workers(self) -> list[int]:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return sorted(int(pid) for pid in children.read_text().split())

    def serving_pids(self, connections: int = CONNECTIONS) -> Counter[int]:
        """Open every connection first (as a pool does), then ask each which worker has it."""
        opened = [
            http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            for _ in range(connections)
        ]
        try:
            for connection in opened:
                connection.connect()
            served: Counter[int] = Counter()
            for connection in opened:
                connection.request("GET", "/")
                response = connection.getresponse()
                assert response.status == 200
                served[int(response.read())] += 1
            return served
        finally:
            for connection in opened:
                connection.close()


@pytest.fixture
def web() -> Iterator[Web]:
    port = free_port()
    process = subprocess.Popen(
        [*web_command(port, 2, "tests.e2e.pid_app:app"), "--log-level", "warning"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    web = Web(process, port)
    try:
        deadline = time.monotonic() + 30
        while len(web.workers()) < 2 or not _answers(port):
            assert time.monotonic() < deadline, "gunicorn did not start"
            time.sleep(0.1)
        yield web
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        connection.request("GET", "/")
        ok = connection.getresponse().status == 200
        connection.close()
        return ok
    except OSError:
        return False


def test_keep_alive_connections_are_spread_over_both_workers(web: Web) -> None:
    served = web.serving_pids()
    assert set(served) == set(web.workers())
    # The kernel hashes each connection to one socket: 40 connections split binomially; one
    # worker with fewer than 8 happens once in 50,000 runs. A shared socket gives 1 to 6.
    assert min(served.values()) >= 8, served


def test_a_worker_killed_with_9_leaves_its_socket_to_its_replacement(web: Web) -> None:
    victim = web.workers()[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while victim in web.workers() or len(web.workers()) < 2:
        assert time.monotonic() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.1)
    # Connections hashed to the dead worker's socket wait in its backlog until the replacement
    # polls it; with no one polling it they would time out here.
    served = web.serving_pids()
    assert sum(served.values()) == CONNECTIONS
    assert set(served) == set(web.workers())
    assert min(served.values()) >= 8, served


def test_gunicorn_is_asked_for_one_socket_per_worker() -> None:
    options = listeners.gunicorn_options("127.0.0.1:8080", 3)
    assert options.count("--bind") == 3
    assert "--reuse-port" in options
    assert options[options.index("--worker-class") + 1] == listeners.WORKER_CLASS
    assert listeners.gunicorn_options("127.0.0.1:8080", 1) == [
        "--bind", "127.0.0.1:8080", "--worker-class", listeners.SINGLE_WORKER_CLASS,
    ]  # fmt: skip


def test_a_new_worker_gets_the_lowest_slot_no_live_worker_holds() -> None:
    assert listeners.free_slot([], 2) == 0
    assert listeners.free_slot([0], 2) == 1
    assert listeners.free_slot([1], 2) == 0  # the worker of slot 0 died
    assert listeners.free_slot([0, 1], 2) is None  # more workers than sockets: poll them all
    assert listeners.free_slot([None, 1], 3) == 0


def test_serve_refuses_a_port_something_listens_on() -> None:
    port = free_port()
    check_port_free("127.0.0.1", port)  # free: no error
    with subprocess.Popen(
        [sys.executable, "-c", _LISTEN.format(port=port)], stdout=subprocess.PIPE
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == b"listening"
        try:
            with pytest.raises(ServeError, match=f"cannot listen on 127.0.0.1:{port}"):
                check_port_free("127.0.0.1", port)
        finally:
            holder.kill()


# Another process listening with SO_REUSEPORT, as an older Metronome's gunicorn would.
_LISTEN = """
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", {port}))
s.listen()
print("listening", flush=True)
time.sleep(60)
"""
