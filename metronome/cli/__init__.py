"""The ``metronome`` command. Each subsystem's commands are in their own module: ``serve``,
``es`` (templates, mappings, the embedded node), ``spool`` (shipper, dead letters), ``logs``
(the forward listener), ``archive``, ``sources``, ``scheduler``, ``dashboards``
(Kibana and Grafana objects), ``notify`` (channels and the outbox), ``alerts`` (alert rules),
``digest`` (e-mailed digests), ``sql`` (a SELECT over a stream), ``rollups`` (the rollup job,
back-fill, status); ``context`` holds what they share.

A command's module is imported when the command runs, not before: ``metronome shipper`` (one of
the children ``metronome serve`` starts, and restarts after a crash) loads the spool and the
Elasticsearch client, not the archive's S3 client or every source type."""

from __future__ import annotations

import importlib

import click

from metronome import __version__
from metronome.cli.context import Context

# command name -> the module of metronome.cli that defines it, and its name there
COMMANDS = {
    "serve": ("serve", "serve"),
    "setup": ("es", "setup"),
    "mappings": ("es", "mappings"),
    "es": ("es", "es"),
    "shipper": ("spool", "shipper"),
    "dead-letters": ("spool", "dead_letters"),
    "forward": ("logs", "forward"),
    "archive": ("archive", "archive"),
    "sources": ("sources", "sources"),
    "scheduler": ("scheduler", "scheduler"),
    "dashboards": ("dashboards", "dashboards"),
    "notify": ("notify", "notify"),
    "alerts": ("alerts", "alerts"),
    "digest": ("digest", "digest"),
    "sql": ("sql", "sql"),
    "doctor": ("doctor", "doctor"),
    "retention": ("retention", "retention"),
    "rollups": ("rollups", "rollups"),
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use (``COMMANDS``)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(f"metronome.cli.{module}"), name)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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


def main() -> None:
    cli(prog_name="metronome")
