"""What is sent: a ``Message`` (subject, plain text, optional HTML, attachments, structured
fields) is channel-neutral; each channel renders what it can carry of it (e-mail: all of it;
chat webhooks: subject and text; JSON webhooks: subject, text and fields)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str  # "application/pdf", "image/png", ...
    data: bytes = field(repr=False)
    # Set: an inline image of the HTML part, referred to there as <img src="cid:{inline_id}">.
    inline_id: str | None = None


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # the plain-text part, and the text of chat webhooks
    html: str | None = None  # the HTML part (e-mail only)
    attachments: tuple[Attachment, ...] = ()
    # Structured data for JSON webhooks (alerts: rule, state, value, threshold, site, url, at...).
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
