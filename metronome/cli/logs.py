"""``metronome forward``: the Fluentd / Fluent Bit forward-protocol listener."""

from __future__ import annotations

import logging
import ssl
from concurrent.futures import ThreadPoolExecutor

import click

from metronome.cli.context import Context, pass_context, say
from metronome.enrich.visitors import SECRET_FILE, DailySalts
from metronome.fsutil import load_or_create_secret
from metronome.logs.context import log_context
from metronome.logs.forward import run_forward_server, server_options
from metronome.logs.forward.metrics import CounterMirror
from metronome.logs.sink import SpoolEventSink
from metronome.spool.writer import SpoolWriter


@click.command()
@click.option("--host", help="Listen address (default: logs.forward.host).")
@click.option("--port", type=int, help="TCP and UDP port (default: logs.forward.port, 24224).")
@pass_context
def forward(ctx: Context, host: str | None, port: int | None) -> None:
    """Receive Fluentd / Fluent Bit forward-protocol traffic into the spool until stopped.

    Acks are sent once the records are durably spooled; the shipper indexes them into the
    logs stream. Needs no Elasticsearch to accept data.
    """
    settings = ctx.settings
    options = settings.logs.forward
    spool = settings.spool
    secret = load_or_create_secret(settings.privacy.visitor_secret, spool.dir.parent / SECRET_FILE)
    sink = SpoolEventSink(
        SpoolWriter(spool.dir, spool.segment_bytes, spool.max_bytes),
        log_context(settings, DailySalts(secret)),
    )
    logging.basicConfig(level=logging.INFO, format="forward: %(levelname)s %(message)s")
    listen = (host or options.host, options.port if port is None else port)
    try:
        server = server_options(options)
    except (OSError, ssl.SSLError) as error:
        raise click.ClickException(f"logs.forward.tls: cannot use the files: {error}") from None
    say(f"forward: listening on {listen[0]}:{listen[1]} (Ctrl-C stops)")
    try:
        run_forward_server(
            listen[0],
            listen[1],
            sink,
            **server,
            report=CounterMirror(),
            # One thread builds and spools batches: several would only fight over the GIL
            # (bench/forward.py: 4 connections, 2,853 -> 4,268 records/s).
            executor=ThreadPoolExecutor(1, thread_name_prefix="forward-sink"),
        )
    except OSError as error:
        raise click.ClickException(f"cannot listen on {listen[0]}:{listen[1]}: {error}") from None
