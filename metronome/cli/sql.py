"""``metronome sql "SELECT ..."``: one SQL statement over a stream, printed as a table (or as
the JSON or CSV ``POST /api/v1/sql`` answers). Read with the configuration's own access to
Elasticsearch: no read key; the site is ``--site``, the statement's ``site = '...'`` or the
default site."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import click

from metronome.access.sites import find_site
from metronome.cli.context import Context, elasticsearch_errors, pass_context
from metronome.errors import ApiError
from metronome.es.client import build_client
from metronome.query.catalog import FieldCatalog
from metronome.query.export import cell_text
from metronome.query.reads import call_elasticsearch
from metronome.query.runner import run_query
from metronome.query.sql.answer import answer_rows, sql_csv, sql_result
from metronome.query.sql.conditions import site_condition
from metronome.query.sql.names import source_of
from metronome.query.sql.statement import parse_statement
from metronome.query.sql.translate import translate
from metronome.query.timerange import parse_tz

FORMATS = ("table", "json", "csv")


@click.command()
@click.argument("statement")
@click.option(
    "--site", help="Site to read (default: the statement's site = '...', else default_site)."
)
@click.option("--tz", default="UTC", show_default=True, help="IANA time zone of buckets and times.")
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True,
    help="A table for people; the JSON or CSV of POST /api/v1/sql.",
)  # fmt: skip
@pass_context
@elasticsearch_errors()
def sql(ctx: Context, statement: str, site: str | None, tz: str, fmt: str) -> None:
    """Run one SELECT over a stream (docs/sql.md); "-" reads it from standard input.

    \b
    metronome sql "SELECT referrer.host, count(*) FROM hits GROUP BY 1 ORDER BY 2 DESC LIMIT 10"
    """
    text = sys.stdin.read() if statement == "-" else statement
    settings = ctx.reachable_settings()
    try:
        parsed = parse_statement(text)
        source = source_of(parsed)
        named = site_condition(parsed.select, text)
        if site and named and site != named:
            raise click.ClickException(f"--site {site} but the statement reads site {named!r}")
        allezon = settings.allezon.site if source.allezon and settings.allezon.enabled else None
        chosen = find_site(settings, site or named or allezon)
        client = build_client(settings.elasticsearch)
        prefix = settings.elasticsearch.index_prefix
        catalog = FieldCatalog(client, prefix)
        known = call_elasticsearch(lambda: catalog.fields(source.stream))
        plan = translate(
            parsed, chosen.name, known, datetime.now(UTC), parse_tz(tz), every_row=fmt == "csv"
        )
        rollups = settings.rollups
        outcome = call_elasticsearch(lambda: run_query(client, prefix, plan.query, rollups))
    except ApiError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    if fmt == "json":
        click.echo(json.dumps(sql_result(plan, outcome), ensure_ascii=False, default=str))
    elif fmt == "csv":
        click.echo(sql_csv(plan, outcome), nl=False)
    else:
        rows, total = answer_rows(plan, outcome)
        click.echo(text_table([column.name for column in plan.columns], rows))
        shown = f"{len(rows)} row{'s' if len(rows) != 1 else ''}"
        more = f" of {total}" if total > plan.offset + len(rows) or plan.offset else ""
        estimate = " (some values are estimates)" if plan.query.approximate else ""
        click.echo(f"({shown}{more}){estimate}")


def text_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Columns padded to their widest cell, numbers to the right, a rule under the header."""
    cells = [[cell_text(value) for value in row] for row in rows]
    widths = [
        max([len(name), *(len(row[index]) for row in cells)]) for index, name in enumerate(columns)
    ]
    numeric = [
        bool(rows)
        and all(isinstance(row[index], int | float) or row[index] is None for row in rows)
        for index in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(width) if right else value.ljust(width)
            for value, width, right in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(list(columns)), rule, *(line(row) for row in cells)])
