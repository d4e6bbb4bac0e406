"""The spool on a real disk: group commit, rotation, limits, and what a kill -9 leaves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from metronome.spool.checkpoint import Checkpoints
from metronome.spool.framing import Tail
from metronome.spool.reader import is_sealed, list_segments, read_chunk
from metronome.spool.writer import SpoolFull, SpoolWriter, spool_bytes


def read_all(spool_dir: Path) -> list[bytes]:
    payloads: list[bytes] = []
    for segment in list_segments(spool_dir):
        chunk = read_chunk(segment, 0, 1_000_000, 64 * 1024 * 1024)
        payloads.extend(record.payload for record in chunk.records)
    return payloads


def test_appends_from_many_threads_are_all_readable(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=4096, max_bytes=10_000_000)
    expected = {f"t{t}-{i}".encode() for t in range(8) for i in range(200)}

    def work(thread: int) -> None:
        for i in range(200):
            writer.append([f"t{thread}-{i}".encode()])

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert sorted(read_all(tmp_path)) == sorted(expected)
    assert len(list_segments(tmp_path)) > 1  # rotated at segment_bytes


def test_concurrent_appends_share_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    syncs = 0
    real_fdatasync = os.fdatasync

    def counting_fdatasync(fd: int) -> None:
        nonlocal syncs
        syncs += 1
        time.sleep(0.002)  # a slow disk makes the batching visible
        real_fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", counting_fdatasync)
    writer = SpoolWriter(tmp_path, segment_bytes=10_000_000, max_bytes=100_000_000)

    def work() -> None:
        for _ in range(50):
            writer.append([b"x" * 100])

    threads = [threading.Thread(target=work) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    assert len(read_all(tmp_path)) == 800
    assert syncs < 800 / 2  # group commit: far fewer fsyncs than appends


def test_active_segment_is_not_sealed_until_closed(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=1_000_000, max_bytes=10_000_000)
    writer.append([b"a"])
    (segment,) = list_segments(tmp_path)
    assert not is_sealed(segment)
    writer.close()
    assert is_sealed(segment)


def test_the_spool_refuses_appends_beyond_its_limit(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=1_000_000, max_bytes=70_000)
    for _ in range(6):
        writer.append([b"x" * 10_000])
    with pytest.raises(SpoolFull):
        writer.append([b"x" * 20_000])
    writer.close()
    assert spool_bytes(tmp_path) <= 70_000
    assert len(read_all(tmp_path)) == 6


def test_checkpoints_survive_a_new_process_and_never_move_back(tmp_path: Path) -> None:
    checkpoints = Checkpoints(tmp_path)
    checkpoints.advance("seg-a", 120)
    assert Checkpoints(tmp_path).get("seg-a") == 120
    with pytest.raises(ValueError, match="cannot move back"):
        checkpoints.advance("seg-a", 100)
    checkpoints.forget("seg-a")
    assert Checkpoints(tmp_path).get("seg-a") == 0


WRITER_SCRIPT = """
import sys, time
from pathlib import Path
from metronome.spool.writer import SpoolWriter
writer = SpoolWriter(Path(sys.argv[1]), segment_bytes=1 << 30, max_bytes=1 << 32)
number = 0
while True:
    writer.append([f"record-{number}".encode()])
    print(number, flush=True)  # printed only after the append is durable
    number += 1
"""


def test_kill_9_of_a_writer_loses_no_acknowledged_record(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    acknowledged = []
    for line in process.stdout:
        acknowledged.append(int(line))
        if len(acknowledged) >= 300:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    (segment,) = list_segments(tmp_path)
    assert is_sealed(segment)  # the dead writer's lock is gone
    chunk = read_chunk(segment, 0, 10_000_000, 64 * 1024 * 1024)
    stored = [int(record.payload.split(b"-")[1]) for record in chunk.records]
    assert stored[: len(acknowledged)] == acknowledged
    assert stored == list(range(len(stored)))


def test_a_torn_tail_is_detected(tmp_path: Path) -> None:
    writer = SpoolWriter(tmp_path, segment_bytes=1_000_000, max_bytes=10_000_000)
    writer.append([b"whole-1", b"whole-2"])
    writer.close()
    (segment,) = list_segments(tmp_path)
    with open(segment.path, "ab") as handle:
        handle.write(b"\x00\x00\x01\x00garbage")  # a header promising 256 bytes, then a crash
    chunk = read_chunk(segment, 0, 100, 1_000_000)
    assert [r.payload for r in chunk.records] == [b"whole-1", b"whole-2"]
    assert chunk.tail is Tail.INCOMPLETE
