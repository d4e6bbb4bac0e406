"""What unauthenticated connections cost the forward listener, measured on a real process.

Many connections each send 1 MB of empty msgpack maps (decoded, a list of a million dicts:
about 74 MiB) to a listener that requires the shared key, some before reading its HELO and
some after. None of it may be decoded: the listener's peak resident memory (VmHWM) grows by
less than PEAK_GROWTH_BOUND, and every connection is refused and closed.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import msgpack  # type: ignore[import-untyped]
import pytest

from tests.conftest import ROOT

KEY = "resource-test-key"
EMPTY_MAPS_1MB = b"\xdd" + (1_000_000).to_bytes(4, "big") + b"\x80" * 1_000_000
CONNECTIONS = 64
AT_ONCE = 16
# 16 connections at once, each holding at most a 64 KiB read, the stream's buffer and the
# 4 KiB handshake window: a few MiB. One decoded message would be 74 MiB.
PEAK_GROWTH_BOUND = 16 * 1024 * 1024


class Listener:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forward_listener", "--shared-key", KEY],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,  # a warning per refused connection
            text=True,
        )
        assert self.process.stdout is not None
        self.port = int(self.process.stdout.readline())

    def peak_rss(self) -> int:
        """VmHWM: the most resident memory the process has had, in bytes."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM")

    def stop(self) -> dict[str, int]:
        stdout, _ = self.process.communicate(input="", timeout=30)
        counters: dict[str, int] = json.loads(stdout.strip().splitlines()[-1])
        return counters


@pytest.fixture
def listener() -> Iterator[Listener]:
    running = Listener()
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def flood(port: int, read_helo_first: bool) -> bool:
    """Send the megabyte; True once the server has closed the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        if read_helo_first:
            unpacker = msgpack.Unpacker()
            while not list(unpacker):
                unpacker.feed(sock.recv(4096))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(EMPTY_MAPS_1MB)
        try:
            while sock.recv(65_536):
                pass  # the HELO, a PONG false: until the server closes
        except ConnectionResetError:
            pass
        return True


@pytest.mark.e2e
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_floods_before_authentication_stay_small_and_are_all_closed(listener: Listener) -> None:
    flood(listener.port, read_helo_first=True)  # warm up: imports, buffers, first allocations
    before = listener.peak_rss()
    lock = threading.Lock()
    closed = 0

    def one(number: int) -> None:
        nonlocal closed
        if flood(listener.port, read_helo_first=number % 2 == 0):
            with lock:
                closed += 1

    with ThreadPoolExecutor(AT_ONCE) as pool:
        list(pool.map(one, range(CONNECTIONS)))
    growth = listener.peak_rss() - before
    counters = listener.stop()
    print(f"VmHWM {before / 2**20:.1f} MiB, grew by {growth / 2**20:.1f} MiB under the flood")
    assert growth < PEAK_GROWTH_BOUND
    assert closed == CONNECTIONS
    assert counters["auth_failures"] == CONNECTIONS + 1
    assert (counters["messages"], counters["events"], counters["acks"]) == (0, 0, 0)
