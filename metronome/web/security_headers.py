"""Headers every answer carries, the Flask views' and the fast path's alike.

Metronome serves JSON, CSV, XLSX, a GIF and one script: none of them is a page that should run
or frame anything. ``nosniff`` keeps a browser from reading an answer as another type than the
one declared; the policy forbids any content, framing and form target if an answer is ever
opened as a document.
"""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; form-action 'none'"),
    ("Referrer-Policy", "no-referrer"),
)


def init_app(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS:
            response.headers.setdefault(name, value)
        return response
