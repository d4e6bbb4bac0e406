"""Helpers shared by the benchmark scripts: percentiles, hits to send, /proc sampling, and
running a bench (signals, the printed report). The processes a bench starts are in
``bench.harness``, its Elasticsearch in ``bench.elastic``, its options in ``bench.options``."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

ROOT = Path(__file__).resolve().parents[1]
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = 1024.0

# A handful of real browser agents: the product caches parsed agents, as real traffic repeats.
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:131.0) Gecko/20100101 Firefox/131.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
)
DISTINCT_IDS = 100


class BenchError(RuntimeError):
    """The bench cannot go on (a process failed, a figure cannot be had): ``report_main``
    says why and exits with 1."""


def hit(number: int) -> dict[str, Any]:
    """The single hit of the issue, with the tracked ``id`` varied over 100 items."""
    return {
        "id": f"dataset-{number % DISTINCT_IDS}",
        "event": "view",
        "referrer": "https://example.org/x",
    }


def hit_body(number: int) -> bytes:
    return json.dumps(hit(number), separators=(",", ":")).encode()


def batch_body(first: int, size: int) -> bytes:
    return json.dumps([hit(first + i) for i in range(size)], separators=(",", ":")).encode()


def percentiles(values: Sequence[float], scale: float = 1000.0) -> dict[str, float | None]:
    """p50/p90/p99/p99.9/max/mean of ``values`` (seconds) in milliseconds (nearest rank)."""
    if not values:
        return {"p50": None, "p90": None, "p99": None, "p999": None, "max": None, "mean": None}
    ordered = sorted(values)

    def rank(q: float) -> float:
        index = min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))
        return round(ordered[index] * scale, 3)

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "p999": rank(0.999),
        "max": round(ordered[-1] * scale, 3),
        "mean": round(sum(ordered) / len(ordered) * scale, 3),
    }


def ratio(value: float | None, baseline: float | None, digits: int = 3) -> float | None:
    if value is None or not baseline:
        return None
    return round(value / baseline, digits)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def filesystem_of(path: Path) -> str:
    """The file system type holding ``path`` (from /proc/mounts; the longest mount point)."""
    target = str(path.resolve())
    best, kind = "", "unknown"
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return kind
    for line in lines:
        parts = line.split()
        if len(parts) < 3:
            continue
        mount = parts[1]
        inside = target == mount or target.startswith(mount.rstrip("/") + "/")
        if inside and len(mount) > len(best):
            best, kind = mount, parts[2]
    return kind


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "kernel": os.uname().release,
    }


# --- /proc sampling: RSS and CPU per process tree -------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        fields_ = stat.rsplit(")", 1)[-1].split()
        children.setdefault(int(fields_[1]), []).append(int(entry.name))
    return children


def _tree(root: int, children: dict[int, list[int]]) -> list[int]:
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def _cpu_seconds(pid: int) -> float | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields_ = stat.rsplit(")", 1)[-1].split()
    return (int(fields_[11]) + int(fields_[12])) / CLOCK_TICKS  # utime + stime


def _memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) in kB, None when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    rss = hwm = 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return rss, hwm


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants (e.g. a gunicorn master and its workers), root first."""
    return _tree(root, _children_map())


def memory_kb(pid: int) -> tuple[int, int] | None:
    """(VmRSS, VmHWM) of one process in kB; None when it is gone."""
    return _memory_kb(pid)


