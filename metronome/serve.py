"""``metronome serve``: Elasticsearch (embedded unless a URL is set), templates, gunicorn.

Runs in the foreground. Ctrl-C (or SIGTERM) stops gunicorn, then the embedded
Elasticsearch if this command started it; a node that was already running is left running.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from types import FrameType

import requests

from metronome.config import Settings
from metronome.es.client import build_client
from metronome.es.embedded import EmbeddedElasticsearch
from metronome.es.templates import install_templates

Say = Callable[[str], None]


class ServeError(RuntimeError):
    pass


def serve(settings: Settings, config_file: str | None = None, say: Say = print) -> int:
    embedded: EmbeddedElasticsearch | None = None
    started_here = False
    gunicorn: subprocess.Popen[bytes] | None = None
    stop_requested = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        url = settings.elasticsearch.url
        if url is None:
            embedded = EmbeddedElasticsearch(settings.elasticsearch.embedded, say)
            started_here = embedded.start()
            url = embedded.url
            if stop_requested:
                return 0
        else:
            say(f"Using Elasticsearch at {url} (elasticsearch.url is set; none is started).")
        settings = dataclasses.replace(
            settings, elasticsearch=dataclasses.replace(settings.elasticsearch, url=url)
        )
        client = build_client(settings.elasticsearch)
        install_templates(client, settings.elasticsearch.index_prefix)

        gunicorn = _start_gunicorn(settings, url, config_file)
        base = f"http://{settings.server.host}:{settings.server.port}"
        _wait_for_http(f"{base}/healthz", gunicorn, lambda: stop_requested)
        say(_banner(settings, base))
        while not stop_requested and gunicorn.poll() is None:
            time.sleep(0.2)
        if gunicorn.poll() is not None and not stop_requested:
            say(f"gunicorn exited with code {gunicorn.returncode}")
            return gunicorn.returncode or 1
        say("Stopping...")
        return 0
    finally:
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.terminate()
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait()
        if embedded is not None and started_here:
            embedded.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _start_gunicorn(
    settings: Settings, es_url: str, config_file: str | None
) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env["METRONOME_ES_URL"] = es_url  # the workers use the node chosen here
    if config_file:
        env["METRONOME_CONFIG"] = os.path.abspath(config_file)
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{settings.server.host}:{settings.server.port}",
        "--workers",
        str(settings.server.workers),
        "--graceful-timeout",
        "20",
        "--access-logfile",
        "-",
        "--access-logformat",
        '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
        "metronome.wsgi:app",
    ]
    return subprocess.Popen(command, env=env)


def _wait_for_http(
    url: str, process: subprocess.Popen[bytes], stopping: Callable[[], bool], timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stopping():
        if process.poll() is not None:
            raise ServeError(f"gunicorn exited with code {process.returncode} while starting")
        try:
            if requests.get(url, timeout=1).ok:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    if not stopping():
        raise ServeError(f"Metronome did not answer at {url} within {timeout:.0f}s")


def _banner(settings: Settings, base: str) -> str:
    site = settings.site(settings.default_site)
    key_header = ""
    if site is not None and site.write_auth == "key" and site.write_keys:
        key_header = f" -H 'X-Metronome-Key: {site.write_keys[0]}'"
    return "\n".join(
        [
            "",
            f"Metronome is running on {base}  (Ctrl-C stops it)",
            "",
            "Send a hit:",
            f"  curl -s -X POST {base}/tick -H 'Content-Type: application/json'{key_header} "
            '-d \'{"id": "dataset-42", "event": "view", '
            '"referrer": "https://example.org/blog"}\'',
            "Read it back:",
            f"  curl -s {base}/tock/dataset-42",
            "",
        ]
    )
