"""A body the fast path declines is answered by the view without being parsed again."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from flask.testing import FlaskClient

from metronome.hits import bodies
from metronome.web.views import allezon as allezon_views
from metronome.web.views import hits as hit_views
from tests.conftest import error_of, flask_calls


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The content types of every body ``decode_body`` parses, from either adapter."""
    calls: list[str] = []
    real = bodies.decode_body

    def counting(content_type: str | None, *args: Any) -> Any:
        calls.append(str(content_type))
        return real(content_type, *args)

    monkeypatch.setattr(hit_views, "decode_body", counting)
    monkeypatch.setattr(allezon_views, "decode_body", counting)
    return calls


def test_a_batch_with_a_refused_hit_is_parsed_once(client: FlaskClient, decodes: list[str]) -> None:
    reached_flask = flask_calls(client)
    answer = client.post("/tick", json=[{"id": "ok"}, {"event": "no id"}])
    assert answer.status_code == 202
    assert answer.get_json()["accepted"] == 1
    assert reached_flask == ["/tick"]  # the fast path declined: the view answered
    assert decodes == ["application/json"]


def test_a_refused_body_is_parsed_once_and_answered_by_the_view(
    client: FlaskClient, decodes: list[str]
) -> None:
    bomb = gzip.compress(b"[" + b"{}," * 300_000 + b"{}]")  # under the 1 MiB floor
    answer = client.post(
        "/tick",
        data=bomb,
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
    )
    assert answer.status_code == 413
    assert error_of(answer)["code"] == "too_many_values"
    assert len(decodes) == 1
