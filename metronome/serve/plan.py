"""What ``metronome serve`` runs: its child processes, worked out from the settings.

``process_plan`` is a pure function: the settings, the Elasticsearch URL the children use, the
config file and the environment to start from give the list of children, each a frozen
``ChildProcess`` (name, argv, environment, restarted when it dies or not). It starts nothing.
``metronome.serve.supervisor`` runs the plan; the benchmarks and the end-to-end tests start the
entries they need from the same plan, so they run exactly what ``serve`` runs.

The children, in the order ``serve`` starts them:

- ``shipper``: the spool to Elasticsearch, always;
- ``forward``: the Fluentd / Fluent Bit forward listener, when ``logs.forward.enabled``;
- ``scheduler``: the scheduler, when ``scheduler.enabled``: while it holds the lease it runs
  the sources, evaluates the alert rules and delivers the notifications; on every instance it
  checks the instance's own health (Elasticsearch reachable, spool, forward listener);
- ``archive``: ``metronome archive run --every <archive.interval>``, when ``archive.enabled``
  (on every instance: each run takes the archive lease);
- ``web``: gunicorn serving the app, one listening socket per worker where the kernel spreads
  connections (``metronome.web.sockets``). It is the only child not restarted: when it dies,
  ``serve`` ends.

Every child gets the same environment: the one given, plus the Elasticsearch URL chosen by
``serve`` (``METRONOME_ES_URL``), the config file as an absolute path (``METRONOME_CONFIG``)
when one was given, and the multiprocess metrics directory next to the spool, where every
process leaves the counters that ``GET /metrics`` adds up. Nothing else from the settings goes
into it: the children read the rest (secrets included) from the config file and the
environment themselves.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from metronome.config import ServerSettings, Settings
from metronome.metrics import MULTIPROC_ENV
from metronome.web import sockets

WEB = "web"
SHIPPER = "shipper"
FORWARD = "forward"
SCHEDULER = "scheduler"
ARCHIVE = "archive"
METRONOME_APP = "metronome.web.wsgi:app"
ES_URL_ENV = "METRONOME_ES_URL"
CONFIG_ENV = "METRONOME_CONFIG"
GRACEFUL_TIMEOUT_S = 20  # gunicorn waits this long for the workers' requests on a stop
# client, request line without its query (a ?key=, tokens, e-mails), status, bytes, ms
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms'


@dataclass(frozen=True)
class ChildProcess:
    """One process ``metronome serve`` starts."""

    name: str
    command: tuple[str, ...]  # argv
    env: Mapping[str, str] = field(hash=False)  # the whole environment, read-only
    restart: bool  # started again when it dies; the web process's death ends ``serve``


def process_plan(
    settings: Settings, es_url: str, config_file: str | None, environ: Mapping[str, str]
) -> tuple[ChildProcess, ...]:
    """The children ``metronome serve`` runs with ``settings``, in the order it starts them.

    ``es_url`` is the node the children use (``serve`` may have started it), ``config_file``
    the file ``serve`` was given (or None), ``environ`` the environment the children inherit.
    """
    env = child_environment(settings, es_url, config_file, environ)
    cli = (sys.executable, "-m", "metronome.cli")
    restarted: list[tuple[str, tuple[str, ...]]] = [(SHIPPER, (*cli, "shipper"))]
    if settings.logs.forward.enabled:
        restarted.append((FORWARD, (*cli, "forward")))
    if settings.scheduler.enabled:
        restarted.append((SCHEDULER, (*cli, "scheduler")))
    if settings.archive.enabled:
        every = f"{settings.archive.interval:g}"
        restarted.append((ARCHIVE, (*cli, "archive", "run", "--every", every)))
    return (
        *(ChildProcess(name, command, env, restart=True) for name, command in restarted),
        ChildProcess(WEB, gunicorn_command(settings.server), env, restart=False),
    )


def child_named(plan: tuple[ChildProcess, ...], name: str) -> ChildProcess:
    """The entry of ``plan`` called ``name`` (``KeyError`` when the plan has none)."""
    for entry in plan:
        if entry.name == name:
            return entry
    raise KeyError(f"the plan starts no {name} process")


def child_environment(
    settings: Settings, es_url: str, config_file: str | None, environ: Mapping[str, str]
) -> Mapping[str, str]:
    """The environment of every child (see the module's docstring), read-only."""
    env = dict(environ)
    env[ES_URL_ENV] = es_url  # the children use the node chosen by serve
    if config_file:
        env[CONFIG_ENV] = os.path.abspath(config_file)
    env[MULTIPROC_ENV] = str(metrics_dir(settings))
    return MappingProxyType(env)


def metrics_dir(settings: Settings) -> Path:
    """Where every process of one ``serve`` leaves its Prometheus counters: next to the spool."""
    return Path(settings.spool.dir).resolve().parent / "metrics"


def fresh_metrics_dir(settings: Settings) -> Path:
    """Empty the metrics directory (counters of processes that are gone would be added up with
    the new ones) and create it: the one thing to do on disk before starting the plan."""
    directory = metrics_dir(settings)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return directory


def gunicorn_command(server: ServerSettings, app: str = METRONOME_APP) -> tuple[str, ...]:
    """gunicorn serving ``app`` with the ``server`` settings: the web process's command (another
    ``app`` gets the same sockets, workers and threads: the benchmarks' bare baseline)."""
    return (
        sys.executable,
        "-m",
        "gunicorn",
        *sockets.gunicorn_options(f"{server.host}:{server.port}", server.workers),
        "--workers",
        str(server.workers),
        "--threads",
        str(server.threads),
        "--keep-alive",
        str(server.keepalive),
        "--worker-connections",
        str(server.worker_connections),
        "--graceful-timeout",
        str(GRACEFUL_TIMEOUT_S),
        # gunicorn would take X-Forwarded-Proto from any local process as the scheme; Metronome
        # believes it from rate_limits.trusted_proxies alone (metronome.web.readers).
        "--forwarded-allow-ips",
        "",
        *access_log_options(server.access_log),
        app,
    )


def access_log_options(enabled: bool) -> list[str]:
    """gunicorn's access log (``server.access_log``): a line per request to stdout, or none."""
    if not enabled:
        return []
    return ["--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT]
