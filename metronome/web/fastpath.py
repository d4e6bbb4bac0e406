"""The hottest ingest routes without Flask's request machinery, for the requests that succeed.

``POST /tick`` and ``POST /user_tags`` arrive by the thousand per second, and nearly every one
is the same small success. Flask's request context, routing, ``Response`` object and hooks were
about a sixth of the web workers' Python time for them (py-spy under ``bench/allezon.py``).

A *fast handler* gets the WSGI environ and the body and returns the finished answer, or
``None``: then the request goes to the Flask view unchanged, body included. A handler and its
view are two thin adapters over the endpoint's one core (``metronome.hits.ingest``,
``metronome.compat.allezon.ingest``), which accepts or refuses the request: the handler
answers what was accepted and declines every refusal, so every error is answered through
Flask, by the view raising the core's ``ApiError``, and reads exactly the same.

A handler declines only when nothing was changed (a refusal appends nothing to the spool).
What the core made of the request it leaves in the environ (``remember``) for the view
(``decoded_once``), which answers it without deciding, or parsing the body, again: a body is
parsed once, whoever answers it.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from werkzeug.http import HTTP_STATUS_CODES

from metronome.web.security_headers import SECURITY_HEADERS

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


@dataclass(frozen=True)
class FastAnswer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def status_line(self) -> str:
        """As werkzeug writes it: ``204 NO CONTENT``."""
        return _STATUS_LINES.get(self.status) or _status_line(self.status)

    def send(self, start_response: StartResponse) -> list[bytes]:
        """Start the WSGI response with every answer's security headers; the body to return."""
        headers = [*self.headers, *SECURITY_HEADERS, ("Content-Length", str(len(self.body)))]
        if self.status == 204:
            headers.pop()  # a 204 has no body and, as werkzeug sends it, no length
        start_response(self.status_line, headers)
        return [self.body]


def json_answer(status: int, value: Any, headers: Iterable[tuple[str, str]] = ()) -> FastAnswer:
    """A JSON answer in the bytes Flask's ``jsonify`` gives (compact, ASCII, final newline)."""
    body = json_text(value).encode()
    return FastAnswer(status, [("Content-Type", "application/json"), *headers], body)


def json_text(value: Any) -> str:
    """``jsonify``'s text for half its CPU (it builds a new encoder on every call)."""
    return _JSON.encode(value) + "\n"


Handler = Callable[["WSGIEnvironment", bytes], FastAnswer | None]
_JSON = json.JSONEncoder(separators=(",", ":"))
DECODED = "metronome.decoded_body"  # the environ key of what a fast handler decoded
T = TypeVar("T")
R = TypeVar("R")


def remember(environ: WSGIEnvironment, decoded: object) -> None:
    """Leave what the handler made of the request (its refusal; or an ``ApiError``, raised
    by the view) for the view."""
    environ[DECODED] = decoded


def decoded_once(environ: WSGIEnvironment, kind: type[T], decode: Callable[[], R]) -> T | R:
    """What the fast handler left of the ``kind`` for this request (raising it if it is an
    error), else ``decode()``: the view of a declined request does not parse the body, nor
    decide the request, a second time."""
    found = environ.pop(DECODED, None)
    if isinstance(found, Exception):
        raise found
    if isinstance(found, kind):
        return found
    return decode()


def _status_line(status: int) -> str:
    return f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN').upper()}"


_STATUS_LINES = {status: _status_line(status) for status in (200, 202, 204)}


class FastPath:
    """WSGI middleware around ``app.wsgi_app``: ``(method, path)`` -> a fast handler."""

    def __init__(
        self, app: WSGIApplication, routes: dict[tuple[str, str], Handler], max_body: int
    ) -> None:
        self.app = app
        self.routes = routes
        self.max_body = max_body

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        handler = self.routes.get((environ.get("REQUEST_METHOD", ""), environ.get("PATH_INFO", "")))
        if handler is None:
            return self.app(environ, start_response)
        body = self._read_body(environ)
        if body is None:
            return self.app(environ, start_response)
        answer = handler(environ, body)
        if answer is None:
            return self.app(environ, start_response)
        return answer.send(start_response)

    def _read_body(self, environ: WSGIEnvironment) -> bytes | None:
        """The whole body when its length is declared and within the limit, else ``None``
        (Flask reads it, or refuses it, as always). The body read is put back for Flask."""
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= self.max_body or environ.get("HTTP_TRANSFER_ENCODING"):
            return None
        body: bytes = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(body)
        return body if len(body) == length else None
