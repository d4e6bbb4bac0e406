"""``metronome alerts list | check [--rule NAME] [--dry-run]``, and the alert tasks the
scheduler runs (``scheduler_tasks``)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import click
from elasticsearch import ApiError as EsApiError
from elasticsearch import Elasticsearch, TransportError

from metronome.alerts import health
from metronome.alerts.channels import build_outbox, channel_names
from metronome.alerts.evaluate import Evaluator, RuleOutcome, check_alert_rules, file_rules
from metronome.alerts.local import LocalChecks, read_states, state_path
from metronome.alerts.rules import Rule, format_duration, format_number
from metronome.alerts.store import AlertStore
from metronome.cli.context import Context, pass_context, say
from metronome.config import ConfigError, Settings, config_origin
from metronome.errors import ApiError
from metronome.es.client import build_client
from metronome.sources.scheduler import PeriodicTask


def check_rules(settings: Settings, config_file: str | None) -> None:
    """The config file's rules are valid (a ``ClickException`` naming the rule and key)."""
    try:
        check_alert_rules(settings, channel_names(settings), config_origin(config_file))
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def health_banner(settings: Settings) -> str | None:
    """What to say at start when health alerts go nowhere."""
    if settings.alerts.health.channels:
        return None
    return (
        "pipeline-health alerts are recorded and shown (GET /api/v1/alerts) but not sent: "
        "set alerts.health.channels to notify channels to be told"
    )


def scheduler_tasks(
    settings: Settings, client: Elasticsearch, holder: str, say: Callable[[str], None]
) -> tuple[list[PeriodicTask], list[PeriodicTask]]:
    """The tasks of the scheduler: (under the lease) alert evaluation and notification
    delivery; (on every instance) the instance's own health checks."""
    outbox = build_outbox(settings, client)
    evaluator = Evaluator(settings, client, outbox, instance=holder)
    local = LocalChecks(settings, client, outbox, instance=holder)

    def evaluate() -> None:
        for outcome in evaluator.run():
            _log_outcome(outcome, say)

    def check_instance() -> None:
        for outcome in local.run():
            _log_outcome(outcome, say)

    def deliver() -> None:
        report = outbox.deliver_due()
        if report.sent or report.retrying or report.failed:
            say(
                f"notifications: {report.sent} sent, {report.retrying} to retry, "
                f"{report.failed} failed" + "".join(f"; {error}" for error in report.errors[:5])
            )

    periodic = [
        PeriodicTask("alerts", settings.alerts.every, evaluate),
        PeriodicTask("notifications", settings.alerts.deliver_every, deliver),
    ]
    instance = [PeriodicTask("health checks", settings.alerts.health.local_every, check_instance)]
    return periodic, instance


def _log_outcome(outcome: RuleOutcome, say: Callable[[str], None]) -> None:
    for transition in outcome.transitions:
        sent = ", ".join(n.channel for n in outcome.notices) or "no channel"
        quiet = "" if transition.notify else " (within cooldown: not sent)"
        what = f"{transition.kind}{quiet} -> {sent}"
        say(f"alert {outcome.rule.name}: {what}: {outcome.after.summary}")
    if outcome.after.error and outcome.after.error != outcome.before.error:
        say(f"alert {outcome.rule.name}: {outcome.after.error}")


@click.group()
def alerts() -> None:
    """Alert rules: their state, and evaluating them now."""


@alerts.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the rules and states as JSON.")
@pass_context
def list_alerts(ctx: Context, as_json: bool) -> None:
    """Every rule (config file, stored through the API, pipeline health) with its state."""
    settings = ctx.settings
    check_rules(settings, ctx.config_file)
    rules: list[Rule] = [*file_rules(settings), *health.local_rules(settings)]
    states: dict[str, Any] = {name: s for name, s in read_states(state_path(settings)).items()}
    reachable = True
    try:
        es_settings = ctx.reachable_settings()
        client = build_client(es_settings.elasticsearch)
        store = AlertStore(client, settings.elasticsearch.index_prefix)
        taken = {rule.name for rule in rules}
        rules += [s.rule for s in store.rules() if s.rule.name not in taken]
        rules += health.cluster_rules(settings)
        cluster = [r.name for r in rules if r.name not in states]
        states.update({name: v.state for name, v in store.states(cluster).items()})
    except (click.ClickException, TransportError, EsApiError, ApiError) as error:
        reachable = False
        rules += health.cluster_rules(settings)
        say(f"(Elasticsearch not reachable: stored rules and their states not shown: {error})")
    rows = [_row(rule, states.get(rule.name)) for rule in rules]
    if as_json:
        click.echo(json.dumps({"rules": rows, "complete": reachable}, indent=2))
        return
    for row in rows:
        say(_line(row))
    banner = health_banner(settings)
    if banner:
        say(f"note: {banner}")


