"""``metronome serve``: Elasticsearch (embedded unless a URL is set), templates, the web
workers (gunicorn), the shipper, the Fluentd forward listener and (when sources are configured)
the source scheduler, in the foreground.

Ctrl-C (or SIGTERM) stops them, then the embedded Elasticsearch if this command started it; a
node that was already running is left running. A shipper or forward listener that dies is
started again (the spool keeps everything it had not confirmed; unacknowledged forward chunks
are resent by Fluentd).

Which processes, with which command and environment, is worked out by
``metronome.serve.plan``; this module runs that plan.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from types import FrameType

import requests

from metronome.access.opskeys import with_generated_keys
from metronome.access.readkeys import GeneratedKey, describe
from metronome.config import Settings
from metronome.es.client import build_client, check_connection, redact_url
from metronome.es.embedded import EmbeddedElasticsearch
from metronome.es.templates import install_templates
from metronome.reports import renderer_problem
from metronome.serve.exposure import ExposureError, check_exposure
from metronome.serve.plan import WEB, ChildProcess, fresh_metrics_dir, process_plan

Say = Callable[[str], None]
Process = subprocess.Popen[bytes]
RESTART_DELAY = 0.5  # seconds; doubled while a child keeps dying young


class ServeError(RuntimeError):
    pass


def serve(settings: Settings, config_file: str | None = None, say: Say = print) -> int:
    embedded: EmbeddedElasticsearch | None = None
    started_here = False
    children: dict[str, Process] = {}
    stop_requested = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stop_requested
        stop_requested = True

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        settings, generated = _before_start(settings, say)
        url = settings.elasticsearch.url
        if url is None:
            embedded = EmbeddedElasticsearch(settings.elasticsearch.embedded, say)
            started_here = embedded.start()
            url = embedded.url
            if stop_requested:
                return 0
        else:
            where = redact_url(url)
            say(f"Using Elasticsearch at {where} (elasticsearch.url is set; none is started).")
        settings = dataclasses.replace(
            settings, elasticsearch=dataclasses.replace(settings.elasticsearch, url=url)
        )
        client = build_client(settings.elasticsearch)
        check_connection(client, url)
        install_templates(client, settings.elasticsearch.index_prefix)

        plan = process_plan(settings, url, config_file, os.environ)
        fresh_metrics_dir(settings)
        for child in plan:  # the web process last: the others are up when it answers
            children[child.name] = _start(child)
        base = f"http://{settings.server.host}:{settings.server.port}"
        _wait_for_http(f"{base}/healthz", children[WEB], lambda: stop_requested)
        say(_banner(settings, base))
        for line in describe(generated):
            say(line)
        reports = renderer_problem(settings.reports)
        if reports is not None:  # Metronome runs; only the PDF and PNG downloads answer 503
            say(f"Reports: PDF and PNG downloads are unavailable ({reports}); XLSX works.")
        code = _supervise(children, plan, lambda: stop_requested, say)
        if code is not None:
            return code
        say("Stopping...")
        return 0
    finally:
        _stop_all(children)
        if embedded is not None and started_here:
            embedded.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _before_start(settings: Settings, say: Say) -> tuple[Settings, list[GeneratedKey]]:
    """What is checked before minutes of start-up: what the configuration leaves open to the
    network (refused or warned), the port; then the generated keys."""
    try:
        warnings = check_exposure(settings)
    except ExposureError as error:
        raise ServeError(str(error)) from None
    for warning in warnings:
        say(warning)
    check_port_free(settings.server.host, settings.server.port)
    return with_generated_keys(settings, settings.spool.dir.parent)


def _supervise(
    children: dict[str, Process],
    plan: Sequence[ChildProcess],
    stopping: Callable[[], bool],
    say: Say,
) -> int | None:
    """Watch the children until a stop is requested; an exit code if gunicorn died.

    A restartable child that dies is started again, after 1 s, doubling up to a minute while it
    keeps dying young (a port taken by another program, say), so it never spins.
    """
    restartable = {child.name: child for child in plan if child.restart}
    delays = dict.fromkeys(restartable, RESTART_DELAY)
    restart_at: dict[str, float] = {}
    started_at = dict.fromkeys(restartable, time.monotonic())
    while not stopping():
        if children[WEB].poll() is not None:
            say(f"gunicorn exited with code {children[WEB].returncode}")
            return children[WEB].returncode or 1
        now = time.monotonic()
        for name, child in restartable.items():
            if name in restart_at:
                if now >= restart_at[name]:
                    del restart_at[name]
                    children[name] = _start(child)
                    started_at[name] = now
                continue
            if children[name].poll() is not None:
                lived = now - started_at[name]
                delays[name] = RESTART_DELAY if lived > 30 else min(delays[name] * 2, 60.0)
                code, delay = children[name].returncode, delays[name]
                say(f"the {name} process exited with code {code}; restarting it in {delay:.0f}s")
                restart_at[name] = now + delays[name]
        time.sleep(0.2)
    return None


def _stop_all(children: dict[str, Process]) -> None:
    for process in children.values():
        if process.poll() is None:
            process.terminate()
    for process in children.values():
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on. gunicorn binds with ``SO_REUSEPORT`` (see
    ``metronome.web.sockets``), which would silently share the port with an older Metronome
    still running as the same user; a plain bind finds any listener first."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise ServeError(f"server.host {host!r} cannot be resolved: {exc.strerror}") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # ignore TIME_WAIT
        try:
            probe.bind(address)
        except OSError as exc:
            raise ServeError(
                f"cannot listen on {host}:{port}: {exc.strerror} (another Metronome, or "
                "another server, may be running there; set server.port to use another port)"
            ) from None


def _start(child: ChildProcess) -> Process:
    return subprocess.Popen(child.command, env=child.env)


def _wait_for_http(
    url: str, process: Process, stopping: Callable[[], bool], timeout: float = 60
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
    forward = settings.logs.forward
    site = settings.site(settings.default_site)
    key_header = ""
    if site is not None and site.write_auth == "key" and site.write_keys:
        key_header = f" -H 'X-Metronome-Key: {site.write_keys[0]}'"
    return "\n".join(
        [
            "",
            f"Metronome is running on {base}  (Ctrl-C stops it)",
            "",
            f"Open the dashboards: {base}/  (sign in with a site's read key, below)",
            "",
            "Send a hit:",
            f"  curl -s -X POST {base}/tick -H 'Content-Type: application/json'{key_header} "
            '-d \'{"id": "dataset-42", "event": "view", '
            '"referrer": "https://example.org/blog"}\'',
            "Read it back (hits are searchable within a few seconds):",
            f"  curl -s {base}/tock/dataset-42",
            "",
            f'Track a web page: <script defer src="{base}/metronome.js"></script>',
            *(
                [f"Fluentd / Fluent Bit forward: {forward.host}:{forward.port} (see config/)"]
                if forward.enabled
                else []
            ),
            *(
                [
                    f"Sources: {', '.join(settings.sources)} "
                    f"(status: metronome sources status, or GET {base}/api/v1/sources)"
                ]
                if settings.sources
                else []
            ),
            *(
                [
                    f"Alerts: {_rules(len(settings.alerts.rules))} in the config (metronome alerts "
                    f"list, or GET {base}/api/v1/alerts)"
                    + (
                        ""
                        if settings.alerts.health.channels
                        else "; pipeline-health alerts are recorded, not sent (set "
                        "alerts.health.channels)"
                    )
                ]
                if settings.scheduler.enabled
                else []
            ),
            "",
        ]
    )


def _rules(count: int) -> str:
    return f"{count} rule" if count == 1 else f"{count} rules"
