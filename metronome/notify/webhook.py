"""The webhook channel: one HTTP POST per message (``requests``).

The answer decides: 2xx delivered; 408, 429, 5xx, no connection or no answer in time: retried
with backoff; any other status (a 4xx, a redirect): failed for good, recorded. Redirects are
not followed (a POST that is redirected is a URL to correct). At most ``ANSWER_BYTES`` of an
answer are read, for the note.

Each request carries ``X-Metronome-Message-Key`` (the outbox key: a receiver may drop a
repeat of a key it has seen) and, with a ``secret``, ``X-Metronome-Timestamp`` and
``X-Metronome-Signature`` (``metronome.notify.signing``). Notes and errors show the URL's
scheme, host and port only: the rest may be the hook's token.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import requests

from metronome.notify.clock import Clock, system_clock
from metronome.notify.errors import SendFailed
from metronome.notify.message import Message
from metronome.notify.payload import BodySpec, webhook_body
from metronome.notify.redact import hide_in_logs, scrub, shown_url
from metronome.notify.signing import signature_headers

ANSWER_BYTES = 64 * 1024
NOTE_CHARS = 200
RETRIED = frozenset({408, 429})
USER_AGENT = "Metronome-Notify/1"
KEY_HEADER = "X-Metronome-Message-Key"


@dataclass(frozen=True)
class Endpoint:
    url: str = field(repr=False)
    secret: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 10.0
    ca_file: Path | None = None
    verify: bool = True


class WebhookChannel:
    kind = "webhook"

    def __init__(
        self, name: str, endpoint: Endpoint, body: BodySpec, clock: Clock = system_clock
    ) -> None:
        self.name = name
        self.endpoint = endpoint
        self.body = body
        self.clock = clock
        hide_in_logs(endpoint.url, endpoint.secret, *endpoint.headers.values())

    def describe(self) -> str:
        kind = "template" if self.body.template is not None else self.body.format
        signed = ", signed" if self.endpoint.secret else ""
        return f"webhook ({kind}{signed}) to {shown_url(self.endpoint.url)}"

    def send(self, message: Message, *, key: str, to: tuple[str, ...] = ()) -> str:
        if to:
            raise SendFailed("'to' applies to e-mail channels only", permanent=True)
        endpoint = self.endpoint
        body = webhook_body(self.body, message, key=key, channel=self.name)
        headers = {
            "User-Agent": USER_AGENT,
            "Content-Type": body.content_type,
            KEY_HEADER: key,
            **endpoint.headers,
        }
        if endpoint.secret:
            timestamp = int(self.clock().timestamp())
            headers.update(signature_headers(endpoint.secret, timestamp, body.data))
        verify: bool | str = str(endpoint.ca_file) if endpoint.ca_file else endpoint.verify
        where = shown_url(endpoint.url)
        try:
            with requests.post(
                endpoint.url,
                data=body.data,
                headers=headers,
                timeout=(endpoint.timeout, endpoint.timeout),
                allow_redirects=False,
                verify=verify,
                stream=True,
            ) as answer:
                status = answer.status_code
                text = self._read(answer)
        except requests.exceptions.SSLError as error:
            raise SendFailed(f"{where}: TLS failed ({self._reason(error)}); set ca_file") from None
        except requests.exceptions.ConnectTimeout:
            raise SendFailed(f"{where}: no connection in time ({endpoint.timeout:g} s)") from None
        except requests.exceptions.Timeout:
            raise SendFailed(f"{where}: no answer in time ({endpoint.timeout:g} s)") from None
        except requests.exceptions.RequestException as error:
            raise SendFailed(f"{where}: {self._reason(error)}") from None
        note = f"{status} from {where}" + (f": {text}" if text else "")
        if 200 <= status < 300:
            return note
        if status >= 500 or status in RETRIED:
            raise SendFailed(note)
        if 300 <= status < 400:
            note += " (a redirect: set the url to where it points)"
        raise SendFailed(note, permanent=True)

    def _read(self, answer: requests.Response) -> str:
        """The start of the answer, as one line, within ``ANSWER_BYTES`` read."""
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in answer.iter_content(chunk_size=8192):
                chunks.append(chunk)
                size += len(chunk)
                if size >= ANSWER_BYTES:
                    break
        except requests.exceptions.RequestException:
            pass  # the status is what counts; the text is only a note
        text = b"".join(chunks)[:ANSWER_BYTES].decode("utf-8", "replace")
        text = " ".join(text.split())
        text = text if len(text) <= NOTE_CHARS else text[: NOTE_CHARS - 1] + "…"
        return self._scrub(text)

    def _reason(self, error: BaseException) -> str:
        """Why a request failed, without the URL requests puts in its messages."""
        seen: set[int] = set()
        stack: list[object] = [error]
        while stack:
            item = stack.pop()
            if id(item) in seen:
                continue
            seen.add(id(item))
            if isinstance(item, ssl.SSLCertVerificationError):
                return f"the certificate does not verify: {item.verify_message}"
            if isinstance(item, OSError) and item.strerror:
                return self._scrub(str(item.strerror))
            if isinstance(item, BaseException):
                stack.extend([*item.args, item.__cause__, item.__context__])
                stack.append(getattr(item, "reason", None))
        if isinstance(error, requests.exceptions.ConnectionError):
            return "the connection failed"
        return type(error).__name__

    def _scrub(self, text: str) -> str:
        endpoint = self.endpoint
        return scrub(text, (endpoint.secret, endpoint.url, *endpoint.headers.values()))
