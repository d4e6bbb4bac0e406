"""A digest's e-mail put together (pure): subject, the plain-text and HTML parts, the charts as
inline images and the attachments; and as the notify ``Message`` the channels send (a webhook
channel carries its subject and text, and the digest's figures as ``fields``)."""

from __future__ import annotations

from metronome.digests.content import (
    PNG,
    DigestInput,
    DigestMail,
    File,
    chart_widgets,
    inline_id,
    render_text,
    subject,
)
from metronome.digests.mail_html import render_html
from metronome.notify import Attachment, Message


def build_mail(digest: DigestInput) -> DigestMail:
    charts = chart_widgets(digest.dashboard, digest.charts)
    images = tuple(
        File(f"{widget.id}.png", PNG, digest.charts[widget.id], inline_id(digest, widget.id))
        for widget in charts
    )
    return DigestMail(
        subject=subject(digest),
        text=render_text(digest),
        html=render_html(digest),
        files=(*images, *digest.files),
    )


def to_message(mail: DigestMail, fields: dict[str, object] | None = None) -> Message:
    return Message(
        subject=mail.subject,
        text=mail.text,
        html=mail.html,
        attachments=tuple(
            Attachment(f.filename, f.content_type, f.data, f.inline_id) for f in mail.files
        ),
        fields=fields or {},
    )
