"""``metronome serve``: Metronome in the foreground (``metronome.serve`` supervises it)."""

from __future__ import annotations

import sys

import click

from metronome.cli.context import Context, pass_context, say
from metronome.es.client import ElasticsearchUnusable
from metronome.es.embedded import EmbeddedError
from metronome.serve.supervisor import ServeError
from metronome.serve.supervisor import serve as run_serve


@click.command()
@pass_context
def serve(ctx: Context) -> None:
    """Start Metronome in the foreground (and the embedded Elasticsearch if no URL is set)."""
    from metronome.cli.alerts import check_rules  # noqa: PLC0415

    check_rules(ctx.settings, ctx.config_file)
    try:
        code = run_serve(ctx.settings, ctx.config_file, say=say)
    except (EmbeddedError, ServeError, ElasticsearchUnusable) as error:
        raise click.ClickException(str(error)) from None
    sys.exit(code)
