"""A real SMTP server for the tests (aiosmtpd), on 127.0.0.1.

    with smtp_server(security="starttls", auth=("metronome", "pa55word")) as smtp:
        ...                                    # send to 127.0.0.1:smtp.port, trusting smtp.ca_file
        smtp.messages                          # list[email.message.EmailMessage], as received
        smtp.stop(); smtp.start()              # down and up again on the same port

``security``: ``none``, ``starttls`` (offered, and required before MAIL) or ``tls`` (TLS from
the first byte), with a certificate for 127.0.0.1 and localhost signed by a CA of the test's
own (``ca_file``, from tests/pki.py). ``auth``: a user and password the server requires
(AUTH PLAIN and LOGIN). ``refuse``: recipients the server answers with a reply of one's own
(``{"gone@example.org": "550 5.1.1 no such user"}``).
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import shutil
import ssl
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from cryptography.x509.oid import ExtendedKeyUsageOID

from tests.conftest import free_port
from tests.pki import certificate, name, new_key, write_pem

Security = Literal["none", "starttls", "tls"]


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    login: str | None  # who authenticated, if anyone
    tls: bool  # whether the session was encrypted

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        reply = self.server.refuse.get(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 - the name aiosmtpd calls
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        content = envelope.original_content or b""
        login = session.auth_data
        received = Received(
            mail_from=str(envelope.mail_from),
            rcpt_tos=tuple(envelope.rcpt_tos),
            data=bytes(content),
            login=login.decode() if isinstance(login, bytes) else login,
            tls=session.ssl is not None or _encrypted(server),
        )
        with self.server.lock:
            self.server.received.append(received)
        return "250 2.0.0 accepted"


def _encrypted(server: SMTP) -> bool:
    transport = server.transport
    return transport is not None and transport.get_extra_info("ssl_object") is not None


class SmtpServer:
    def __init__(
        self,
        port: int | None,
        security: Security,
        auth: tuple[str, str] | None,
        refuse: Mapping[str, str],
        directory: Path,
    ) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.security = security
        self.auth = auth
        self.refuse = dict(refuse)
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.ca_file = self._certificates(directory)
        self._server_cert = directory / "server.pem"
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [received.message for received in self.received]

    @property
    def running(self) -> bool:
        return self._controller is not None

    def start(self) -> None:
        assert self._controller is None, "already running"
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._server_cert, self._server_cert.with_suffix(".key"))
        options: dict[str, Any] = {
            "decode_data": False,
            "auth_required": self.auth is not None,
            # implicit TLS counts as TLS to the client; aiosmtpd knows only of STARTTLS
            "auth_require_tls": self.security == "starttls",
            "authenticator": self._authenticate,
        }
        if self.security == "starttls":
            options |= {"tls_context": context, "require_starttls": True}
        controller = Controller(
            _Handler(self),
            hostname=self.host,
            port=self.port,
            ssl_context=context if self.security == "tls" else None,
            server_hostname="localhost",
            **options,
        )
        controller.start()
        self._controller = controller

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def wait_for(self, count: int, timeout: float = 10.0) -> list[EmailMessage]:
        """The messages once at least ``count`` arrived (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            assert time.monotonic() < deadline, f"{len(self.received)} of {count} messages came"
            time.sleep(0.02)
        return self.messages

    def _authenticate(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        mechanism: str,
        auth_data: Any,
    ) -> AuthResult:
        if self.auth is None or not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user, password = self.auth
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

    @staticmethod
    def _certificates(directory: Path) -> Path:
        ca_key, server_key = new_key(), new_key()
        ca = certificate("Metronome test SMTP CA", ca_key, ca=True)
        server = certificate(
            "localhost",
            server_key,
            (name("Metronome test SMTP CA"), ca_key),
            usage=ExtendedKeyUsageOID.SERVER_AUTH,
        )
        write_pem(directory / "server.pem", server, server_key)
        return write_pem(directory / "ca.pem", ca)


@contextlib.contextmanager
def smtp_server(
    port: int | None = None,
    security: Security = "none",
    *,
    auth: tuple[str, str] | None = None,
    refuse: Mapping[str, str] | None = None,
) -> Iterator[SmtpServer]:
    directory = Path(tempfile.mkdtemp(prefix="smtp-"))
    server = SmtpServer(port, security, auth, refuse or {}, directory)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
