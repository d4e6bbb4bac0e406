"""Webhook bodies (pure): generic JSON, Slack, Mattermost, or a template of one's own.

- ``json``: ``{"key", "channel", "subject", "text", "fields"}``, ``fields`` being the
  message's structured data (alerts: rule, state, value, threshold, site, url, at...);
- ``slack``: ``text`` (what notifications and old clients show) and ``blocks`` (a header with
  the subject, a section with the text), as Slack's incoming webhooks take them;
- ``mattermost``: ``text`` in Markdown, the subject as a heading;
- a ``template`` (SMS gateways, any HTTP API): see ``metronome.config.bodytemplate``.

Attachments and the HTML part are e-mail only: no webhook body carries them.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from metronome.config.bodytemplate import render_template
from metronome.notify.message import Message

SLACK_HEADER_CHARS = 150  # Slack's limit for a header block's text
SLACK_SECTION_CHARS = 3000  # ...and for a section's
MATTERMOST_CHARS = 16_000  # a post is at most 16,383 characters by default


@dataclass(frozen=True)
class Body:
    content_type: str
    data: bytes


@dataclass(frozen=True)
class BodySpec:
    """What a webhook channel's settings say about its body."""

    format: Literal["json", "slack", "mattermost"] = "json"
    template: str | None = None
    content_type: str = "application/json"
    username: str | None = None
    icon_url: str | None = None


def webhook_body(spec: BodySpec, message: Message, *, key: str, channel: str) -> Body:
    if spec.template is not None:
        values = {
            "subject": message.subject,
            "text": message.text,
            "key": key,
            "channel": channel,
            "fields": jsonable(message.fields),
        }
        text = render_template(spec.template, values)
        return Body(spec.content_type, text.encode("utf-8"))
    payload: dict[str, Any]
    if spec.format == "slack":
        payload = slack_payload(message)
    elif spec.format == "mattermost":
        payload = mattermost_payload(message)
    else:
        payload = json_payload(message, key=key, channel=channel)
    if spec.format != "json":
        extras = {"username": spec.username, "icon_url": spec.icon_url}
        payload.update({name: value for name, value in extras.items() if value})
    return Body("application/json", encode(payload))


def json_payload(message: Message, *, key: str, channel: str) -> dict[str, Any]:
    return {
        "key": key,
        "channel": channel,
        "subject": message.subject,
        "text": message.text,
        "fields": jsonable(message.fields),
    }


def slack_payload(message: Message) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = []
    if message.subject.strip():
        header = {"type": "plain_text", "text": clip(message.subject, SLACK_HEADER_CHARS)}
        blocks.append({"type": "header", "text": header})
    if message.text.strip():
        section = {"type": "mrkdwn", "text": clip(slack_escape(message.text), SLACK_SECTION_CHARS)}
        blocks.append({"type": "section", "text": section})
    fallback = "\n".join(part for part in (message.subject, message.text) if part.strip())
    payload: dict[str, Any] = {"text": clip(slack_escape(fallback), 40_000)}
    if blocks:
        payload["blocks"] = blocks
    return payload


def mattermost_payload(message: Message) -> dict[str, Any]:
    subject = " ".join(message.subject.split())
    parts = [f"#### {subject}" if subject else "", message.text]
    return {"text": clip("\n\n".join(part for part in parts if part.strip()), MATTERMOST_CHARS)}


def slack_escape(text: str) -> str:
    """The three characters Slack's markup gives a meaning to, as it asks them escaped."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: datetimes and dates in ISO 8601, decimals as numbers,
    NaN and infinities as null, tuples as lists, anything else as its text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float | Decimal):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(item) for item in value]
    return str(value)


def encode(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
