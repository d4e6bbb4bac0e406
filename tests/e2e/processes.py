"""Run Metronome's real processes (gunicorn web workers, the shipper) for end-to-end tests, as
the entries of the plan `metronome serve` runs (metronome.serve.plan)."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import requests

from metronome.config import ElasticsearchSettings, ServerSettings, Settings, SpoolSettings
from metronome.serve.plan import (
    SHIPPER,
    WEB,
    ChildProcess,
    child_named,
    fresh_metrics_dir,
    gunicorn_command,
    process_plan,
)
from tests.conftest import ROOT, free_port


def web_command(port: int, workers: int, app: str) -> list[str]:
    """gunicorn as ``metronome serve`` starts it (one listening socket per worker), serving
    ``app`` on 127.0.0.1:``port``."""
    return list(gunicorn_command(_server(port, workers), app))


def _server(port: int, workers: int) -> ServerSettings:
    return ServerSettings(host="127.0.0.1", port=port, workers=workers, threads=8)


class Metronome:
    """The web process and the shipper, as `metronome serve` runs them, on a free port."""

    def __init__(self, es_url: str, index_prefix: str, workdir: Path, **settings: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.settings = Settings(
            server=_server(self.port, 2),
            elasticsearch=ElasticsearchSettings(url=es_url, index_prefix=index_prefix),
            spool=SpoolSettings(dir=workdir / "spool"),
        )
        fresh_metrics_dir(self.settings)
        shipper = self._entry(SHIPPER, self.settings)
        # The plan's environment (URL, metrics directory), and the settings the children read
        # from it: this test's index prefix and spool, a quick shipper, the test's own.
        self.env = {
            **shipper.env,
            "METRONOME_ELASTICSEARCH__INDEX_PREFIX": index_prefix,
            "METRONOME_SPOOL__DIR": str(workdir / "spool"),
            "METRONOME_SHIPPER__POLL_INTERVAL": "0.05",
            "METRONOME_SHIPPER__MAX_BACKOFF": "0.5",
            **settings,
        }
        self.web: subprocess.Popen[bytes] | None = None
        self.shipper: subprocess.Popen[bytes] | None = None

    @staticmethod
    def _entry(name: str, settings: Settings) -> ChildProcess:
        url = settings.elasticsearch.url
        assert url is not None
        return child_named(process_plan(settings, url, None, os.environ), name)

    def start_web(self, workers: int = 2) -> None:
        settings = replace(self.settings, server=_server(self.port, workers))
        self.web = subprocess.Popen(
            [*self._entry(WEB, settings).command, "--log-level", "warning"],
            cwd=ROOT,
            env=self.env,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{self.base}/healthz", timeout=1).ok:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise AssertionError("the web process did not start")

    def start_shipper(self) -> None:
        self.shipper = subprocess.Popen(
            self._entry(SHIPPER, self.settings).command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def worker_pids(self) -> list[int]:
        assert self.web is not None
        children = Path(f"/proc/{self.web.pid}/task/{self.web.pid}/children")
        return [int(pid) for pid in children.read_text().split()]

    def stop(self) -> None:
        for process in (self.web, self.shipper):
            if process is not None and process.poll() is None:
                process.terminate()
        for process in (self.web, self.shipper):
            if process is not None:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@contextmanager
def running(es_url: str, index_prefix: str, workdir: Path, **settings: str) -> Iterator[Metronome]:
    metronome = Metronome(es_url, index_prefix, workdir, **settings)
    try:
        metronome.start_web()
        metronome.start_shipper()
        yield metronome
    finally:
        metronome.stop()


def wait_for_count(es_url: str, pattern: str, expected: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    found = -1
    while time.monotonic() < deadline:
        try:
            requests.post(f"{es_url}/{pattern}/_refresh", timeout=10)
            response = requests.get(f"{es_url}/{pattern}/_count", timeout=10)
            found = int(response.json().get("count", -1))
        except (requests.RequestException, ValueError):
            found = -1
        if found == expected:
            return found
        time.sleep(0.25)
    return found
