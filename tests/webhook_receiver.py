"""A local webhook receiver for the tests: records every request, answers 200 (or what it is
told), and checks the HMAC signature when it knows the secret.

    with webhook_receiver(secret="...") as hook:
        hook.fail_next(2)                      # the next two requests get 500
        hook.answer = 404                      # every later one 404
        ...                                    # POST to hook.url
        hook.requests[0].json(), hook.requests[0].signature_ok

The signature is checked the way docs/notifications.md tells a receiver to: HMAC-SHA256 of
``<X-Metronome-Timestamp>.<body>`` with the secret, compared with ``X-Metronome-Signature``
(``sha256=<hex>``); the timestamp's age is checked against ``now`` (the tests' clock) when given.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]  # names in lower case
    body: bytes
    status: int  # what the receiver answered
    signature_ok: bool | None  # None: no secret to check with

    def json(self) -> Any:
        return json.loads(self.body)


class WebhookReceiver:
    def __init__(
        self, secret: str | None, now: Callable[[], float], tolerance: float = 300
    ) -> None:
        self.secret = secret
        self.now = now
        self.tolerance = tolerance
        self.answer = 200
        self.answer_body = b'{"ok": true}'
        self.delay = 0.0  # seconds before answering
        self.cut_answers = 0  # answers the client closed the connection on before the end
        self.requests: list[Request] = []
        self._failures: list[int] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hooks/secret-token?key=query-s3cret"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer ``status`` to the next ``count`` requests."""
        with self._lock:
            self._failures.extend([status] * count)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Request]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count:
            assert time.monotonic() < deadline, f"{len(self.requests)} of {count} requests came"
            time.sleep(0.02)
        return list(self.requests)

    def check(self, headers: dict[str, str], body: bytes) -> bool | None:
        if self.secret is None:
            return None
        timestamp = headers.get("x-metronome-timestamp", "")
        given = headers.get("x-metronome-signature", "")
        if not timestamp.isdigit() or abs(self.now() - int(timestamp)) > self.tolerance:
            return False
        signed = timestamp.encode() + b"." + body
        expected = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
        return hmac.compare_digest(f"sha256={expected}", given)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length", "0"))
        body = handler.rfile.read(length)
        headers = {name.lower(): value for name, value in handler.headers.items()}
        with self._lock:
            status = self._failures.pop(0) if self._failures else self.answer
            self.requests.append(
                Request(
                    handler.command, handler.path, headers, body, status, self.check(headers, body)
                )
            )
        if self.delay:
            time.sleep(self.delay)
        answer = self.answer_body if 200 <= status < 300 else b'{"error": "told to fail"}'
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(answer)))
        handler.end_headers()
        try:
            handler.wfile.write(answer)
        except (BrokenPipeError, ConnectionResetError):  # the client stopped reading first
            with self._lock:
                self.cut_answers += 1


@contextlib.contextmanager
def webhook_receiver(
    secret: str | None = None, now: Callable[[], float] = time.time
) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(secret, now)
    receiver._thread.start()
    try:
        yield receiver
    finally:
        receiver._server.shutdown()
        receiver._server.server_close()
