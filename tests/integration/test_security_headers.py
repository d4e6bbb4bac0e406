"""Every answer says nosniff and forbids being run or framed as a page."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.conftest import flask_calls


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/tick", {"id": "a"}),  # the fast path answers it
        ("POST", "/tick", {"event": "no id"}),  # the view refuses it
        ("GET", "/tock/a", None),
        ("GET", "/no/such/page", None),
        ("GET", "/healthz", None),
    ],
)
def test_every_answer_carries_the_security_headers(
    client: FlaskClient, method: str, path: str, body: object
) -> None:
    answer = client.open(path, method=method, json=body)
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_the_fast_path_answer_carries_them_too(client: FlaskClient) -> None:
    reached_flask = flask_calls(client)
    answer = client.post("/tick", json={"id": "a"})
    assert answer.status_code == 202 and reached_flask == []
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
