"""The forward listener as `metronome serve` runs it: an acknowledged chunk is in
Elasticsearch whatever happens to the process, and a chunk resent after a kill -9 (no ack) is
stored once. Small here; bench/forward.py runs the full-size load."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import msgpack  # type: ignore[import-untyped]
import pytest
from elasticsearch import Elasticsearch
from fluent import sender  # type: ignore[import-untyped]

from metronome.es.templates import install_templates
from tests.conftest import ROOT, free_port
from tests.e2e.processes import Metronome, wait_for_count

CHUNKS = 24
PER_CHUNK = 50


class ForwardStack:
    """`metronome forward` on a free port and the shipper, as `metronome serve` runs them."""

    def __init__(self, metronome: Metronome) -> None:
        self.metronome = metronome
        self.port = free_port()
        self.process = self.start()

    def start(self) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-m", "metronome.cli", "forward", "--port", str(self.port)],
            cwd=ROOT,
            env=self.metronome.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return process
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the forward listener did not start")

    def kill_9_and_restart(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.process = self.start()


@pytest.fixture
def stack(
    es: Elasticsearch, es_url: str, index_prefix: str, tmp_path: Path
) -> Iterator[ForwardStack]:
    install_templates(es, index_prefix)
    metronome = Metronome(es_url, index_prefix, tmp_path)
    running = ForwardStack(metronome)
    metronome.start_shipper()
    try:
        yield running
    finally:
        running.process.kill()
        running.process.wait()
        metronome.stop()


def packed_chunk(number: int) -> tuple[bytes, bytes]:
    """A PackedForward message as Fluentd's out_forward sends it, and its chunk id."""
    entries = b"".join(
        msgpack.packb([1795779332 + number, {"message": f"chunk {number} line {line}"}])
        for line in range(PER_CHUNK)
    )
    chunk = f"chunk-{number:04d}\n".encode()  # Fluentd's ids end with a newline
    option = {"size": PER_CHUNK, "compressed": "text", "chunk": chunk.decode()}
    return msgpack.packb(["app.durable", entries, option]), chunk


def send_until_acked(port: int, message: bytes, chunk: bytes, deadline: float) -> int:
    """Sends the chunk, resending (like Fluentd) until an ack arrives; returns the attempts."""
    attempts = 0
    while time.monotonic() < deadline:
        attempts += 1
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(message)
                unpacker = msgpack.Unpacker(raw=False)
                while (data := connection.recv(4096)) != b"":
                    unpacker.feed(data)
                    for answer in unpacker:
                        assert answer == {"ack": chunk.decode()}
                        return attempts
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no ack for {chunk!r}")


@pytest.mark.e2e
def test_acked_chunks_survive_kill_9_and_resent_ones_are_stored_once(
    stack: ForwardStack, es_url: str, index_prefix: str
) -> None:
    port = stack.port
    deadline = time.monotonic() + 120
    for number in range(CHUNKS):
        message, chunk = packed_chunk(number)
        if number % 8 == 4:  # kill -9 while the chunk is on its way: no ack, a resend
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(message)
            stack.kill_9_and_restart()
            connection.close()
        send_until_acked(port, message, chunk, deadline)
        if number % 8 == 6:  # the ack was lost on the way back: Fluentd sends it again
            send_until_acked(port, message, chunk, deadline)
    expected = CHUNKS * PER_CHUNK
    assert wait_for_count(es_url, f"{index_prefix}-logs-*", expected) == expected
    time.sleep(1)  # a duplicate would show up now
    assert wait_for_count(es_url, f"{index_prefix}-logs-*", expected, timeout=2) == expected


@pytest.mark.e2e
def test_the_official_fluent_logger_reaches_the_logs_stream(
    stack: ForwardStack, es: Elasticsearch, es_url: str, index_prefix: str
) -> None:
    port = stack.port
    logger = sender.FluentSender("nginx", host="127.0.0.1", port=port)
    line = (
        '203.0.113.7 - - [22/Nov/2026:10:15:32 +0000] "GET /datasets/42.csv HTTP/1.1" '
        '200 5120 "-" "curl/8"'
    )
    for _ in range(3):
        assert logger.emit("access", {"message": line}), logger.last_error
    assert logger.emit("app", {"level": "info", "msg": "started"}), logger.last_error
    logger.close()
    assert wait_for_count(es_url, f"{index_prefix}-logs-*", 4) == 4
    es.indices.refresh(index=f"{index_prefix}-logs-*")
    found = es.search(index=f"{index_prefix}-logs-*", query={"term": {"tag": "nginx.access"}})
    doc = found["hits"]["hits"][0]["_source"]
    assert (doc["http"]["status"], doc["url"]["path"], doc["input"]) == (
        200,
        "/datasets/42.csv",
        "forward",
    )
