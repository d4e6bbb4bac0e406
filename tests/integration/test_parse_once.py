"""A body is parsed once: by the core of its endpoint, whichever adapter runs it; a request
the fast path declines is answered by the view without being parsed, or decided, again."""

from __future__ import annotations

import gzip
from typing import Any

import pytest
from flask.testing import FlaskClient

from metronome.compat.allezon import ingest as tag_core
from metronome.hits import bodies
from metronome.hits import ingest as hit_core
from tests.conftest import error_of, flask_calls


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The content types of every body ``decode_body`` parses, from either core."""
    calls: list[str] = []
    real = bodies.decode_body

    def counting(content_type: str | None, *args: Any) -> Any:
        calls.append(str(content_type))
        return real(content_type, *args)

    monkeypatch.setattr(hit_core, "decode_body", counting)
    monkeypatch.setattr(tag_core, "decode_body", counting)
    return calls


def test_a_batch_with_a_refused_hit_is_parsed_once(client: FlaskClient, decodes: list[str]) -> None:
    reached_flask = flask_calls(client)
    answer = client.post("/tick", json=[{"id": "ok"}, {"event": "no id"}])
    assert answer.status_code == 202
    assert answer.get_json()["accepted"] == 1
    assert reached_flask == []  # accepted, in part: the fast path answered
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


def test_a_refused_hit_is_decided_once_and_answered_by_the_view(
    client: FlaskClient, decodes: list[str]
) -> None:
    reached_flask = flask_calls(client)
    answer = client.post("/tick", json={"id": "a", "time": 1445900})
    assert answer.status_code == 400
    assert error_of(answer)["code"] == "ambiguous_time"
    assert reached_flask == ["/tick"]  # the fast path declined: the view raised its refusal
    assert decodes == ["application/json"]
