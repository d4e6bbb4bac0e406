"""The e-mail of a message (pure): plain text, and HTML as its alternative; inline images
beside the HTML (multipart/related, each found by its Content-ID); attachments around it
all (multipart/mixed).

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html
          image/png            Content-ID: <chart-1>
      application/pdf          attachment; filename="report.pdf"

(Parts that a message does not have are left out: text only is one text/plain part.) Inline
images of a message without HTML are plain attachments. The Message-ID derives from the
outbox key, so a message sent twice (a crash between sending and recording it) has one id and
a mail client shows it once.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, parseaddr

from metronome.notify.message import Attachment, Message

CONTENT_ID = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,200}")


def message_id(key: str, channel: str, sender: str) -> str:
    """``<hex@domain>``: the same for the same key and channel, the sender's domain after @."""
    digest = hashlib.sha256(f"{channel}\0{key}".encode()).hexdigest()[:32]
    domain = parseaddr(sender)[1].rpartition("@")[2] or "metronome.invalid"
    return f"<{digest}@{domain}>"


def build_email(
    message: Message,
    *,
    sender: str,
    to: tuple[str, ...],
    key: str,
    channel: str,
    date: datetime,
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail["Subject"] = " ".join(message.subject.split())  # no line break can reach a header
    mail["Date"] = format_datetime(date)
    mail["Message-ID"] = message_id(key, channel, sender)
    mail["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it, please
    mail.set_content(message.text)
    inline = [a for a in message.attachments if a.inline_id is not None]
    attached = [a for a in message.attachments if a.inline_id is None]
    if message.html is not None:
        mail.add_alternative(message.html, subtype="html")
        html = mail.get_body(preferencelist=("html",))
        assert isinstance(html, EmailMessage)
        for image in inline:
            maintype, subtype = _split(image.content_type)
            html.add_related(
                image.data,
                maintype=maintype,
                subtype=subtype,
                cid=f"<{_content_id(image)}>",
                filename=image.filename,
                disposition="inline",
            )
    else:
        attached = inline + attached
    for attachment in attached:
        maintype, subtype = _split(attachment.content_type)
        mail.add_attachment(
            attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return mail


def recipients(to: tuple[str, ...]) -> list[str]:
    """The bare addresses of ``Name <addr>`` entries, for the SMTP envelope."""
    return [address for _, address in getaddresses(list(to)) if address]


def _content_id(image: Attachment) -> str:
    assert image.inline_id is not None
    if not CONTENT_ID.fullmatch(image.inline_id):
        raise ValueError(f"{image.inline_id[:40]!r} cannot be a Content-ID (letters, digits, .-_)")
    return image.inline_id


def _split(content_type: str) -> tuple[str, str]:
    maintype, _, subtype = content_type.partition("/")
    if not maintype or not subtype:
        return "application", "octet-stream"
    return maintype.strip().lower(), subtype.split(";")[0].strip().lower()