def _system_cpu() -> tuple[float, float]:
    """(busy, total) jiffies over all CPUs since boot."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in first[:8]]
    idle = values[3] + values[4]  # idle + iowait
    total = float(sum(values))
    return total - idle, total


@dataclass
class _Phase:
    name: str
    started: float
    cpu_start: dict[str, dict[int, float]]
    system_start: tuple[float, float]
    max_rss_kb: dict[str, int] = field(default_factory=dict)


@dataclass
class _Role:
    pid: int
    tree: bool  # include descendants (gunicorn master + workers)


class Monitor:
    """Samples RSS of named process trees every ``interval`` and CPU per phase.

    ``peak_rss_mb`` is the largest sampled sum of VmRSS over a role's live processes;
    ``vmhwm_mb`` the largest sampled sum of their own high-water marks (VmHWM), which also
    catches a peak between two samples (an upper bound: the processes may peak at other times).
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self._roles: dict[str, _Role] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
        self._phase: _Phase | None = None
        self._peak_rss_kb: dict[str, int] = {}  # largest sampled sum of VmRSS
        self._hwm_kb: dict[str, int] = {}  # largest sampled sum of VmHWM
        self._processes: dict[str, int] = {}  # most processes seen at once

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def watch(self, role: str, pid: int, tree: bool = False) -> None:
        with self._lock:
            self._roles[role] = _Role(pid, tree)
        self.sample()

    def forget(self, role: str) -> None:
        self.sample()
        with self._lock:
            self._roles.pop(role, None)

    def _pids(self) -> dict[str, list[int]]:
        children = _children_map() if any(r.tree for r in self._roles.values()) else {}
        return {
            name: _tree(role.pid, children) if role.tree else [role.pid]
            for name, role in self._roles.items()
        }

    def sample(self) -> None:
        with self._lock:
            for name, pids in self._pids().items():
                rss_total = hwm_total = alive = 0
                for pid in pids:
                    memory = _memory_kb(pid)
                    if memory is None:
                        continue
                    rss_total += memory[0]
                    hwm_total += memory[1]
                    alive += 1
                if not alive:
                    continue
                self._peak_rss_kb[name] = max(self._peak_rss_kb.get(name, 0), rss_total)
                self._hwm_kb[name] = max(self._hwm_kb.get(name, 0), hwm_total)
                self._processes[name] = max(self._processes.get(name, 0), alive)
                if self._phase is not None:
                    phase_max = self._phase.max_rss_kb
                    phase_max[name] = max(phase_max.get(name, 0), rss_total)

    def _cpu(self) -> dict[str, dict[int, float]]:
        result: dict[str, dict[int, float]] = {}
        for name, pids in self._pids().items():
            per_pid = {}
            for pid in pids:
                seconds = _cpu_seconds(pid)
                if seconds is not None:
                    per_pid[pid] = seconds
            result[name] = per_pid
        return result

    def begin(self, name: str) -> None:
        self.sample()
        with self._lock:
            self._phase = _Phase(name, time.monotonic(), self._cpu(), _system_cpu())

    def end(self, extra_cpu_seconds: dict[str, float] | None = None) -> dict[str, Any]:
        """CPU cores used per role over the phase, and the phase's peak RSS per role.

        ``extra_cpu_seconds`` adds CPU of processes that exited before the phase ended (the
        load generator reports its own).
        """
        self.sample()
        with self._lock:
            phase = self._phase
            assert phase is not None, "end() without begin()"
            self._phase = None
            wall = max(time.monotonic() - phase.started, 1e-9)
            busy_end, total_end = _system_cpu()
            cpus = os.cpu_count() or 1
            total_delta = max(total_end - phase.system_start[1], 1.0)
            system_busy = (busy_end - phase.system_start[0]) / total_delta * cpus
            cores: dict[str, float] = {}
            for name, per_pid in self._cpu().items():
                if not per_pid:
                    continue  # the role's processes are gone (a server stopped earlier)
                before = phase.cpu_start.get(name, {})
                seconds = sum(now - before.get(pid, 0.0) for pid, now in per_pid.items())
                cores[name] = seconds / wall
            for name, seconds in (extra_cpu_seconds or {}).items():
                cores[name] = cores.get(name, 0.0) + seconds / wall
            ours = sum(cores.values())
            return {
                "wall_s": round(wall, 2),
                "cpu_cores": {name: round(value, 2) for name, value in cores.items()},
                "cpu_cores_busy_total": round(system_busy, 2),
                "cpu_cores_other_processes": round(max(system_busy - ours, 0.0), 2),
                "peak_rss_mb": {
                    name: round(kb / PAGE_KB, 1) for name, kb in phase.max_rss_kb.items()
                },
            }

    def summary(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {
                name: {
                    "peak_rss_mb": round(self._peak_rss_kb.get(name, 0) / PAGE_KB, 1),
                    "vmhwm_mb": round(self._hwm_kb.get(name, 0) / PAGE_KB, 1),
                    "processes": self._processes.get(name, 0),
                }
                for name in self._peak_rss_kb
            }

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()


def flatten(values: Iterable[Sequence[float]]) -> list[float]:
    return [value for chunk in values for value in chunk]


# --- running a bench -----------------------------------------------------------------------


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """Ctrl-C and SIGTERM are ignored inside (cleaning up must not be cut short)."""
    stopping = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, signal.SIG_IGN) for number in stopping}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


class Bench(Protocol):
    def run(self) -> dict[str, Any]: ...
    def close(self) -> None: ...


def run_in_workdir(
    prefix: str,
    make: Callable[[Path], Bench],
    keep: bool,
    say: Callable[[str], None],
    parent: str | None = None,
) -> dict[str, Any]:
    """Run a bench in a fresh temporary directory; stop what it started and remove the
    directory afterwards (unless ``keep``), even on Ctrl-C."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=parent))
    bench = make(workdir)
    try:
        return bench.run()
    finally:
        with signals_ignored():
            bench.close()
            if keep:
                say(f"kept {workdir}")
            else:
                shutil.rmtree(workdir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def report_main(
    produce: Callable[[], dict[str, Any]],
    say: Callable[[str], None],
    failures: tuple[type[Exception], ...],
) -> int:
    """Run a bench and print its report as JSON. SIGTERM counts as Ctrl-C, which also works
    when the shell started us in the background with SIGINT ignored. Exit status: 0, 130 when
    interrupted (``produce`` must stop what it started), 1 on one of ``failures``."""
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        report = produce()
    except KeyboardInterrupt:
        say("interrupted; everything started here was stopped")
        return 130
    except failures as error:
        say(f"failed: {error}")
        return 1
    return print_report(report)


def print_report(report: dict[str, Any]) -> int:
    """A bench's report on stdout, as JSON: its exit status 0."""
    print(json.dumps(report, indent=2))
    return 0
