"""``elasticsearch.embedded.nice``: the node is spawned so that every thread it starts, and
its session as a whole, run at that CPU priority (``metronome.es.embedded.spawn_detached``).

A multi-threaded Python child stands in for the JVM: what is checked is the spawning, and a
niced Elasticsearch node would cost the suite a second node's start-up.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from metronome.es.embedded import lower_session_priority, spawn_detached

# Starts a second thread, says so, then sleeps: threads inherit the nice of their creator.
THREADED_CHILD = (
    "import threading, time\n"
    "threading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="reads priorities from Linux's /proc"
)


def _thread_nices(pid: int) -> list[int]:
    nices = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            nices.append(int(fields[16]))  # field 19 of stat(5): the 17th after the name
    return nices


def _session_nice(pid: int) -> str | None:
    autogroup = Path(f"/proc/{pid}/autogroup")
    return autogroup.read_text().split()[-1] if autogroup.exists() else None


@contextlib.contextmanager
def _spawned(tmp_path: Path, nice: int) -> Iterator[subprocess.Popen[bytes]]:
    log_path = tmp_path / "child.log"
    with open(log_path, "ab") as log:
        process = spawn_detached([sys.executable, "-c", THREADED_CHILD], log, nice)
    try:
        deadline = time.monotonic() + 20
        while "ready" not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "ready" in log_path.read_text(), log_path.read_text()
        yield process
    finally:
        process.kill()
        process.wait()


def test_a_niced_child_runs_every_thread_and_its_session_at_that_nice(tmp_path: Path) -> None:
    with _spawned(tmp_path, 7) as process:
        nices = _thread_nices(process.pid)
        assert len(nices) >= 2
        assert set(nices) == {7}
        assert _session_nice(process.pid) in ("7", None)  # None: a kernel without autogroup


def test_nice_zero_changes_nothing(tmp_path: Path) -> None:
    with _spawned(tmp_path, 0) as process:
        assert set(_thread_nices(process.pid)) == {0}
        assert _session_nice(process.pid) in ("0", None)


def test_the_child_leads_a_session_of_its_own(tmp_path: Path) -> None:
    with _spawned(tmp_path, 0) as process:
        stat = Path(f"/proc/{process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        assert int(stat[3]) == process.pid  # session id (field 6) is its own pid


def test_a_gone_process_is_not_an_error() -> None:
    process = subprocess.Popen(["true"])
    process.wait()
    assert lower_session_priority(process.pid, 5) is False