@alerts.command()
@click.option("--rule", "only", metavar="NAME", help="Evaluate this rule only.")
@click.option("--dry-run", is_flag=True, help="Record and send nothing; print what would be sent.")
@pass_context
def check(ctx: Context, only: str | None, dry_run: bool) -> None:
    """Evaluate the rules now, print each state and what is (or would be) sent; without
    --dry-run, record and send as the scheduler does. Exit 1 when a rule cannot be evaluated."""
    settings = ctx.settings
    check_rules(settings, ctx.config_file)
    if settings.elasticsearch.url:  # configured: the local checks say when it is down
        client = build_client(settings.elasticsearch)
    else:  # the embedded node: it must be running (a one-line error says how to start it)
        client = build_client(ctx.reachable_settings().elasticsearch)
    outbox = None if dry_run else build_outbox(settings, client)
    evaluator = Evaluator(settings, client, outbox, instance="metronome alerts check")
    local = LocalChecks(settings, client, outbox, instance="metronome alerts check")
    local_names = {rule.name for rule in local.rules()}
    outcomes: list[RuleOutcome] = []
    if only is None or only in local_names:
        outcomes += [o for o in local.run(dry_run=dry_run) if only is None or o.rule.name == only]
    if only is None or only not in local_names:
        try:
            known = {rule.name for rule in evaluator.rules()}
            if only is not None and only not in known:
                listed = ", ".join(sorted(known | local_names))
                raise click.BadParameter(f"no rule named {only!r} ({listed})", param_hint="--rule")
            outcomes += evaluator.run(only=only, dry_run=dry_run)
        except (TransportError, EsApiError, ApiError) as error:
            raise click.ClickException(
                f"Elasticsearch did not answer ({type(error).__name__}); the rules' state, "
                "their data and the outbox are kept there"
            ) from None
    if outbox is not None:
        report = outbox.deliver_due()
        say(
            f"notifications: {report.sent} sent, {report.retrying} to retry, {report.failed} failed"
        )
        for problem in report.errors:
            say(f"    {problem}")
    for outcome in outcomes:
        _print_outcome(outcome, dry_run)
    banner = health_banner(settings)
    if banner:
        say(f"note: {banner}")
    sys.exit(1 if any(o.after.error for o in outcomes) else 0)


def _print_outcome(outcome: RuleOutcome, dry_run: bool) -> None:
    rule, before, after = outcome.rule, outcome.before, outcome.after
    change = after.state if before.state == after.state else f"{before.state} -> {after.state}"
    say(f"{rule.name}: {change}; {after.error or after.summary}")
    for notice in outcome.notices:
        verb = (
            "would send"
            if dry_run or notice.queued is None
            else ("queued" if notice.queued else "already queued")
        )
        say(f"    {verb} to {notice.channel}: {notice.message.subject}")
    if any(t.notify for t in outcome.transitions) and not rule.channels:
        say("    (no channels: recorded, not sent)")


def _row(rule: Rule, state: Any) -> dict[str, Any]:
    return {
        "name": rule.name,
        "origin": rule.origin,
        "site": rule.site,
        "enabled": rule.enabled,
        "condition": rule.condition.describe(),
        "channels": list(rule.channels),
        "state": state.state if state else "ok",
        "since": state.since.isoformat() if state and state.since else None,
        "value": state.value if state else None,
        "summary": state.summary if state else "",
        "error": state.error if state else None,
    }


def _line(row: dict[str, Any]) -> str:
    if not row["enabled"]:
        return f"{row['name']}: disabled"
    since = ""
    if row["since"]:
        moment = datetime.fromisoformat(row["since"])
        seconds = (datetime.now(UTC) - moment).total_seconds()
        rounded = round(seconds / 60) * 60 if seconds >= 60 else round(seconds)
        since = f" for {format_duration(rounded)}"
    value = f", value {format_number(row['value'])}" if row["value"] is not None else ""
    where = f" [{row['site']}]" if row["site"] else ""
    channels = ", ".join(row["channels"]) or "no channels"
    state = f"{row['state'].upper()}{since}{value}"
    text = f"{row['name']}{where}: {state} ({row['condition']}; {channels})"
    if row["error"]:
        text += f"\n    {row['error']}"
    return text
