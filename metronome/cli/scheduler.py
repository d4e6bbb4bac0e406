"""``metronome scheduler``: the process that runs, while it holds the cluster's lease, the
sources on their schedules, alert evaluation, notification delivery, the due digests,
retention and the rollup job; and
on every instance the checks that must work without Elasticsearch (metronome.alerts.local)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from metronome.cli.alerts import check_rules, health_banner, scheduler_tasks
from metronome.cli.context import Context, elasticsearch_errors, pass_context, say
from metronome.cli.digest import scheduler_task
from metronome.cli.retention import scheduler_task as retention_task
from metronome.cli.rollups import scheduler_task as rollup_task
from metronome.cli.sources import SOURCES_KEPT, ready
from metronome.sources.lease import holder_id
from metronome.sources.runner import services_from_settings
from metronome.sources.scheduler import Scheduler


@click.command()
@pass_context
@elasticsearch_errors(SOURCES_KEPT)
def scheduler(ctx: Context) -> None:
    """Run the sources on their schedules, evaluate alerts, deliver notifications, send due
    digests and keep the rollups current (one scheduler per cluster holds a lease in
    Elasticsearch; others wait to take over), and check Elasticsearch, the spool and the
    forward listener on this instance."""
    settings = ready(ctx.reachable_settings())
    logging.basicConfig(level=logging.INFO, format="scheduler: %(levelname)s %(message)s")
    for chatty in ("elastic_transport", "apscheduler"):  # a line per request / per job run
        logging.getLogger(chatty).setLevel(logging.WARNING)
    holder = holder_id()
    services = services_from_settings(settings, holder)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda signum, frame: stop.set())
    check_rules(settings, ctx.config_file)

    def tell(message: str) -> None:
        say(f"scheduler: {message}")

    periodic, local = scheduler_tasks(settings, services.es, holder, tell)
    if digests := scheduler_task(settings, services.es, ctx.config_file):
        periodic.append(digests)
    if retention := retention_task(settings, services.es, tell):
        periodic.append(retention)
    if rollup_job := rollup_task(settings, services.es, tell):
        periodic.append(rollup_job)
    say(f"scheduler {holder}: {len(settings.sources)} sources configured")
    if banner := health_banner(settings):
        tell(banner)
    Scheduler(
        settings.sources,
        settings.default_site,
        services,
        settings.scheduler.lease_ttl,
        say=tell,
        periodic=periodic,
        local=local,
    ).run_forever(stop)
