"""The e-mail channel: one SMTP conversation per message, with the standard library.

``security``: ``none`` (plain: a trusted network only), ``starttls`` (upgraded before
anything else is said; a server that does not offer STARTTLS is an error, never a silent
plain session), ``tls`` (TLS from the first byte). The server's certificate is verified
against the system's CAs, or ``ca_file``'s; ``verify: false`` trusts any (warned about).

What happens to a failure: a 5xx reply about the message or its recipients is permanent
(sending it again would be refused again); anything else (no connection, a timeout, a 4xx,
a refused login or sender, a certificate that does not verify) is retried, since the server or the
operator may put it right meanwhile. A message that some recipients took and others refused
counts as sent; the refused are named in the note.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

from metronome.notify.clock import Clock, system_clock
from metronome.notify.errors import SendFailed
from metronome.notify.message import Message
from metronome.notify.mime import build_email, recipients
from metronome.notify.redact import scrub


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    security: str  # none | starttls | tls
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 10.0
    ca_file: Path | None = None
    verify: bool = True

    def tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if not self.verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class EmailChannel:
    kind = "email"

    def __init__(
        self,
        name: str,
        server: SmtpServer,
        to: tuple[str, ...] = (),
        clock: Clock = system_clock,
    ) -> None:
        self.name = name
        self.server = server
        self.to = to
        self.clock = clock

    def describe(self) -> str:
        server = self.server
        to = ", ".join(self.to) if self.to else "the recipients each message names"
        return f"e-mail via {server.host}:{server.port} ({server.security}) to {to}"

    def send(self, message: Message, *, key: str, to: tuple[str, ...] = ()) -> str:
        to = to or self.to
        if not to:
            raise SendFailed(
                "no recipients: the channel has no 'to' and the message named none",
                permanent=True,
            )
        try:
            mail = build_email(
                message,
                sender=self.server.sender,
                to=to,
                key=key,
                channel=self.name,
                date=self.clock(),
            )
        except ValueError as error:  # a message that cannot be an e-mail
            raise SendFailed(f"not a valid e-mail: {error}", permanent=True) from None
        envelope_from = recipients((self.server.sender,))[0]
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail, envelope_from, recipients(to))
        except smtplib.SMTPRecipientsRefused as error:
            replies = "; ".join(
                f"{address}: {code} {_text(reply)}"
                for address, (code, reply) in error.recipients.items()
            )
            permanent = all(code >= 500 for code, _ in error.recipients.values())
            raise SendFailed(
                self._safe(f"every recipient was refused ({replies})"), permanent=permanent
            ) from None
        except smtplib.SMTPSenderRefused as error:  # the configured sender: the operator's fix
            reply = f"{error.smtp_code} {_text(error.smtp_error)}"
            raise SendFailed(self._safe(f"the server refused the sender: {reply}")) from None
        except smtplib.SMTPDataError as error:  # this message's content
            reply = f"{error.smtp_code} {_text(error.smtp_error)}"
            permanent = error.smtp_code >= 500
            raise SendFailed(
                self._safe(f"the server refused the message: {reply}"), permanent=permanent
            ) from None
        except smtplib.SMTPAuthenticationError as error:
            reply = f"{error.smtp_code} {_text(error.smtp_error)}"
            user = self.server.username
            raise SendFailed(
                self._safe(f"the server refused the login of {user!r}: {reply}")
            ) from None
        except smtplib.SMTPNotSupportedError as error:
            raise SendFailed(self._safe(f"{self._where()}: {error}")) from None
        except ssl.SSLCertVerificationError as error:
            raise SendFailed(
                self._safe(
                    f"{self._where()}: the server's certificate does not verify "
                    f"({error.verify_message}); set notify.smtp.ca_file to its CA"
                )
            ) from None
        except (smtplib.SMTPException, OSError) as error:
            raise SendFailed(self._safe(f"{self._where()}: {_describe(error)}")) from None
        note = "accepted"
        if refused:
            note += "; refused: " + ", ".join(
                f"{address} ({code} {_text(reply)})" for address, (code, reply) in refused.items()
            )
        return self._safe(note)

    def _connect(self) -> smtplib.SMTP:
        server = self.server
        if server.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                server.host, server.port, timeout=server.timeout, context=server.tls_context()
            )
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout)
        try:
            smtp.ehlo()
            if server.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (security: starttls); nothing was sent"
                    )
                smtp.starttls(context=server.tls_context())
                smtp.ehlo()
            if server.username and server.password:
                smtp.login(server.username, server.password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _where(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def _safe(self, text: str) -> str:
        return scrub(text, (self.server.password,))


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())[:300]


def _describe(error: BaseException) -> str:
    if isinstance(error, socket.timeout | TimeoutError):
        return "no answer in time (timeout)"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return f"the server closed the connection ({error})"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{error.smtp_code} {_text(error.smtp_error)}"
    if isinstance(error, ssl.SSLError):
        return f"TLS failed ({error.reason or error})"
    if isinstance(error, socket.gaierror):
        return f"the host name does not resolve ({error.strerror})"
    return f"{type(error).__name__}: {error}"
