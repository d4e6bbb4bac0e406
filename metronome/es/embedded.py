"""The embedded Elasticsearch: a genuine single node on 127.0.0.1, resolved from Maven Central.

``embedded-es/pom.xml`` resolves the Elasticsearch server jars and its netty module, builds
the launcher and the small module that answers ``GET /``, and lays
them out as an Elasticsearch home (``var/es-dist`` by default); a tiny Java launcher starts a
node from them. This module resolves that home once (Maven caches the jars in ``~/.m2``),
starts the JVM as a detached process, waits until the cluster is yellow or green, and stops it
with SIGTERM (the node closes cleanly). A pid file under the data directory lets
``metronome es stop`` and ``status`` find a node started by another command. Before the JVM
starts, the release that last ran on the data is checked (``metronome.es.data_version``): an
upgrade is announced, a downgrade refused with a message saying what to do.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import requests

from metronome.config import EmbeddedSettings
from metronome.es.data_version import (
    data_verdict,
    has_node_data,
    home_version,
    record_version,
    recorded_version,
)

EMBEDDED_PROJECT = Path(__file__).resolve().parents[2] / "embedded-es"
MAIN_CLASS = "org.metronome.embedded.EmbeddedElasticsearch"
LAUNCHER_JAR = Path("launcher/metronome-embedded-elasticsearch.jar")
STAMP_FILE = ".resolved"


def _nice_prefix(nice: int) -> list[str]:
    """``nice -n N`` before the JVM, so that every thread it starts inherits the priority."""
    tool = shutil.which("nice") if nice else None
    return [tool, "-n", str(nice)] if tool else []


def spawn_detached(command: list[str], log: IO[bytes], nice: int) -> subprocess.Popen[bytes]:
    """Start ``command`` in a session of its own (it survives the CLI that started it, and
    Ctrl-C in that terminal is not sent to it), at CPU priority ``nice``: every thread it
    starts and the session as a whole."""
    process = subprocess.Popen(
        [*_nice_prefix(nice), *command],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    lower_session_priority(process.pid, nice)
    return process


def lower_session_priority(pid: int, nice: int) -> bool:
    """Give the session ``pid`` leads the CPU share of ``nice``; False where there is none.

    With Linux's autogroup scheduling (on by default in most distributions), the CPU is first
    shared equally between sessions and only then by nice inside each. The node runs in a
    session of its own, so its threads' nice alone would not make it yield to the web workers:
    the session's own nice must be lowered too. Raising a nice needs no privilege.
    """
    if not nice:
        return False
    for attempt in range(2):
        try:
            Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
            return True
        except OSError as error:
            # Unprivileged changes are limited to one a second, machine-wide: wait, once.
            if error.errno != errno.EAGAIN or attempt:
                return False  # no autogroup here (another OS or kernel), or the pid is gone
            time.sleep(1.0)
    return False


class EmbeddedError(RuntimeError):
    """The embedded node cannot be resolved, started or stopped; the message says why."""


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    pid: int | None
    url: str
    health: str | None  # green / yellow / red, None when unreachable


class EmbeddedElasticsearch:
    def __init__(
        self,
        settings: EmbeddedSettings,
        say: Callable[[str], None] = print,
    ) -> None:
        self.settings = settings
        self.say = say
        self.home = settings.home.resolve()
        self.data_dir = settings.data_dir.resolve()
        self.pid_file = self.data_dir / "elasticsearch.pid"
        self.log_file = self.data_dir / "logs" / "console.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings.http_port}"

    # --- resolving the jars ---------------------------------------------------------------

    def is_resolved(self) -> bool:
        stamp = self.home / STAMP_FILE
        return stamp.is_file() and stamp.read_text().strip() == _project_digest()

    def resolve(self) -> None:
        """Run Maven once; later calls return at once while the pom and launcher are unchanged."""
        if self.is_resolved():
            return
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EmbeddedError("Maven (mvn) is not on PATH; install it to resolve Elasticsearch")
        self.say(f"Resolving Elasticsearch from Maven Central into {self.home} (first run only)...")
        for stale in ("lib", "modules", "launcher"):
            shutil.rmtree(self.home / stale, ignore_errors=True)
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(EMBEDDED_PROJECT / "pom.xml"),
            f"-Ddist.dir={self.home}",
            "package",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EmbeddedError(
                "Maven could not resolve Elasticsearch:\n" + (result.stdout + result.stderr)[-3000:]
            )
        (self.home / STAMP_FILE).write_text(_project_digest() + "\n")
        self.say("Elasticsearch resolved.")

    # --- running ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the node unless ours is already running; True when this call started it."""
        if self._running_pid() is not None:
            self.wait_until_ready()
            return False
        self.resolve()
        release = self._check_data_version()
        if _port_in_use(self.settings.http_port):
            raise EmbeddedError(
                f"port {self.settings.http_port} is already in use by another program; set "
                "elasticsearch.embedded.http_port (METRONOME_ELASTICSEARCH__EMBEDDED__HTTP_PORT) "
                "or elasticsearch.url to use a running cluster"
            )
        java = find_java()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        command = node_command(
            java,
            self.home,
            self.data_dir,
            http_port=self.settings.http_port,
            heap=self.settings.heap,
        )
        priority = f", at nice {self.settings.nice}" if self.settings.nice else ""
        self.say(f"Starting Elasticsearch on {self.url} (data in {self.data_dir}{priority})...")
        with open(self.log_file, "ab") as log:
            process = spawn_detached(command, log, self.settings.nice)
        self.pid_file.write_text(f"{process.pid}\n")
        try:
            self.wait_until_ready(process)
        except EmbeddedError:
            self.stop()
            raise
        if release is not None:
            record_version(self.data_dir, release)
        return True

    def _check_data_version(self) -> str | None:
        """Refuse data a newer release wrote, say so when this start upgrades it; the release."""
        release = home_version(self.home)
        if release is None:
            return None
        verdict = data_verdict(
            recorded_version(self.data_dir), has_node_data(self.data_dir), release, self.data_dir
        )
        if not verdict.allowed:
            raise EmbeddedError(verdict.message or "the data directory cannot be opened")
        if verdict.message:
            self.say(verdict.message)
        return release

    def wait_until_ready(self, process: subprocess.Popen[bytes] | None = None) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise EmbeddedError(
                    f"Elasticsearch exited with code {process.returncode} while starting:\n"
                    + self._log_tail()
                )
            if self.health() in ("green", "yellow"):
                return
            time.sleep(0.25)
        raise EmbeddedError(
            f"Elasticsearch did not become ready within {self.settings.startup_timeout:.0f}s:\n"
            + self._log_tail()
        )

    def health(self) -> str | None:
        try:
            response = requests.get(f"{self.url}/_cluster/health", timeout=2)
            if response.ok:
                status = response.json().get("status")
                return str(status) if status else None
        except requests.RequestException:
            return None
        return None

    def stop(self, timeout: float = 60.0) -> bool:
        """SIGTERM the node and wait for it to close; True when a node was running."""
        pid = self._running_pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        self.say(f"Stopping Elasticsearch (pid {pid})...")
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        self.pid_file.unlink(missing_ok=True)
        return True

    def status(self) -> NodeStatus:
        pid = self._running_pid()
        return NodeStatus(
            running=pid is not None,
            pid=pid,
            url=self.url,
            health=self.health() if pid is not None else None,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _running_pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if not _alive(pid):
            return None
        try:  # a recycled pid must not be taken for our node
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return pid
        return pid if MAIN_CLASS.encode() in cmdline else None

    def _log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def node_command(java: str, home: Path, data_dir: Path, *, http_port: int, heap: str) -> list[str]:
    """The JVM command line that runs the node of Elasticsearch home ``home`` on ``data_dir``."""
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        "-XX:+UseG1GC",
        f"-Djava.io.tmpdir={data_dir / 'tmp'}",
        "-Dlog4j2.disable.jmx=true",
        "-Dio.netty.noUnsafe=true",
        "--module-path",
        str(home / "lib"),
        "--add-modules",
        "ALL-MODULE-PATH",
        "-cp",
        str(home / LAUNCHER_JAR),
        MAIN_CLASS,
        "--home",
        str(home),
        "--data",
        str(data_dir / "data"),
        "--logs",
        str(data_dir / "logs"),
        "--http-port",
        str(http_port),
    ]


def _project_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(EMBEDDED_PROJECT.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(EMBEDDED_PROJECT).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def find_java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if java is None:
        raise EmbeddedError("Java 17 or newer is needed for the embedded Elasticsearch")
    return java


def _port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1]
    except OSError:
        return True
    return state != "Z"


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
