"""One core per write endpoint (``metronome.hits.ingest``, ``metronome.compat.allezon.ingest``)
and its two thin adapters: a refusal is written once, in the core.

For every refusal case of a core: the core refuses it; the fast handler declines it (and leaves
the core's refusal for the view); and the app, through Flask, answers exactly the core's
error, with nothing stored. An accepted outcome is answered by the fast path with the bytes
and headers the view gives it.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch
from flask import Flask
from werkzeug.test import Client, EnvironBuilder

from metronome.compat.allezon.ingest import ingest_user_tag
from metronome.hits.ingest import Accepted, Refused, ingest_tick
from metronome.spool.writer import spool_bytes
from metronome.web.app import create_app
from metronome.web.fastpath import DECODED, FastPath
from metronome.web.ingest import ingest_request
from metronome.web.services import EXTENSION_KEY, Services
from metronome.web.views.allezon import fast_user_tags
from metronome.web.views.hits import fast_tick
from tests.conftest import WRITE_KEY, flask_calls, make_settings
from tests.unit.test_allezon import TAG, changed

JSON = "application/json"
NDJSON = "application/x-ndjson"
FORM = "application/x-www-form-urlencoded"
SITES = {
    "default": {"write_auth": "none"},
    "shop": {"write_auth": "key", "write_keys": [WRITE_KEY]},
    "closed": {"write_auth": "none", "allowed_origins": ["https://closed.example"]},
    "allezon": {"write_auth": "none"},
}
KEYED_ALLEZON = {**SITES, "allezon": {"write_auth": "key", "write_keys": [WRITE_KEY]}}
SMALL_SPOOL = 65_536


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    code: str  # the refusal's error code
    content_type: str | None = JSON
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    app: str = "plain"  # plain | keyed (the Allezon site needs a key) | small (64 KiB spool)

    def environ(self, path: str) -> dict[str, Any]:
        headers = dict(self.headers)
        if self.content_type is not None:
            headers["Content-Type"] = self.content_type
        builder = EnvironBuilder(
            path=path,
            method="POST",
            data=self.body,
            headers=list(headers.items()),
            query_string=self.query,
        )
        environ: dict[str, Any] = builder.get_environ()
        if self.content_type is None:
            environ.pop("CONTENT_TYPE", None)
        return environ

    def __str__(self) -> str:
        return self.name


def hits(count: int, **extra: Any) -> bytes:
    return json.dumps([{"id": f"h{n}", **extra} for n in range(count)]).encode()


TICK_REFUSALS = [
    Case("media type", b'{"id": "a"}', "unsupported_media_type", "image/png"),
    Case("charset", b'{"id": "a"}', "unsupported_charset", "application/json; charset=latin-1"),
    Case("encoding", b'{"id": "a"}', "unsupported_encoding", headers={"Content-Encoding": "br"}),
    Case("gzip", b"not gzip", "invalid_gzip", headers={"Content-Encoding": "gzip"}),
    Case(
        "bomb",
        gzip.compress(b" " * 3_000_000),
        "decompressed_too_large",
        headers={"Content-Encoding": "gzip"},
    ),
    Case("empty", b"  \n", "empty_body"),
    Case("utf-8", b'{"id": "\xff"}', "invalid_encoding"),
    Case("json", b'{"id": ', "malformed_json"),
    Case("values", b"[" + b"{}," * 160_000 + b"{}]", "too_many_values"),
    Case("form pairs", b"&" * 10_001, "too_many_values", FORM),
    Case("lines", b'{"id": "a"}\n' * 501, "batch_too_large", NDJSON),
    Case("batch", hits(501), "batch_too_large"),
    Case("empty batch", b"[]", "empty_batch"),
    Case("no id", b'{"event": "view"}', "invalid_hit"),
    Case("epoch", b'{"id": "a", "time": 42}', "ambiguous_time"),
    Case("no hit of a batch", b'[{"event": "x"}, 1, {"id": "a", "time": 42}]', "no_hit_accepted"),
    Case("no key", b'{"id": "a"}', "missing_key", query="site=shop"),
    Case("wrong key", b'{"id": "a"}', "invalid_key", query="site=shop&key=pk_wrong"),
    Case("origin", b'{"id": "a", "site": "closed"}', "forbidden_origin", headers={"Origin": "https://evil.example"}),
    Case("site", b'{"id": "a"}', "unknown_site", query="site=nowhere"),
    Case("duplicate", b"id=a&id=b", "duplicate_parameter", FORM),
    Case("conflict", b"id=a&p=1&p.q=2", "conflicting_parameter", FORM),
    Case("spool size", hits(500, pad="p" * 200), "larger_than_spool", app="small"),
    Case("spool full", hits(1), "spool_full", app="full"),
]  # fmt: skip
TAG_BODY = json.dumps(TAG).encode()
TAG_REFUSALS = [
    Case("no key", TAG_BODY, "missing_key", app="keyed"),
    Case("media type", TAG_BODY, "unsupported_media_type", "image/png"),
    Case("form", b"time=x", "unsupported_media_type", FORM),
    Case("no type", TAG_BODY, "unsupported_media_type", None),
    Case("encoding", TAG_BODY, "unsupported_encoding", headers={"Content-Encoding": "br"}),
    Case("json", b"{not json", "malformed_json"),
    Case("empty", b" ", "empty_body"),
    Case("values", b"[" + b"1," * 1_000 + b"1]", "too_many_values"),
    Case("batch", json.dumps([TAG]).encode(), "invalid_user_tag"),
    Case("tag", json.dumps(changed("device", "FRIDGE")).encode(), "invalid_user_tag"),
    Case("epoch", json.dumps(changed("time", 1647951300)).encode(), "invalid_user_tag"),
    Case("spool full", TAG_BODY, "spool_full", app="full"),
]

Core = Callable[..., Any]
ENDPOINTS: dict[str, tuple[Core, Callable[[Services], Any]]] = {
    "/tick": (ingest_tick, fast_tick),
    "/user_tags": (ingest_user_tag, fast_user_tags),
}


MakeApp = Callable[[str], tuple[Flask, list[str]]]


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[[str], tuple[Flask, list[str]]]:
    """An app of the kind, and the paths of the requests that reach Flask from now on."""

    def make(kind: str) -> tuple[Flask, list[str]]:
        spool: dict[str, Any] = {"dir": str(tmp_path / "spool")}
        if kind in ("small", "full"):
            spool["max_bytes"] = SMALL_SPOOL
        settings = make_settings(
            "http://127.0.0.1:9",
            "unit",
            tmp_path / "spool",
            sites=KEYED_ALLEZON if kind == "keyed" else SITES,
            allezon={"enabled": True},
            spool=spool,
        )
        app = create_app(settings, es=Elasticsearch("http://127.0.0.1:9"))
        client = app.test_client()
        calls = flask_calls(client)
        if kind == "full":  # filled until not even a tag fits
            for body in (hits(20, pad="p" * 100), hits(1), TAG_BODY):
                path = "/user_tags" if body is TAG_BODY else "/tick"
                while client.post(path, data=body, content_type=JSON).status_code != 503:
                    pass
        calls.clear()
        return app, calls

    return make


@pytest.mark.parametrize(
    ("path", "case"),
    [
        *(("/tick", case) for case in TICK_REFUSALS),
        *(("/user_tags", case) for case in TAG_REFUSALS),
    ],
    ids=str,
)
def test_a_refusal_is_the_cores_the_fast_path_declines_it_and_the_view_answers_it(
    make_app: MakeApp, tmp_path: Path, path: str, case: Case
) -> None:
    app, calls = make_app(case.app)
    services = app.extensions[EXTENSION_KEY]
    core, fast = ENDPOINTS[path]
    stored = spool_bytes(tmp_path / "spool")

    environ = case.environ(path)
    refused = core(services, ingest_request(environ, lambda: case.body))
    assert isinstance(refused, Refused)
    error = refused.error
    assert error.code == case.code

    environ = case.environ(path)
    assert fast(services)(environ, case.body) is None  # declined...
    left = environ[DECODED]  # ...leaving the core's refusal for the view
    assert isinstance(left, Refused)
    assert (left.error.status, left.error.body()) == (error.status, error.body())

    answer = Client(app).open(case.environ(path))  # through the fast path, then Flask
    assert calls == [path]  # the view answered
    assert (answer.status_code, answer.get_json()) == (error.status, error.body())
    for name, value in error.headers.items():
        assert answer.headers[name] == value
    assert spool_bytes(tmp_path / "spool") == stored  # nothing was stored


def test_every_refusal_case_reaches_the_app_through_the_fast_path(make_app: MakeApp) -> None:
    """The cases above are ones the fast path sees (a declared length within the limit), so
    they show its declining; the app's own limit is the one thing before it."""
    app, _ = make_app("plain")
    fast_path = app.wsgi_app.app  # type: ignore[attr-defined]  # behind the rate limits
    assert isinstance(fast_path, FastPath)
    for case in [*TICK_REFUSALS, *TAG_REFUSALS]:
        assert 0 < len(case.body) <= fast_path.max_body, case.name


