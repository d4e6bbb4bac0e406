"""Webhook bodies (pure): generic JSON, Slack, Mattermost, templates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import pytest

from metronome.config.bodytemplate import TemplateError, check_template, render_template
from metronome.notify.message import Attachment, Message
from metronome.notify.payload import BodySpec, jsonable, webhook_body

AT = datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
ALERT = Message(
    subject="Page views above 1000",
    text='Page views were 1234 in the last hour (threshold 1000) on <shop> & "co".',
    html="<p>ignored by webhooks</p>",
    attachments=(Attachment("a.pdf", "application/pdf", b"%PDF"),),
    fields={"rule": "views-high", "value": 1234.0, "threshold": Decimal(1000), "at": AT},
)


def body_of(spec: BodySpec, message: Message = ALERT) -> dict[str, object]:
    body = webhook_body(spec, message, key="alert:views-high:7", channel="hook")
    assert body.content_type == "application/json"
    decoded = json.loads(body.data)
    assert isinstance(decoded, dict)
    return decoded


def test_generic_json_carries_subject_text_key_and_fields() -> None:
    assert body_of(BodySpec()) == {
        "key": "alert:views-high:7",
        "channel": "hook",
        "subject": ALERT.subject,
        "text": ALERT.text,
        "fields": {
            "rule": "views-high",
            "value": 1234.0,
            "threshold": 1000.0,
            "at": "2026-10-25T01:30:00+00:00",
        },
    }


def test_slack_has_a_text_and_blocks_with_its_markup_escaped() -> None:
    payload = body_of(BodySpec(format="slack", username="Metronome"))
    assert payload["text"] == (
        "Page views above 1000\nPage views were 1234 in the last hour (threshold 1000) on "
        '&lt;shop&gt; &amp; "co".'
    )
    assert payload["blocks"] == [
        {"type": "header", "text": {"type": "plain_text", "text": "Page views above 1000"}},
        {
            "type": "section",
            "text": {
                "type": "mrkdwn",
                "text": "Page views were 1234 in the last hour (threshold 1000) on &lt;shop&gt; "
                '&amp; "co".',
            },
        },
    ]
    assert payload["username"] == "Metronome"


def test_slack_keeps_within_its_block_limits() -> None:
    long = Message(subject="s" * 400, text="t" * 5000)
    blocks = body_of(BodySpec(format="slack"), long)["blocks"]
    assert isinstance(blocks, list)
    assert len(blocks[0]["text"]["text"]) == 150
    assert len(blocks[1]["text"]["text"]) == 3000


def test_mattermost_has_the_subject_as_a_heading() -> None:
    payload = body_of(BodySpec(format="mattermost", icon_url="https://example.org/i.png"))
    assert payload == {
        "text": f"#### {ALERT.subject}\n\n{ALERT.text}",
        "icon_url": "https://example.org/i.png",
    }


def test_a_template_gives_the_body_with_values_escaped() -> None:
    template = '{"to": "+48123456789", "text": {{ text | tojson }}, "rule": "{{fields.rule}}"}'
    payload = body_of(BodySpec(template=template))
    assert payload == {"to": "+48123456789", "text": ALERT.text, "rule": "views-high"}


def test_a_message_cannot_break_out_of_a_template_string() -> None:
    hostile = Message(subject="x", text='", "to": "+1999", "x": "')
    payload = body_of(BodySpec(template='{"to": "+48123", "text": "{{ text }}"}'), hostile)
    assert payload == {"to": "+48123", "text": hostile.text}


def test_a_form_template_percent_encodes() -> None:
    spec = BodySpec(
        template="to=%2B48123&msg={{ subject | urlencode }}",
        content_type="application/x-www-form-urlencoded",
    )
    body = webhook_body(spec, ALERT, key="k", channel="sms")
    assert body.content_type == "application/x-www-form-urlencoded"
    assert parse_qs(body.data.decode()) == {"to": ["+48123"], "msg": [ALERT.subject]}


def test_missing_fields_render_as_null_or_nothing() -> None:
    values = {"subject": "s", "text": "t", "key": "k", "channel": "c", "fields": {"a": {"b": 1}}}
    rendered = render_template(
        '[{{fields.a.b|tojson}}, {{fields.nope|tojson}}, "{{fields.nope}}", "{{fields.a}}"]',
        values,
    )
    assert json.loads(rendered) == [1, None, "", '{"b": 1}']


@pytest.mark.parametrize(
    ("template", "complaint"),
    [
        ("{{ body }}", "not a value"),
        ("{{ text | upper }}", "not a filter"),
        ("{{ text.__class__ }}", "not a value"),
        ("{{ text ", "not a placeholder"),
        ('{"a": "}}"}', "not a placeholder"),
        ("{% for x in y %}", None),  # not our syntax: just text, nothing is evaluated
    ],
)
def test_a_template_is_checked(template: str, complaint: str | None) -> None:
    if complaint is None:
        check_template(template)
        return
    with pytest.raises(TemplateError, match=complaint):
        check_template(template)


def test_jsonable_makes_plain_json_data() -> None:
    assert jsonable({"n": float("nan"), "t": (1, 2), "d": AT.date(), "o": object}) == {
        "n": None,
        "t": [1, 2],
        "d": "2026-10-25",
        "o": "<class 'object'>",
    }
