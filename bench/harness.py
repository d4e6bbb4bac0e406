"""The processes of a bench run: Metronome's own, started from the plan ``metronome serve`` runs
(``metronome.serve.plan``), the bare baseline app, and the load generators.

Each child runs in its own session (Ctrl-C reaches only the bench, which stops them), from the
repository root, with its output in ``<log dir>/<name>.log`` (the end of it is quoted when it
fails), watched by the run's ``Monitor`` under its name (the names are the roles in the
reports: ``gunicorn_metronome``, ``shipper``, ``forward``, ``gunicorn_bare``, ``loadgen``).
``stop_all`` (a bench's ``close``) stops whatever is still running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Collection, Mapping
from pathlib import Path

import requests

from bench._common import ROOT, BenchError, Monitor
from metronome.config import ServerSettings, Settings
from metronome.serve.plan import (
    CONFIG_ENV,
    ES_URL_ENV,
    FORWARD,
    SHIPPER,
    WEB,
    fresh_metrics_dir,
    gunicorn_command,
    process_plan,
)

Process = subprocess.Popen[bytes]
BARE_APP = "bench.bare_app:app"
BARE_SINK_ENV = "BENCH_BARE_SINK"  # read by bench/bare_app.py
STARTUP_TIMEOUT_S = 60.0
# The bench's name (its role in the reports) of each process of the plan it may start.
ROLES = {WEB: "gunicorn_metronome", SHIPPER: "shipper", FORWARD: "forward"}


class Harness:
    def __init__(self, log_dir: Path, monitor: Monitor) -> None:
        self.log_dir = log_dir
        self.monitor = monitor
        self.processes: dict[str, Process] = {}

    # --- any process -----------------------------------------------------------------------

    def start(
        self,
        name: str,
        command: list[str],
        env: Mapping[str, str] | None = None,
        *,
        tree: bool = False,
        capture: bool = False,
        stdin: bool = False,
    ) -> Process:
        """Start ``command`` as ``name``: with ``env`` (else this process's environment), its
        stdout in the log or, with ``capture``, a pipe; a stdin pipe with ``stdin``. The monitor
        watches it (``tree``: with its descendants, as a gunicorn master and its workers)."""
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{name}.log", "ab") as log:  # the child keeps its own copy
            process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE if capture else log,
                stderr=log,
                start_new_session=True,
            )
        self.processes[name] = process
        self.monitor.watch(name, process.pid, tree=tree)
        return process

    def stop(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM to ``name``'s process group, SIGKILL after ``timeout``."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        self.monitor.forget(name)
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)  # the child leads its own group
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for pipe in (process.stdin, process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()

    def stop_all(self) -> None:
        for name in reversed(list(self.processes)):
            self.stop(name)

    def release(self, name: str) -> None:
        """Forget ``name``, which ended on its own (its output was read)."""
        if self.processes.pop(name, None) is not None:
            self.monitor.forget(name)

    def log_tail(self, name: str, lines: int = 30) -> str:
        try:
            text = (self.log_dir / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def collect(self, name: str, timeout: float, what: str = "the load generator") -> bytes:
        """The whole stdout of ``name`` (started with ``capture``) once it has exited; a
        ``BenchError`` when it runs past ``timeout`` (it is stopped) or fails."""
        process = self.processes[name]
        try:
            output, _ = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(name)
            raise BenchError(f"{what} did not finish in time") from None
        self.release(name)
        if process.returncode != 0:
            raise BenchError(f"{what} failed:\n{self.log_tail(name)}")
        return output

    # --- waiting until a server is up ------------------------------------------------------

    def wait_for_http(self, url: str, name: str) -> None:
        """Until ``url`` answers 2xx; a ``BenchError`` quoting the log when ``name`` exits
        first or it takes over a minute."""
        process = self.processes[name]
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited while starting:\n{self.log_tail(name)}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(url, timeout=1).ok:
                    return
            time.sleep(0.2)
        raise BenchError(f"{name} did not answer at {url} within 60s:\n{self.log_tail(name)}")

    def wait_for_port(self, port: int, name: str) -> None:
        """Until something accepts TCP connections on 127.0.0.1:``port``; as ``wait_for_http``."""
        process = self.processes[name]
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise BenchError(f"{name} exited while starting:\n{self.log_tail(name)}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise BenchError(f"{name} did not listen on {port} in 60 s:\n{self.log_tail(name)}")

    # --- the servers -----------------------------------------------------------------------

    def start_bare(self, server: ServerSettings, directory: Path) -> None:
        """The baseline, ``gunicorn_bare``: ``bench/bare_app.py`` on the gunicorn command
        of Metronome's web process (sockets, workers, threads of ``server``), appending to a
        file in ``directory``; returns once it answers."""
        directory.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, BARE_SINK_ENV: str(directory / "sink")}
        self.start("gunicorn_bare", list(gunicorn_command(server, BARE_APP)), env, tree=True)
        self.wait_for_http(f"http://{server.host}:{server.port}/healthz", "gunicorn_bare")

    def start_metronome(
        self,
        settings: Settings,
        *,
        config_file: Path | None = None,
        only: Collection[str] = (SHIPPER, WEB),
    ) -> dict[str, Process]:
        """The processes of ``metronome serve``'s plan named in ``only`` (``web``, ``shipper``,
        ``forward``), in the plan's order, as ``serve`` starts them; returns once the web
        process answers and the forward listener listens, and the shipper is still running.

        The children load their settings themselves. With ``config_file`` (the YAML of
        ``settings``) they get no ``METRONOME_*`` variable of this shell but the file and the
        Elasticsearch URL: the run is what the file says. Without, they read the default
        config file and the environment, with ``settings``' server, index prefix, spool and
        forward address set in ``METRONOME_*`` variables.
        """
        url = settings.elasticsearch.url
        assert url is not None, "the bench's settings name its Elasticsearch"
        plan = process_plan(settings, url, str(config_file) if config_file else None, os.environ)
        fresh_metrics_dir(settings)
        started: dict[str, Process] = {}
        for child in plan:
            if child.name in only:
                env = _bench_env(child.env, settings, config_file is not None)
                role = ROLES[child.name]
                started[child.name] = self.start(
                    role, list(child.command), env, tree=child.name == WEB
                )
        if WEB in started:
            base = f"http://{settings.server.host}:{settings.server.port}"
            self.wait_for_http(f"{base}/healthz", ROLES[WEB])
        if FORWARD in started:
            self.wait_for_port(settings.logs.forward.port, ROLES[FORWARD])
        if SHIPPER in started and started[SHIPPER].poll() is not None:
            raise BenchError(f"the shipper exited:\n{self.log_tail(ROLES[SHIPPER])}")
        return started


def _bench_env(plan_env: Mapping[str, str], settings: Settings, from_file: bool) -> dict[str, str]:
    """The plan's environment of a child, with the settings of the run (see start_metronome)."""
    env = dict(plan_env)
    if from_file:
        for name in [n for n in env if n.startswith("METRONOME_")]:
            if name not in (ES_URL_ENV, CONFIG_ENV):
                del env[name]  # whatever this shell exports
        return env
    forward = settings.logs.forward
    chosen = {
        "SPOOL__DIR": str(settings.spool.dir),
        "SPOOL__MAX_BYTES": str(settings.spool.max_bytes),
        "ELASTICSEARCH__INDEX_PREFIX": settings.elasticsearch.index_prefix,
        "SERVER__WORKERS": str(settings.server.workers),
        "SERVER__THREADS": str(settings.server.threads),
        "LOGS__FORWARD__HOST": forward.host,
        "LOGS__FORWARD__PORT": str(forward.port),
    }
    env.update({f"METRONOME_{name}": value for name, value in chosen.items()})
    return env
