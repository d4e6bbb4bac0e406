"""The ``metronome`` command. Each subsystem's commands are in their own module: ``serve``,
``es`` (templates, mappings, the embedded node), ``spool`` (shipper, dead letters), ``logs``
(the forward listener), ``archive``, ``sources`` (sources and the scheduler); ``context``
holds what they share."""

from __future__ import annotations

import click

from metronome import __version__
from metronome.cli import archive, es, logs, serve, sources, spool
from metronome.cli.context import Context


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="METRONOME_CONFIG",
    help="YAML configuration file (default: config/metronome.yml when present).",
)
@click.version_option(__version__, prog_name="metronome")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """Metronome: self-hosted usage analytics on Elasticsearch."""
    ctx.obj = Context(config_file)


for command in (
    serve.serve,
    es.setup,
    es.mappings,
    es.es,
    spool.shipper,
    spool.dead_letters,
    logs.forward,
    archive.archive,
    sources.sources,
    sources.scheduler,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="metronome")
