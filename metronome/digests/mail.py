"""A digest's e-mail put together (pure): subject, the plain-text and HTML parts, the charts as
inline images and the attachments."""

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
