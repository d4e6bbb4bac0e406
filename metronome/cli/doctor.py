"""``metronome doctor``: one line per check, OK, WARN or FAIL, and an exit code that says the
worst (0 all OK, 1 a warning, 2 a failure)."""

from __future__ import annotations

import sys

import click

from metronome.cli.context import Context, pass_context, say, with_reachable_es
from metronome.es.client import build_client
from metronome.es.doctor import Check, exit_code, layout_check, run_checks
from metronome.spool.writer import spool_bytes


@click.command()
@pass_context
def doctor(ctx: Context) -> None:
    """Check Elasticsearch, the shard budget, the index layout and the spool."""
    settings = ctx.settings
    try:
        settings = with_reachable_es(settings)
    except click.ClickException as error:
        prefix = settings.elasticsearch.index_prefix
        checks = [
            Check("elasticsearch", "FAIL", error.message),
            layout_check(prefix, settings.storage, settings.rollups),
        ]
    else:
        client = build_client(settings.elasticsearch)
        checks = run_checks(
            client, settings.elasticsearch.index_prefix, settings.storage, settings.rollups
        )
    checks.append(spool_check(spool_bytes(settings.spool.dir), settings.spool.max_bytes))
    for check in checks:
        say(check.line())
    sys.exit(exit_code(checks))


def spool_check(used: int, limit: int) -> Check:
    detail = f"{used} of {limit} bytes waiting to be shipped"
    if used >= limit:
        return Check("spool", "FAIL", f"{detail}: full, ingest is refused")
    if used >= 0.8 * limit:
        return Check("spool", "WARN", f"{detail}: Elasticsearch is not keeping up")
    return Check("spool", "OK", detail)
