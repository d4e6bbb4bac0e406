"""The notification of a transition (pure): a ``notify.Message`` with a subject, a plain-text
part, an HTML part and the structured fields JSON webhooks carry.

Numbers are those of the evaluation (the value, and what it was compared with: the threshold,
the earlier period, or the seasonal baseline), with the window they cover as absolute times, so
anyone can ask ``POST /api/v1/query`` the same question (``query`` in the fields is its body)
and get the same number. With ``server.public_url`` set, the message links to the rule on the
app's alerts page.
"""

from __future__ import annotations

import html
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from metronome.alerts.conditions import Verdict
from metronome.alerts.machine import AlertState, Transition
from metronome.alerts.rules import Rule, format_duration, format_number
from metronome.notify.message import Message

WORDS = {"firing": "FIRING", "repeat": "STILL FIRING", "resolved": "RESOLVED"}
COLOURS = {"firing": "#b42318", "repeat": "#b42318", "resolved": "#067647"}


def rule_link(rule: Rule, public_url: str | None) -> str | None:
    """The rule on the app's alerts page, when the server's public address is known."""
    if not public_url:
        return None
    query = {"view": "alerts", "rule": rule.name}
    if rule.site:
        query = {"site": rule.site, **query}
    return f"{public_url.rstrip('/')}/?{urlencode(query)}"


def alert_message(
    rule: Rule,
    state: AlertState,
    transition: Transition,
    verdict: Verdict | None,
    *,
    public_url: str | None = None,
    instance: str | None = None,
) -> Message:
    """What is sent for ``transition`` of ``rule`` (its state after the evaluation)."""
    word = WORDS[transition.kind]
    where = f"[{rule.site}] " if rule.site else ""
    subject = f"[{word}] {where}{rule.name}: {state.summary or rule.condition.describe()}"
    link = rule_link(rule, public_url)
    facts = _facts(rule, state, transition, verdict, instance)
    text_lines = [f"{word}: {rule.name} ({rule.severity})", ""]
    if rule.description:
        text_lines += [rule.description, ""]
    text_lines += [f"{label}: {value}" for label, value in facts]
    if link:
        text_lines += ["", f"Open: {link}"]
    return Message(
        subject=subject[:250],
        text="\n".join(text_lines) + "\n",
        html=_html(rule, transition, facts, link),
        fields=_fields(rule, state, transition, verdict, link=link, instance=instance),
    )


def _facts(
    rule: Rule,
    state: AlertState,
    transition: Transition,
    verdict: Verdict | None,
    instance: str | None,
) -> list[tuple[str, str]]:
    facts: list[tuple[str, str]] = [("Summary", state.summary)]
    if rule.site:
        facts.append(("Site", rule.site))
    if rule.origin != "health":
        facts.append(("Metric", f"{rule.metric} of stream {rule.stream}"))
        if rule.filters:
            shown = "; ".join(f"{f} {op} {', '.join(map(str, v))}" for op, f, v in rule.filters)
            facts.append(("Filters", shown))
    facts.append(("Value", format_number(state.value)))
    facts.append(("Condition", rule.condition.describe()))
    if state.reference is not None and rule.condition.kind != "no_data":
        label = {
            "above": "Threshold",
            "below": "Threshold",
            "change": "Compared with",
            "anomaly": "Expected",
        }.get(rule.condition.kind, "Compared with")
        facts.append((label, format_number(state.reference)))
    if verdict is not None and verdict.window is not None:
        window = verdict.window
        facts.append(("Window", f"{_time(window.start)} to {_time(window.end)}"))
        if window.compare is not None:
            facts.append(
                ("Compared window", f"{_time(window.compare[0])} to {_time(window.compare[1])}")
            )
    if transition.incident_since is not None:
        label = "Was firing since" if transition.kind == "resolved" else "Firing since"
        facts.append((label, _time(transition.incident_since)))
    facts.append(("At", _time(transition.at)))
    if transition.kind == "firing" and rule.repeat:
        facts.append(("Repeated", f"every {format_duration(rule.repeat)} while it fires"))
    if instance:
        facts.append(("Instance", instance))
    return facts


def _fields(
    rule: Rule,
    state: AlertState,
    transition: Transition,
    verdict: Verdict | None,
    *,
    link: str | None,
    instance: str | None,
) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "kind": "alert",
        "rule": rule.name,
        "state": transition.kind,
        "severity": rule.severity,
        "site": rule.site,
        "summary": state.summary,
        "value": state.value,
        "reference": state.reference,
        "condition": rule.condition.describe(),
        "at": transition.at.isoformat(),
        "since": transition.incident_since.isoformat() if transition.incident_since else None,
        "transition": transition.id,
        "url": link,
    }
    if rule.condition.kind in ("above", "below"):
        fields["threshold"] = rule.condition.threshold
    if verdict is not None and verdict.window is not None:
        window = verdict.window
        fields["window"] = {"from": window.start.isoformat(), "to": window.end.isoformat()}
        if window.compare is not None:
            start, end = window.compare
            fields["compare_window"] = {"from": start.isoformat(), "to": end.isoformat()}
        if rule.origin != "health" and rule.condition.kind != "anomaly":
            fields["query"] = rule.query_body(window.start, window.end)
        fields.update({key: value for key, value in verdict.details.items() if key not in fields})
    if instance:
        fields["instance"] = instance
    return fields


def _html(
    rule: Rule, transition: Transition, facts: list[tuple[str, str]], link: str | None
) -> str:
    colour = COLOURS[transition.kind]
    rows = "".join(
        f'<tr><th align="left" style="padding:4px 12px 4px 0;color:#555;font-weight:normal">'
        f'{html.escape(label)}</th><td style="padding:4px 0">{html.escape(value)}</td></tr>'
        for label, value in facts
    )
    description = f"<p>{html.escape(rule.description)}</p>" if rule.description else ""
    button = ""
    if link:
        anchor = f'<a href="{html.escape(link)}" style="color:#1849a9">'
        button = f"<p>{anchor}Open the alert in Metronome</a></p>"
    return (
        '<!doctype html><html><body style="font-family:sans-serif;font-size:14px">'
        f'<h2 style="color:{colour};margin:0 0 8px">{WORDS[transition.kind]}: '
        f"{html.escape(rule.name)}</h2>"
        f'<p style="color:#555;margin:0 0 12px">Severity {html.escape(rule.severity)}</p>'
        f"{description}<table>{rows}</table>{button}</body></html>"
    )


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")