GZIP = {"Content-Encoding": "gzip"}
CLOSED = {"Origin": "https://closed.example"}
ACCEPTED: list[tuple[str, Case]] = [
    ("/tick", Case("one hit", b'{"id": "a"}', "")),
    ("/tick", Case("a batch with a refused hit", b'[{"id": "a"}, {"id": "b", "time": 42}]', "")),
    ("/tick", Case("a beacon", b'{"id": "a", "site": "closed"}', "", "text/plain", headers=CLOSED)),
    ("/tick", Case("gzip", gzip.compress(b'{"id": "a"}'), "", headers=GZIP)),
    ("/user_tags", Case("a tag", TAG_BODY, "")),
    ("/user_tags", Case("a gzip tag", gzip.compress(TAG_BODY), "", headers=GZIP)),
]


@pytest.mark.parametrize(("path", "case"), ACCEPTED, ids=str)
def test_an_accepted_request_is_answered_by_the_fast_path_as_the_view_answers_it(
    make_app: MakeApp, path: str, case: Case
) -> None:
    app, calls = make_app("plain")
    core, _ = ENDPOINTS[path]
    outcome = core(
        app.extensions[EXTENSION_KEY], ingest_request(case.environ(path), lambda: case.body)
    )
    assert isinstance(outcome, Accepted)
    fast = Client(app).open(case.environ(path))
    assert calls == []
    view = Client(app.wsgi_app.app.app).open(case.environ(path))  # type: ignore[attr-defined]
    assert calls == [path]
    assert (fast.status, fast.data) == (view.status, view.data)
    assert sorted(fast.headers.items()) == sorted(view.headers.items())
    if path == "/tick":
        assert fast.get_json() == outcome.answer
