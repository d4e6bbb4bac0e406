"""``metronome dashboards``: Kibana saved objects and Grafana provisioning generated from the
dashboard definitions (the built-in ones, the files of ``dashboards.dir``, and any
``--definition`` file), and the import of the saved objects into a Kibana."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import click

from metronome.cli.context import Context, pass_context, say
from metronome.config import ConfigError, config_origin
from metronome.dashboards.builtins import builtin_dashboards
from metronome.dashboards.definition import Dashboard, parse_dashboard_json
from metronome.dashboards.export import grafana
from metronome.dashboards.export.files import grafana_files, kibana_ndjson
from metronome.dashboards.export.kibana_import import (
    Credentials,
    KibanaImportError,
    import_saved_objects,
)
from metronome.dashboards.files import dashboards_dir, load_dashboard_files
from metronome.errors import ApiError

USER_ENV, PASSWORD_ENV, API_KEY_ENV = (
    "METRONOME_KIBANA_USER",
    "METRONOME_KIBANA_PASSWORD",
    "METRONOME_KIBANA_API_KEY",
)


@click.group()
def dashboards() -> None:
    """Kibana and Grafana objects made from Metronome's dashboard definitions."""


_definitions = click.option(
    "--definition",
    "definitions",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A dashboard definition (JSON) to include besides the built-in ones; repeatable.",
)
_prefix = click.option(
    "--prefix", help="Index prefix of the streams (default: elasticsearch.index_prefix)."
)


def _dashboards(ctx: Context, definitions: Sequence[Path]) -> list[Dashboard]:
    """The built-in dashboards, those of ``dashboards.dir``, then the ``--definition`` ones."""
    try:
        files = load_dashboard_files(dashboards_dir(ctx.settings, config_origin(ctx.config_file)))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None
    chosen = [*builtin_dashboards(), *files]
    for path in definitions:
        try:
            dashboard = parse_dashboard_json(path.read_bytes(), lambda stream: None)
        except ApiError as error:
            raise click.ClickException(f"{path}: {error.message}") from None
        if any(d.id == dashboard.id for d in chosen):
            raise click.ClickException(f"{path}: another dashboard has the id {dashboard.id!r}")
        chosen.append(dashboard)
    return chosen


def _prefix_of(ctx: Context, prefix: str | None) -> str:
    return prefix or ctx.settings.elasticsearch.index_prefix


@dashboards.command("export-kibana")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout).",
)
@_definitions
@_prefix
@pass_context
def export_kibana(
    ctx: Context, out: Path | None, definitions: tuple[Path, ...], prefix: str | None
) -> None:
    """Kibana saved objects (NDJSON): data views, Lens visualisations, dashboards."""
    chosen = _dashboards(ctx, definitions)
    text = kibana_ndjson(chosen, _prefix_of(ctx, prefix))
    if out is None:
        click.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    say(f"wrote {len(text.splitlines())} saved objects ({len(chosen)} dashboards) to {out}")


@dashboards.command("import-kibana")
@click.option("--url", required=True, help="Kibana's URL, e.g. http://127.0.0.1:5601.")
@click.option("--space", help="Kibana space id (default: the default space).")
@click.option("--overwrite", is_flag=True, help="Replace objects that exist already.")
@click.option(
    "--user",
    help=f"User name; the password is read from {PASSWORD_ENV} or asked for. "
    f"Without it: {API_KEY_ENV}, or {USER_ENV} and {PASSWORD_ENV}.",
)
@click.option(
    "--file",
    "ndjson_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Import this NDJSON file (e.g. kibana/metronome.ndjson) instead of generating it.",
)
@click.option(
    "--ca-certs",
    type=click.Path(exists=True, dir_okay=False),
    help="CA bundle that signed Kibana's certificate (https).",
)
@_definitions
@_prefix
@pass_context
def import_kibana(
    ctx: Context,
    *,
    url: str,
    space: str | None,
    overwrite: bool,
    user: str | None,
    ndjson_file: Path | None,
    ca_certs: str | None,
    definitions: tuple[Path, ...],
    prefix: str | None,
) -> None:
    """Import the saved objects into a Kibana (its saved-objects import API)."""
    if ndjson_file is not None and (definitions or prefix):
        raise click.UsageError("--file imports a file as it is: no --definition or --prefix")
    credentials = _credentials(user)
    if ndjson_file is not None:
        text, origin = ndjson_file.read_text(encoding="utf-8"), str(ndjson_file)
    else:
        chosen = _dashboards(ctx, definitions)
        text = kibana_ndjson(chosen, _prefix_of(ctx, prefix))
        origin = f"{len(chosen)} dashboards"
    count = len(text.splitlines())
    where = f"space {space}" if space else "the default space"
    say(f"Importing {count} saved objects ({origin}) into {url}, {where}...")
    try:
        result = import_saved_objects(
            url,
            text.encode(),
            space=space,
            overwrite=overwrite,
            credentials=credentials,
            verify=ca_certs or True,
        )
    except KibanaImportError as error:
        raise click.ClickException(str(error)) from None
    say(f"Imported {result.success_count} of {count} objects.")
    for failed in result.errors:
        say(f"  not imported: {failed.describe()}")
    if result.errors:
        raise click.ClickException(f"{len(result.errors)} objects were not imported")


def _credentials(user: str | None) -> Credentials:
    if user:
        password = os.environ.get(PASSWORD_ENV)
        if password is None:
            password = click.prompt(f"Password of {user}", hide_input=True)
        return Credentials(username=user, password=password)
    if os.environ.get(API_KEY_ENV):
        return Credentials(api_key=os.environ[API_KEY_ENV])
    if os.environ.get(USER_ENV):
        return Credentials(username=os.environ[USER_ENV], password=os.environ.get(PASSWORD_ENV))
    return Credentials()


@dashboards.command("export-grafana")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write provisioning/ and dashboards/ into.",
)
@click.option(
    "--es-url",
    default=grafana.DEFAULT_ES_URL,
    show_default=True,
    help="Elasticsearch URL as Grafana reaches it.",
)
@click.option(
    "--dashboards-path",
    default=grafana.DASHBOARDS_PATH,
    show_default=True,
    help="Where Grafana will find the dashboards' JSON files (the provider's path).",
)
@_definitions
@_prefix
@pass_context
def export_grafana(
    ctx: Context,
    *,
    out: Path,
    es_url: str,
    dashboards_path: str,
    definitions: tuple[Path, ...],
    prefix: str | None,
) -> None:
    """Grafana provisioning (data sources, dashboard provider) and dashboards (JSON)."""
    chosen = _dashboards(ctx, definitions)
    files = grafana_files(chosen, _prefix_of(ctx, prefix), es_url, dashboards_path)
    for relative, text in files.items():
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    say(f"wrote {len(files)} files ({len(chosen)} dashboards) under {out}")
